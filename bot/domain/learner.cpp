#include "bot/domain/learner.hpp"
