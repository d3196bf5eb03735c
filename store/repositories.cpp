#include "store/repositories.hpp"
