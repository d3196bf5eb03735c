// Row helpers the repositories' sources share (not for use outside store/):
// nullable columns and bindings, and the cases of a period.
#pragma once

#include "bot/domain/time.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <optional>

namespace relance::store {

inline std::optional<std::int64_t> opt_int(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}
inline std::optional<Timestamp> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return from_unix(c.getInt64());
}
inline void bind_opt(SQLite::Statement& st, int i, const std::optional<Timestamp>& t) {
  if (t) st.bind(i, to_unix(*t));
  else st.bind(i);
}
inline void bind_opt(SQLite::Statement& st, int i, const std::optional<std::int64_t>& v) {
  if (v) st.bind(i, *v);
  else st.bind(i);
}

// Cases active during [from, to): opened before its end, not closed before
// its start. Bound as :from and :to.
inline constexpr const char* period_case_ids =
    "SELECT id FROM learner_case WHERE opened_at < :to AND (closed_at IS NULL OR closed_at >= :from)";

}  // namespace relance::store
