// What the Engine's rooms share (bot/app/engine*.cpp, ingest.cpp,
// detection_pass.cpp, timers.cpp, staff_commands.cpp, render.cpp); not for
// callers of the Engine.
#pragma once

#include "store/database.hpp"

#include <optional>

namespace relance::app::detail {

// A transaction, unless the caller already holds one (a dry run holds the
// outer one and rolls it back).
inline std::optional<store::WriteTransaction> begin_unless(bool skip, store::Database& db) {
  if (skip) return std::nullopt;
  return std::optional<store::WriteTransaction>(std::in_place, db);
}

}  // namespace relance::app::detail
