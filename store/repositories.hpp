// Repositories: typed reads and writes over the schema. They never open
// transactions themselves; the caller groups writes (state + outbox + journal)
// in one WriteTransaction.
#pragma once

#include "bot/domain/case.hpp"
#include "bot/domain/learner.hpp"
#include "bot/domain/policy.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace relance::store {

std::string plan_to_json(const Plan& p);
Plan plan_from_json(std::string_view json);  // throws std::runtime_error on bad data

class LearnerRepo {
public:
  explicit LearnerRepo(Database& db);
  ~LearnerRepo();

  enum class Upserted { inserted, updated, unchanged };
  // Insert or update by `id`. Non-empty fields of `l` overwrite stored ones;
  // activity keeps the maximum per source (replaying an import changes nothing).
  // Sets l.key. `now` is first_seen for a new learner.
  Upserted upsert(Learner& l, Timestamp now);
  std::optional<Learner> find(std::string_view id);
  std::optional<Learner> get(std::int64_t key);
  // Records activity (max per source). Returns true when it moved forward.
  bool observe(std::int64_t key, Source s, Timestamp at, Timestamp now);
  void set_status(std::int64_t key, LearnerStatus s, Timestamp now);
  std::int64_t count();
  // Streams every learner with status `active`.
  void for_each_active(const std::function<void(const Learner&)>& f);
  // Detection's work list (migration 0007): up to `limit` learners whose
  // `detect_at` is at or before `now`, the longest due first.
  std::vector<Learner> due_for_detection(Timestamp now, int limit);
  // When the learner must next be examined; nullopt: not until something
  // about them changes (the triggers mark them due again).
  void set_detect_at(std::int64_t key, std::optional<Timestamp> at);
  // The earliest detect_at of any learner (may be in the past: work left).
  std::optional<Timestamp> next_detection();
  // Marks learners with key in [from, to) due now; returns the largest key
  // of the table (0 when empty) so a caller can walk it in slices.
  void mark_due(std::int64_t from, std::int64_t to);
  std::int64_t max_key();
  // The learners of the cases CaseRepo::in_period(from, to) returns, by key,
  // in one statement (a register of thousands of cases).
  std::unordered_map<std::int64_t, Learner> of_cases_in_period(Timestamp from, Timestamp to);
  // Inbound messages find their sender: the learners with this E.164 number
  // or Matrix id, active ones first, then the most recently updated.
  std::vector<Learner> by_phone(std::string_view e164);
  std::vector<Learner> by_matrix_id(std::string_view matrix_id);
  std::vector<Learner> by_email(std::string_view lower_case_address);
  // Opted out of SMS since `at`, or (nullopt) opted back in.
  void set_sms_opt_out(std::int64_t key, std::optional<Timestamp> at);

private:
  struct Statements;
  Database& db_;
  std::unique_ptr<Statements> st_;
};

class CaseRepo {
public:
  explicit CaseRepo(Database& db) : db_(db) {}
  std::int64_t insert(Case& c);  // sets c.id
  void update(const Case& c);
  // Compare-and-set for claims: succeeds only when the stored assignee is
  // still `expected_assignee` (two staff claiming at once: one wins).
  bool update_if_assignee(const Case& c, std::string_view expected_assignee);
  std::optional<Case> get(std::int64_t id);
  std::vector<Case> active_for_learner(std::int64_t learner_key);
  // The learner's most recent case, active or not (a reply after a case closed still belongs to it).
  std::optional<Case> latest_for_learner(std::int64_t learner_key);
  std::vector<Case> active();  // open, claimed, in_progress; by id
  // The first `limit` active cases (of `assignee` when not empty), and how many there are.
  std::vector<Case> active_page(std::string_view assignee, int limit);
  std::int64_t count_active(std::string_view assignee);
  std::vector<std::int64_t> due_ids(Timestamp now);
  std::optional<Timestamp> next_due();
  // (learner, policy) -> the latest activity_ref of any case: detection
  // skips learners whose episode is already covered.
  struct Coverage { std::int64_t learner_key; std::string policy_id; Timestamp activity_ref; bool active; };
  std::vector<Coverage> coverage();
  // The same, for some learners (a detection slice examines a few).
  std::vector<Coverage> coverage_of(const std::vector<std::int64_t>& learner_keys);
  std::vector<Case> in_period(Timestamp from, Timestamp to);  // opened or active in [from, to)

private:
  Database& db_;
  // Hot on ingest (every activity that moves forward looks for open cases).
  std::shared_ptr<SQLite::Statement> active_for_learner_;
  std::shared_ptr<SQLite::Statement> latest_for_learner_;
};

class RelaunchRepo {
public:
  explicit RelaunchRepo(Database& db) : db_(db) {}
  std::int64_t insert(Relaunch& r);
  // What became of the message a bot relaunch is (sent, delivered, failed,
  // not_sent), at `at`. Forward only; false when nothing changed.
  bool settle(std::int64_t outbox_id, Result result, Timestamp at, std::string_view comment = {});
  std::vector<Relaunch> for_case(std::int64_t case_id);
  // Every relaunch of the cases CaseRepo::in_period(from, to) returns, per
  // case, in the order they were made; one statement.
  std::unordered_map<std::int64_t, std::vector<Relaunch>> of_cases_in_period(Timestamp from, Timestamp to);

private:
  Database& db_;
};

struct Task {
  std::int64_t id = 0;
  std::int64_t case_id = 0;
  int step = -1;
  std::string role;
  Means means = Means::phone;
  std::string template_key;
  Timestamp created_at{};
  Timestamp due{};
  std::optional<Timestamp> done_at;
  std::string done_by;
};

class TaskRepo {
public:
  explicit TaskRepo(Database& db) : db_(db) {}
  std::int64_t insert(const Task& t);
  // Marks every open task of the case done (a relaunch was logged, or the case ended).
  int complete_for_case(std::int64_t case_id, std::string_view by, Timestamp at);
  std::vector<Task> open_for_case(std::int64_t case_id);
  std::vector<Task> overdue(Timestamp now);

private:
  Database& db_;
};

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

// A case's thread in one chat room: its root post, found from either side.
struct ChatThread {
  std::string network;
  std::string destination;
  std::int64_t case_id = 0;
  std::string root_remote_id;
  std::int64_t root_outbox_id = 0;
  Timestamp created_at{};
};

class ChatThreadRepo {
public:
  explicit ChatThreadRepo(Database& db) : db_(db) {}
  std::optional<std::string> root(std::string_view network, std::string_view destination, std::int64_t case_id);
  bool record(const ChatThread& t);  // false when the case already has a root there
  std::optional<std::int64_t> case_of(std::string_view network, std::string_view remote_id);
  std::vector<ChatThread> for_case(std::int64_t case_id);

private:
  Database& db_;
};

// A durable timer (migration 0008): see TimerRepo.
struct Timer {
  std::int64_t id = 0;
  std::string kind;     // "escalation", "digest", ...
  std::string subject;  // what it is about: a case id, "" for the digest
  Timestamp due{};
  std::int64_t generation = 0;
  std::string payload;  // JSON
};

// One timer per (kind, subject). The scheduler sleeps until next_due(); a
// due timer is taken with fire(), in the transaction of what it causes.
class TimerRepo {
public:
  explicit TimerRepo(Database& db) : db_(db) {}
  // Sets or moves the timer; returns its new generation.
  std::int64_t arm(std::string_view kind, std::string_view subject, Timestamp due, std::string_view payload = "{}");
  void cancel(std::string_view kind, std::string_view subject);
  std::optional<Timer> get(std::string_view kind, std::string_view subject);
  // Due at `now`, the earliest first.
  std::vector<Timer> due(Timestamp now, int limit = 1000);
  std::optional<Timestamp> next_due();
  // Takes the firing: removes the timer if it is still at `t.generation`.
  // False: it was moved or cancelled since `t` was read; do nothing.
  bool fire(const Timer& t);

private:
  Database& db_;
};

struct JournalEntry {
  std::int64_t id = 0;
  Timestamp at{};
  std::string actor;
  std::string action;
  std::optional<std::int64_t> learner_key;
  std::optional<std::int64_t> case_id;
  std::string detail;
};

class Journal {
public:
  explicit Journal(Database& db) : db_(db) {}
  std::int64_t append(const JournalEntry& e);
  std::vector<JournalEntry> for_case(std::int64_t case_id);
  std::vector<JournalEntry> for_learner(std::int64_t learner_key);
  std::int64_t count();

private:
  Database& db_;
  std::shared_ptr<SQLite::Statement> append_;  // prepared on first use
};

// Inbound deduplication by (source, external id). Returns true the first time.
bool first_seen(Database& db, std::string_view source, std::string_view ext_id, Timestamp now);

// Opt-outs and opt-ins (evidence: who, when, through what, which words).
struct ConsentEntry {
  std::int64_t id = 0;
  Timestamp at{};
  std::int64_t learner_key = 0;
  std::string channel = "sms";
  std::string action;   // opt_out, opt_in
  std::string via;      // reply, provider, staff
  std::string message;
};

class ConsentRepo {
public:
  explicit ConsentRepo(Database& db) : db_(db) {}
  std::int64_t append(const ConsentEntry& e);
  std::vector<ConsentEntry> for_learner(std::int64_t learner_key);

private:
  Database& db_;
};

// A message a learner wrote (SMS, Matrix), stored once per provider id.
struct InboundMessage {
  std::int64_t id = 0;
  Timestamp received_at{};
  std::string channel;      // sms, matrix, email
  std::string provider;     // kannel, twilio, http, matrix, imap
  std::string provider_id;
  std::string sender;       // E.164, Matrix id or email address
  std::optional<std::int64_t> learner_key;
  std::optional<std::int64_t> case_id;
  std::string body;
  std::optional<Timestamp> sent_at;
  std::string kind = "reply";  // reply, opt_out, opt_in, auto_reply
};

class InboundRepo {
public:
  explicit InboundRepo(Database& db);
  ~InboundRepo();
  // False (nothing written) when (provider, provider_id) is already stored.
  bool insert(InboundMessage& m);
  std::vector<InboundMessage> for_case(std::int64_t case_id);
  std::vector<InboundMessage> for_learner(std::int64_t learner_key);
  std::int64_t count();

private:
  struct Statements;
  Database& db_;
  std::unique_ptr<Statements> st_;
};

std::optional<std::string> kv_get(Database& db, std::string_view key);
void kv_set(Database& db, std::string_view key, std::string_view value);

}  // namespace relance::store
