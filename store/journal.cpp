#include "store/journal.hpp"

#include "store/rows.hpp"

#include <SQLiteCpp/VariadicBind.h>

namespace relance::store {

std::int64_t Journal::append(const JournalEntry& e) {
  if (!append_)
    append_ = std::make_shared<SQLite::Statement>(
        db_.sql(), "INSERT INTO journal (at, actor, action, learner_key, case_id, detail) VALUES (?,?,?,?,?,?)");
  auto& q = *append_;
  q.tryReset();
  q.clearBindings();
  SQLite::bind(q, to_unix(e.at), e.actor, e.action);
  bind_opt(q, 4, e.learner_key);
  bind_opt(q, 5, e.case_id);
  q.bind(6, e.detail);
  q.exec();
  q.tryReset();
  return db_.sql().getLastInsertRowid();
}

namespace {

std::vector<JournalEntry> read_journal(SQLite::Statement& q) {
  std::vector<JournalEntry> out;
  while (q.executeStep()) {
    JournalEntry e;
    e.id = q.getColumn(0).getInt64();
    e.at = from_unix(q.getColumn(1).getInt64());
    e.actor = q.getColumn(2).getString();
    e.action = q.getColumn(3).getString();
    e.learner_key = opt_int(q.getColumn(4));
    e.case_id = opt_int(q.getColumn(5));
    e.detail = q.getColumn(6).getString();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::vector<JournalEntry> Journal::for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(), "SELECT id, at, actor, action, learner_key, case_id, detail FROM journal WHERE case_id = ? ORDER BY id");
  q.bind(1, case_id);
  return read_journal(q);
}

std::vector<JournalEntry> Journal::for_learner(std::int64_t learner_key) {
  SQLite::Statement q(db_.sql(), "SELECT id, at, actor, action, learner_key, case_id, detail FROM journal WHERE learner_key = ? ORDER BY id");
  q.bind(1, learner_key);
  return read_journal(q);
}

std::int64_t Journal::count() { return db_.sql().execAndGet("SELECT COUNT(*) FROM journal").getInt64(); }

}  // namespace relance::store
