#include "bot/app/phone.hpp"
