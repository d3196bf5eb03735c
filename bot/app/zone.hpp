// ZoneRules on HowardHinnant date/tz (Debian reads /usr/share/zoneinfo).
#pragma once

#include "bot/domain/time.hpp"

#include <memory>
#include <string_view>

namespace relance::app {

// Throws std::runtime_error for an unknown zone name.
std::unique_ptr<ZoneRules> make_zone(std::string_view name);

}  // namespace relance::app
