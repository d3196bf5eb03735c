// Fuzz target: the TOML configuration. Whatever an administrator writes is
// either a configuration or a ConfigError with a position — nothing else.
#include "bot/app/config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)relance::app::parse_config(text, "fuzz.toml");
  } catch (const relance::app::ConfigError& e) {
    if (e.line() < 0 || e.column() < 0 || e.reason().empty()) std::abort();
  }
  return 0;
}
