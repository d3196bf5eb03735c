// Fuzz target: the staff command language. Staff type anything into a chat;
// the parser must answer every line with a command or a precise error.
#include "bot/domain/command.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const relance::ParsedCommand parsed = relance::parse_command(line);
  if (const auto* e = std::get_if<relance::CommandError>(&parsed)) {
    // Every error names a usage line and a reason: never silence.
    if (e->usage_key.rfind("usage.", 0) != 0 || e->reason_key.rfind("error.", 0) != 0) std::abort();
  }
  // Folding is idempotent and never grows past twice the input (œ -> oe).
  const std::string once = relance::fold(line);
  if (relance::fold(once) != once || once.size() > 2 * line.size()) std::abort();
  if (auto toks = relance::tokenize(line))
    for (const auto& t : *toks)
      if (t.size() > line.size()) std::abort();
  return 0;
}
