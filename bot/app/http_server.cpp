#include "bot/app/http_server.hpp"
