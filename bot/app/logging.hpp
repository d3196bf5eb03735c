// Logging through spdlog: human text by default, JSON lines on request.
#pragma once

#include <string_view>

namespace relance::app {

enum class LogFormat { text, json };

// Logs go to stderr. `level`: trace, debug, info, warn, error, off.
// Throws std::invalid_argument for an unknown level.
void setup_logging(LogFormat format, std::string_view level);

}  // namespace relance::app
