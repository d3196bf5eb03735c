#include "bot/app/engine.hpp"
