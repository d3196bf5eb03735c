#include "bot/app/zone.hpp"
