#include "bot/domain/time.hpp"
