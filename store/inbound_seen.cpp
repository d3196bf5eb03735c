#include "store/inbound_seen.hpp"

#include <SQLiteCpp/VariadicBind.h>

#include <string>

namespace relance::store {

bool first_seen(Database& db, std::string_view source, std::string_view ext_id, Timestamp now) {
  SQLite::Statement q(db.sql(), "INSERT INTO inbound_seen (source, ext_id, at) VALUES (?,?,?) ON CONFLICT DO NOTHING");
  SQLite::bind(q, std::string(source), std::string(ext_id), to_unix(now));
  return q.exec() > 0;
}

}  // namespace relance::store
