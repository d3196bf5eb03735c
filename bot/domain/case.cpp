#include "bot/domain/case.hpp"
