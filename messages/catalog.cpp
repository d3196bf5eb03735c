#include "messages/catalog.hpp"
