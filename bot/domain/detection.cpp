#include "bot/domain/detection.hpp"
