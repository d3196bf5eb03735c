#include "store/consent_repo.hpp"

#include <SQLiteCpp/VariadicBind.h>

namespace relance::store {

std::int64_t ConsentRepo::append(const ConsentEntry& e) {
  SQLite::Statement q(db_.sql(), "INSERT INTO consent_log (at, learner_key, channel, action, via, message) VALUES (?,?,?,?,?,?)");
  SQLite::bind(q, to_unix(e.at), e.learner_key, e.channel, e.action, e.via, e.message);
  q.exec();
  return db_.sql().getLastInsertRowid();
}

std::vector<ConsentEntry> ConsentRepo::for_learner(std::int64_t learner_key) {
  SQLite::Statement q(db_.sql(),
                      "SELECT id, at, learner_key, channel, action, via, message FROM consent_log WHERE learner_key = ? ORDER BY at, id");
  q.bind(1, learner_key);
  std::vector<ConsentEntry> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getInt64(), from_unix(q.getColumn(1).getInt64()), q.getColumn(2).getInt64(),
                   q.getColumn(3).getString(), q.getColumn(4).getString(), q.getColumn(5).getString(),
                   q.getColumn(6).getString()});
  return out;
}

}  // namespace relance::store
