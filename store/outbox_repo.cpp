#include "store/outbox_repo.hpp"

#include "store/rows.hpp"

#include <SQLiteCpp/VariadicBind.h>

#include <optional>

namespace relance::store {

namespace {

constexpr const char* outbox_columns =
    "id, created_at, channel, recipient, template, params, case_id, learner_key, dedupe_key, not_before, status, "
    "attempts, next_attempt, last_error, sent_at, remote_id, started, provider, delivery, delivery_at, delivery_detail";

std::vector<OutboxItem> read_outbox(SQLite::Statement& q) {
  std::vector<OutboxItem> out;
  while (q.executeStep()) {
    OutboxItem o;
    o.id = q.getColumn(0).getInt64();
    o.created_at = from_unix(q.getColumn(1).getInt64());
    o.channel = q.getColumn(2).getString();
    o.recipient = q.getColumn(3).getString();
    o.template_key = q.getColumn(4).getString();
    o.params_json = q.getColumn(5).getString();
    o.case_id = opt_int(q.getColumn(6));
    o.learner_key = opt_int(q.getColumn(7));
    o.dedupe_key = q.getColumn(8).getString();
    o.not_before = from_unix(q.getColumn(9).getInt64());
    o.status = q.getColumn(10).getString();
    o.attempts = q.getColumn(11).getInt();
    o.next_attempt = from_unix(q.getColumn(12).getInt64());
    o.last_error = q.getColumn(13).getString();
    o.sent_at = opt_time(q.getColumn(14));
    o.remote_id = q.getColumn(15).getString();
    o.started = q.getColumn(16).getInt();
    o.provider = q.getColumn(17).getString();
    o.delivery = q.getColumn(18).getString();
    o.delivery_at = opt_time(q.getColumn(19));
    o.delivery_detail = q.getColumn(20).getString();
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

std::optional<std::int64_t> OutboxRepo::enqueue(OutboxItem& item) {
  if (!enqueue_)
    enqueue_ = std::make_shared<SQLite::Statement>(
        db_.sql(),
        "INSERT INTO outbox (created_at, channel, recipient, template, params, case_id, learner_key, "
        "dedupe_key, not_before, next_attempt) VALUES (?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(dedupe_key) DO NOTHING");
  auto& q = *enqueue_;
  q.tryReset();
  q.clearBindings();
  SQLite::bind(q, to_unix(item.created_at), item.channel, item.recipient, item.template_key, item.params_json);
  bind_opt(q, 6, item.case_id);
  bind_opt(q, 7, item.learner_key);
  q.bind(8, item.dedupe_key);
  q.bind(9, to_unix(item.not_before));
  q.bind(10, to_unix(item.not_before));
  const int n = q.exec();
  q.tryReset();
  if (n == 0) return std::nullopt;
  item.id = db_.sql().getLastInsertRowid();
  return item.id;
}

std::vector<OutboxItem> OutboxRepo::ready(std::string_view channel, Timestamp now, int limit) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns +
                                     " FROM outbox WHERE status = 'pending' AND channel = ? AND next_attempt <= ? "
                                     "ORDER BY next_attempt, id LIMIT ?");
  SQLite::bind(q, std::string(channel), to_unix(now), limit);
  return read_outbox(q);
}

std::vector<OutboxItem> OutboxRepo::pending(std::string_view channel) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns +
                                     " FROM outbox WHERE status = 'pending' AND channel = ? ORDER BY next_attempt, id");
  q.bind(1, std::string(channel));
  return read_outbox(q);
}

std::optional<Timestamp> OutboxRepo::next_ready(std::string_view channel) {
  SQLite::Statement q(db_.sql(), "SELECT MIN(next_attempt) FROM outbox WHERE status = 'pending' AND channel = ?");
  q.bind(1, std::string(channel));
  if (!q.executeStep()) return std::nullopt;
  return opt_time(q.getColumn(0));
}

void OutboxRepo::mark_sent(std::int64_t id, Timestamp at, std::string_view remote_id) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET status = 'sent', sent_at = ?, remote_id = ?, attempts = attempts + 1 WHERE id = ?");
  SQLite::bind(q, to_unix(at), std::string(remote_id), id);
  q.exec();
}

void OutboxRepo::mark_retry(std::int64_t id, Timestamp next_attempt, std::string_view error) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET next_attempt = ?, last_error = ?, attempts = attempts + 1 WHERE id = ?");
  SQLite::bind(q, to_unix(next_attempt), std::string(error), id);
  q.exec();
}

void OutboxRepo::mark_failed(std::int64_t id, std::string_view error) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET status = 'failed', last_error = ?, attempts = attempts + 1 WHERE id = ?");
  SQLite::bind(q, std::string(error), id);
  q.exec();
}

std::optional<OutboxItem> OutboxRepo::get(std::int64_t id) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns + " FROM outbox WHERE id = ?");
  q.bind(1, id);
  auto v = read_outbox(q);
  if (v.empty()) return std::nullopt;
  return v.front();
}

std::vector<OutboxItem> OutboxRepo::for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns + " FROM outbox WHERE case_id = ? ORDER BY id");
  q.bind(1, case_id);
  return read_outbox(q);
}

std::vector<OutboxItem> OutboxRepo::pending_in_order(std::string_view channel, int limit) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns +
                                     " FROM outbox WHERE status = 'pending' AND channel = ? ORDER BY id LIMIT ?");
  SQLite::bind(q, std::string(channel), limit);
  return read_outbox(q);
}

void OutboxRepo::mark_sent_via(std::int64_t id, Timestamp at, std::string_view provider, std::string_view remote_id) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET status = 'sent', sent_at = ?, provider = ?, remote_id = ?, attempts = attempts + 1, "
                      "last_error = '' WHERE id = ?");
  SQLite::bind(q, to_unix(at), std::string(provider), std::string(remote_id), id);
  q.exec();
}

void OutboxRepo::defer(std::int64_t id, Timestamp t) {
  SQLite::Statement q(db_.sql(), "UPDATE outbox SET next_attempt = ? WHERE id = ?");
  SQLite::bind(q, to_unix(t), id);
  q.exec();
}

void OutboxRepo::cancel(std::int64_t id, std::string_view reason) {
  SQLite::Statement q(db_.sql(), "UPDATE outbox SET status = 'cancelled', last_error = ? WHERE id = ? AND status = 'pending'");
  SQLite::bind(q, std::string(reason), id);
  q.exec();
}

DeliveryUpdate OutboxRepo::record_delivery(std::optional<std::int64_t> id, std::string_view provider,
                                           std::string_view remote_id, std::string_view state, std::string_view detail,
                                           Timestamp at) {
  DeliveryUpdate u;
  std::optional<SQLite::Statement> q;
  if (id) {
    q.emplace(db_.sql(), "SELECT id, case_id, learner_key, channel, delivery FROM outbox WHERE id = ?");
    q->bind(1, *id);
  } else {
    q.emplace(db_.sql(),
              "SELECT id, case_id, learner_key, channel, delivery FROM outbox WHERE provider = ? AND remote_id = ? AND remote_id <> ''");
    SQLite::bind(*q, std::string(provider), std::string(remote_id));
  }
  if (!q->executeStep()) return u;
  u.outbox_id = q->getColumn(0).getInt64();
  u.case_id = opt_int(q->getColumn(1));
  u.learner_key = opt_int(q->getColumn(2));
  u.channel = q->getColumn(3).getString();
  const std::string before = q->getColumn(4).getString();
  const bool final_before = before == "delivered" || before == "failed";
  if ((final_before && state == "progress") || before == state) {
    u.delivery = before;
    return u;
  }
  SQLite::Statement up(db_.sql(), "UPDATE outbox SET delivery = ?, delivery_at = ?, delivery_detail = ? WHERE id = ?");
  SQLite::bind(up, std::string(state), to_unix(at), std::string(detail), u.outbox_id);
  up.exec();
  u.delivery = std::string(state);
  u.changed = true;
  return u;
}

bool OutboxRepo::begin_attempt(std::int64_t id) {
  SQLite::Statement q(db_.sql(), "UPDATE outbox SET started = started + 1 WHERE id = ? AND status = 'pending'");
  q.bind(1, id);
  return q.exec() > 0;
}

bool OutboxRepo::cancel_unstarted(std::int64_t id, std::string_view reason) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET status = 'cancelled', last_error = ? WHERE id = ? AND status = 'pending' AND started = 0");
  SQLite::bind(q, std::string(reason), id);
  return q.exec() > 0;
}

}  // namespace relance::store
