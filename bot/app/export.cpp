#include "bot/app/export.hpp"
