#include "bot/app/import.hpp"
