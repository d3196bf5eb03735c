#include "store/inbound_repo.hpp"

#include "store/rows.hpp"

#include <SQLiteCpp/VariadicBind.h>

#include <string>

namespace relance::store {

namespace {
constexpr const char* inbound_columns =
    "id, received_at, channel, provider, provider_id, sender, learner_key, case_id, body, sent_at, kind";

std::vector<InboundMessage> read_inbound(SQLite::Statement& q) {
  std::vector<InboundMessage> out;
  while (q.executeStep()) {
    InboundMessage m;
    m.id = q.getColumn(0).getInt64();
    m.received_at = from_unix(q.getColumn(1).getInt64());
    m.channel = q.getColumn(2).getString();
    m.provider = q.getColumn(3).getString();
    m.provider_id = q.getColumn(4).getString();
    m.sender = q.getColumn(5).getString();
    m.learner_key = opt_int(q.getColumn(6));
    m.case_id = opt_int(q.getColumn(7));
    m.body = q.getColumn(8).getString();
    m.sent_at = opt_time(q.getColumn(9));
    m.kind = q.getColumn(10).getString();
    out.push_back(std::move(m));
  }
  return out;
}
}  // namespace

// Prepared once: the inbound webhook path runs this thousands of times a second.
struct InboundRepo::Statements {
  explicit Statements(SQLite::Database& db)
      : insert(db,
               "INSERT INTO inbound_message (received_at, channel, provider, provider_id, sender, learner_key, case_id, "
               "body, sent_at, kind) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(provider, provider_id) DO NOTHING") {}
  SQLite::Statement insert;
};

InboundRepo::InboundRepo(Database& db) : db_(db), st_(std::make_unique<Statements>(db.sql())) {}
InboundRepo::~InboundRepo() = default;

bool InboundRepo::insert(InboundMessage& m) {
  auto& q = st_->insert;
  q.tryReset();
  q.clearBindings();
  SQLite::bind(q, to_unix(m.received_at), m.channel, m.provider, m.provider_id, m.sender);
  bind_opt(q, 6, m.learner_key);
  bind_opt(q, 7, m.case_id);
  q.bind(8, m.body);
  if (m.sent_at) q.bind(9, to_unix(*m.sent_at));
  q.bind(10, m.kind);
  const int n = q.exec();
  q.tryReset();
  if (n == 0) return false;
  m.id = db_.sql().getLastInsertRowid();
  return true;
}

std::vector<InboundMessage> InboundRepo::for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + inbound_columns + " FROM inbound_message WHERE case_id = ? ORDER BY id");
  q.bind(1, case_id);
  return read_inbound(q);
}

std::vector<InboundMessage> InboundRepo::for_learner(std::int64_t learner_key) {
  SQLite::Statement q(db_.sql(),
                      std::string("SELECT ") + inbound_columns + " FROM inbound_message WHERE learner_key = ? ORDER BY id");
  q.bind(1, learner_key);
  return read_inbound(q);
}

std::int64_t InboundRepo::count() {
  SQLite::Statement q(db_.sql(), "SELECT COUNT(*) FROM inbound_message");
  q.executeStep();
  return q.getColumn(0).getInt64();
}

}  // namespace relance::store
