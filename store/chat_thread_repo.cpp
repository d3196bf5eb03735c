#include "store/chat_thread_repo.hpp"

#include <SQLiteCpp/VariadicBind.h>

namespace relance::store {

std::optional<std::string> ChatThreadRepo::root(std::string_view network, std::string_view destination,
                                                std::int64_t case_id) {
  SQLite::Statement q(db_.sql(),
                      "SELECT root_remote_id FROM chat_thread WHERE network = ? AND destination = ? AND case_id = ?");
  SQLite::bind(q, std::string(network), std::string(destination), case_id);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

bool ChatThreadRepo::record(const ChatThread& t) {
  SQLite::Statement q(db_.sql(),
                      "INSERT OR IGNORE INTO chat_thread (network, destination, case_id, root_remote_id, root_outbox_id, "
                      "created_at) VALUES (?,?,?,?,?,?)");
  SQLite::bind(q, t.network, t.destination, t.case_id, t.root_remote_id, t.root_outbox_id, to_unix(t.created_at));
  return q.exec() > 0;
}

std::optional<std::int64_t> ChatThreadRepo::case_of(std::string_view network, std::string_view remote_id) {
  SQLite::Statement q(db_.sql(), "SELECT case_id FROM chat_thread WHERE network = ? AND root_remote_id = ?");
  SQLite::bind(q, std::string(network), std::string(remote_id));
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

std::vector<ChatThread> ChatThreadRepo::for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(),
                      "SELECT network, destination, case_id, root_remote_id, root_outbox_id, created_at FROM chat_thread "
                      "WHERE case_id = ? ORDER BY created_at, network, destination");
  q.bind(1, case_id);
  std::vector<ChatThread> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64(),
                   q.getColumn(3).getString(), q.getColumn(4).getInt64(), from_unix(q.getColumn(5).getInt64())});
  return out;
}

}  // namespace relance::store
