#include "bot/domain/stats.hpp"
