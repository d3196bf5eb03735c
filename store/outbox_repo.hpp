// The outbox (table outbox): every message the bot sends is committed here
// with the change that causes it, then sent by a worker.
#pragma once

#include "bot/domain/time.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::store {

struct OutboxItem {
  std::int64_t id = 0;
  Timestamp created_at{};
  std::string channel;    // "sms", "email", "matrix", "staff"
  std::string recipient;  // phone / email / matrix id / staff role
  std::string template_key;
  std::string params_json = "{}";
  std::optional<std::int64_t> case_id;
  std::optional<std::int64_t> learner_key;
  std::string dedupe_key;  // stable: same cause -> same key -> one message
  Timestamp not_before{};
  std::string status = "pending";
  int attempts = 0;
  Timestamp next_attempt{};
  std::string last_error;
  std::optional<Timestamp> sent_at;
  std::string remote_id;
  int started = 0;  // sends begun; > 0 while pending: it may already be out
  std::string provider;         // the gateway that took it (kannel, twilio, http, smtp, matrix)
  std::string delivery;         // latest delivery report: "", progress, delivered, failed
  std::optional<Timestamp> delivery_at;
  std::string delivery_detail;
};

// What a delivery report changed (the case to tell, if it failed).
struct DeliveryUpdate {
  std::int64_t outbox_id = 0;
  std::optional<std::int64_t> case_id;
  std::optional<std::int64_t> learner_key;
  std::string channel;
  std::string delivery;  // the state now recorded
  bool changed = false;  // false: unknown message, or a late intermediate report after a final one
};

class OutboxRepo {
public:
  explicit OutboxRepo(Database& db) : db_(db) {}
  // Returns the id, or nullopt when an item with this dedupe_key exists.
  std::optional<std::int64_t> enqueue(OutboxItem& item);
  std::vector<OutboxItem> ready(std::string_view channel, Timestamp now, int limit);
  std::vector<OutboxItem> pending(std::string_view channel);
  std::optional<Timestamp> next_ready(std::string_view channel);
  void mark_sent(std::int64_t id, Timestamp at, std::string_view remote_id);
  void mark_retry(std::int64_t id, Timestamp next_attempt, std::string_view error);
  void mark_failed(std::int64_t id, std::string_view error);
  std::optional<OutboxItem> get(std::int64_t id);
  std::vector<OutboxItem> for_case(std::int64_t case_id);
  // Pending rows of a channel in creation order (the order of each room's queue).
  std::vector<OutboxItem> pending_in_order(std::string_view channel, int limit);
  // Commit this before a send: a crash after it means "maybe sent". False
  // when the row is no longer pending (cancelled meanwhile): do not send.
  bool begin_attempt(std::int64_t id);
  // Cancels a pending row no send has begun on (one begun may be out).
  bool cancel_unstarted(std::int64_t id, std::string_view reason);
  // Learner messages: sent through `provider` (its message id, if it gave one).
  void mark_sent_via(std::int64_t id, Timestamp at, std::string_view provider, std::string_view remote_id);
  // Not now (quiet hours): next attempt at `t`, the attempt count unchanged.
  void defer(std::int64_t id, Timestamp t);
  // Not sent, on purpose (opted out, no address): kept with the reason.
  void cancel(std::int64_t id, std::string_view reason);
  // A delivery report, found by our id (Kannel: ours is in the dlr-url) or
  // by the provider's id (Twilio sid). A final state (delivered, failed) is
  // never replaced by an intermediate one that arrives late.
  DeliveryUpdate record_delivery(std::optional<std::int64_t> id, std::string_view provider, std::string_view remote_id,
                                 std::string_view state, std::string_view detail, Timestamp at);

private:
  Database& db_;
  std::shared_ptr<SQLite::Statement> enqueue_;  // prepared on first use (inbound replies enqueue thousands a second)
};

}  // namespace relance::store
