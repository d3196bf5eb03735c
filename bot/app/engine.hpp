// The dispatcher between the pure core and the store: load state, run a core
// step, commit the new state with its outbox messages and journal lines in one
// transaction. Every entry point (import, API, Moodle poller, scheduler, staff
// commands) goes through here, so the rules hold whatever the source.
#pragma once

#include "bot/app/config.hpp"
#include "bot/domain/case.hpp"
#include "bot/domain/command.hpp"
#include "bot/domain/detection.hpp"
#include "bot/domain/escalation.hpp"
#include "messages/catalog.hpp"
#include "messages/render/learner.hpp"
#include "store/database.hpp"
#include "store/repositories.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace relance::app {

// What a scan did (or would do, dry run), for logs and `scan --format json`.
struct ScanReport {
  Timestamp now{};
  bool dry_run = false;
  std::int64_t learners_examined = 0;
  struct Opened { std::int64_t learner_key; std::string learner_id; std::string learner_name; std::string policy_id; Timestamp inactive_since; };
  std::vector<Opened> opened;
  struct StepRun { std::int64_t case_id; std::string learner_id; int step; std::string step_name; std::string action; std::string means; std::string role; Timestamp send_at; };
  std::vector<StepRun> steps;
  struct Closed { std::int64_t case_id; std::string learner_id; std::string state; };
  std::vector<Closed> closed;
  struct Escalated { std::int64_t case_id; std::string learner_id; std::string from_role; std::string to_role; };
  std::vector<Escalated> escalated;
  int digests = 0;                     // daily digests posted (one per role with overdue tasks)
  std::optional<Timestamp> next_wake;  // the earliest instant something falls due
};

// A pass in progress. The service runs it in slices (`Engine::run_pass`
// with a time budget) so that the I/O thread keeps answering between them;
// `Engine::scan` runs one to the end. It reads only what is due: learners
// whose `detect_at` has come (new, changed, or a threshold reached), cases
// whose next step is due, escalations and the digest.
struct Pass {
  enum class Phase : std::uint8_t { policies, learners, cases, timers, done };
  Phase phase = Phase::policies;
  ScanReport report;
  std::optional<Detector> detector;
  // The policies changed since learners were last examined: every learner
  // is marked due, key range by key range, up to `reset_end`.
  std::string policies_fingerprint;
  std::int64_t reset_next = 0, reset_end = -1;
  // Learners of the last group that crossed a threshold, whose case is not
  // open yet (they are still due in the store until it is). Each is read
  // and examined again just before: between two slices, anything may change.
  std::vector<std::int64_t> detected;
  std::vector<std::int64_t> due_cases;
  std::size_t next_case = 0;
  bool done() const { return phase == Phase::done; }
};

// A reply to a staff member, already rendered (plain text; adapters escape
// or format it for their channel).
struct Reply {
  bool ok = true;
  std::string text;
  // It shows a learner's details (dossier, liste): for the asker's eyes only
  // (a chat answers in private, never in a shared channel).
  bool personal = false;
};

// A message a learner sent (SMS, Matrix DM, email), as its gateway reported it.
struct IncomingMessage {
  std::string channel;      // sms, matrix, email
  std::string provider;     // kannel, twilio, http, matrix, imap
  std::string provider_id;  // the provider's message id (email: Message-ID): stored once
  std::string sender;       // E.164 (normalised by the caller), Matrix id, or lower-case email address
  std::string text;
  std::optional<Timestamp> sent_at;
  // Email: the message of ours it answers (In-Reply-To/References carry
  // relance.<outbox id>@...). It names the learner even when they answer
  // from another address than the one we know.
  std::optional<std::int64_t> answers;
  // An automatic answer (out-of-office): stored and shown to staff, but
  // nobody wrote it, so it is not a sign of life.
  bool automatic = false;
};

// A delivery report from a learner channel's provider.
struct DeliveryNote {
  std::string provider;                  // kannel, twilio, http
  std::optional<std::int64_t> outbox_id; // ours (Kannel dlr-url) ...
  std::string remote_id;                 // ... or the provider's (Twilio sid)
  std::string state;                     // progress, delivered, failed
  std::string detail;
};

// What became of an incoming message.
enum class Received : std::uint8_t {
  duplicate,       // already stored (the provider sent it again): nothing changed
  reply,           // stored, a sign of life, shown to staff
  opt_out,         // STOP: no more SMS; staff told to phone
  opt_in,          // START: SMS allowed again
  unknown_sender,  // stored, shown to staff, no learner matched
  auto_reply,      // stored, shown to staff, not a sign of life
  // Email only: from an address no learner has, answering none of our
  // messages. The mailbox learners answer to is often the front desk's,
  // which gets other mail too: that is not relance's to store or post.
  not_ours,
};
std::string_view to_string(Received r);

// A learner message rendered for its channels, in the learner's language.
using render::LearnerText;

// ----- inputs: everything that changes the state, as the app receives it.
// Each entry point (chat, console, webhooks, importer, Moodle poller, the
// scheduler) builds one and `Engine::apply` dispatches it. -----

// A staff command (typed and parsed, or a button or reaction's command) from
// a member the entry point has recognised as staff, once.
struct StaffAction {
  const StaffMember* staff = nullptr;
  ParsedCommand command;
};
// A sign of life observed for a learner (LMS, lesson, staff's visit...).
struct ActivityObserved {
  std::int64_t learner_key = 0;
  Source source = Source::lms;
  Timestamp at{};
  std::string actor;  // who reported it: api, moodle, import:<file>, a staff id
};
// A durable timer whose time has come (taken from the timer table, in the
// caller's transaction: a stale generation never reaches here).
struct TimerFired {
  store::Timer timer;
};
using Input = std::variant<StaffAction, IncomingMessage, DeliveryNote, ActivityObserved, TimerFired>;

// What applying an input did (the part of it that matches the input).
struct Applied {
  Reply reply;                                         // StaffAction: the answer
  std::optional<Received> received;                    // IncomingMessage
  bool activity_moved = false;                         // ActivityObserved: the learner's activity moved forward
  std::optional<ScanReport::Escalated> escalated;      // TimerFired: an escalation
  int digests = 0;                                     // TimerFired: digests posted
};

// An outbox row's template parameters (a JSON object of strings) back as Params.
Params params_from_json(const std::string& s);

class Engine {
public:
  Engine(const Config& config, store::Database& db, const ZoneRules& zone, const messages::Catalog& catalog);

  const Config& config() const { return config_; }
  store::Database& db() { return db_; }
  const ZoneRules& zone() const { return zone_; }
  const messages::Catalog& catalog() const { return catalog_; }

  // --- the one way in: an input, applied. Staff actions run in their own
  // transaction; the others in the caller's (a webhook's group commit, an
  // import, a pass's slice). `style`: how a staff answer is rendered. ---
  Applied apply(const Input& input, Timestamp now, const messages::FillStyle& style = {});

  // --- ingest; the caller holds a WriteTransaction (an import is one) ---
  store::LearnerRepo::Upserted upsert_learner(Learner& l, Timestamp now);
  // Records activity; a sign of life newer than an active case's reference
  // closes it as resumed (journal + staff notice). Returns true when the
  // learner's activity moved forward. `actor` is who reported it.
  bool record_activity(std::int64_t learner_key, Source source, Timestamp at, Timestamp now, std::string_view actor);

  // --- scheduler: detection pass + due steps, each case in its own transaction;
  // the report says when something next falls due ---
  ScanReport scan(Timestamp now, bool dry_run = false);
  // The same pass in pieces: `begin_pass`, then `run_pass` until it returns
  // true; each call returns after about `budget` (one case or one group of
  // learners may exceed it). Every piece commits what it did.
  Pass begin_pass(Timestamp now, bool dry_run = false);
  bool run_pass(Pass& pass, std::chrono::microseconds budget);

  // --- staff commands (console, chat). Refuses non-staff. ---
  // `style`: how texts are rendered for where the answer goes (a chat marks
  // values for escaping and gives {cmd} and {asker}); the console's by default.
  Reply handle_command(std::string_view staff_id, std::string_view line, Timestamp now,
                       const messages::FillStyle& style = {});
  // The same for a command already parsed, from a member the caller has
  // already recognised as staff (a chat maps its user once): no second
  // lookup, no second parse.
  Reply handle_parsed(const StaffMember& staff, const ParsedCommand& parsed, Timestamp now,
                      const messages::FillStyle& style = {});

  // Renders an outbox item's text for a staff channel (`style` as above).
  std::string render_outbox(const store::OutboxItem& item, const messages::FillStyle& style = {}) const;

  // --- learner channels (learner_channels.cpp); the caller holds a WriteTransaction ---
  // Stores a learner's message once per provider id; a reply is a sign of
  // life and is posted in the case's staff thread; STOP/START change consent.
  Received receive_message(const IncomingMessage& m, Timestamp now);
  // A delivery report; a final failure is told in the case's thread.
  void record_delivery(std::optional<std::int64_t> outbox_id, std::string_view provider, std::string_view remote_id,
                       std::string_view state, std::string_view detail, Timestamp now);
  // A learner message given up (refused by the gateway, opted out, no
  // address): the row keeps why, the journal and the case's thread say so.
  // `cancelled`: given up before it could go (its relaunch is `not_sent`).
  void learner_message_failed(const store::OutboxItem& item, std::string_view error, bool cancelled, Timestamp now);
  // A learner message the gateway or server took at `at`: the outbox row,
  // the relaunch it is (sent, at that time) and the journal, together.
  void learner_message_sent(const store::OutboxItem& item, std::string_view provider, std::string_view remote_id,
                            Timestamp at);
  // Consent change (opt_out true: no more SMS), logged with how and the words.
  void record_sms_consent(std::int64_t learner_key, bool opt_out, std::string_view via, std::string_view message,
                          Timestamp now);
  LearnerText render_learner(const store::OutboxItem& item) const;
  LearnerText render_learner(std::string_view template_key, const Params& p, std::string_view lang) const;

private:
  void commit_outcome(Case& c, const Learner& l, Outcome& out, std::string_view actor, Timestamp now);
  void enqueue_staff(std::optional<std::int64_t> case_id, std::optional<std::int64_t> learner_key, std::string_view policy_id,
                     const std::string& role, const std::string& template_key, Params p, const std::string& dedupe_base,
                     Timestamp now);
  void arm_escalation(std::int64_t case_id, const std::string& role, Timestamp now);
  void open_detected(const Learner& l, const Detection& d, Pass& pass);
  void advance_while_due(Case& c, const Learner& l, Pass& pass);
  std::string policies_fingerprint() const;
  // Due timers (escalation clocks, the digest), each in its own transaction.
  void run_timers(Timestamp now, bool dry_run, ScanReport& rep);
  void on_escalation_due(const store::Timer& t, Timestamp now, Applied& out);
  void on_digest_due(Timestamp now, Applied& out);
  // The digest's timer where the configuration and the last digest say.
  void keep_digest_timer(Timestamp now);
  EscalationRules escalation_rules() const;
  std::string role_label(const std::string& role) const;
  std::optional<Timestamp> next_digest(Timestamp now);
  Params case_params(const Case& c, const Learner& l) const;
  SourceSet sources_of(std::string_view policy_id) const;
  std::string text(std::string_view key, const Params& p = {}) const;

  const Config& config_;
  store::Database& db_;
  const ZoneRules& zone_;
  const messages::Catalog& catalog_;
  store::LearnerRepo learners_;
  store::CaseRepo cases_;
  store::RelaunchRepo relaunches_;
  store::TaskRepo tasks_;
  store::OutboxRepo outbox_;
  store::Journal journal_;
  store::ChatThreadRepo threads_;
  store::TimerRepo timers_;
  store::ConsentRepo consent_;
  store::InboundRepo inbound_;
};

}  // namespace relance::app
