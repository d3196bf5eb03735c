#include "bot/domain/policy.hpp"
