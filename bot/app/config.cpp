#include "bot/app/config.hpp"
