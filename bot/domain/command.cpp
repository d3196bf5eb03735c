#include "bot/domain/command.hpp"
