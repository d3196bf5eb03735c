#include "store/kv.hpp"

#include <SQLiteCpp/VariadicBind.h>

namespace relance::store {

std::optional<std::string> kv_get(Database& db, std::string_view key) {
  SQLite::Statement q(db.sql(), "SELECT value FROM kv WHERE key = ?");
  q.bind(1, std::string(key));
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

void kv_set(Database& db, std::string_view key, std::string_view value) {
  SQLite::Statement q(db.sql(), "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  SQLite::bind(q, std::string(key), std::string(value));
  q.exec();
}

}  // namespace relance::store
