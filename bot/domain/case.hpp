// A case (dossier): one learner under one policy, and its life cycle
//   open -> claimed -> in_progress (relaunches logged) -> resumed | dropped_out | closed
// Every transition is a pure function of (case, input, now) that updates the
// case and returns the effects to commit with it.
#pragma once

#include "bot/domain/detection.hpp"
#include "bot/domain/effects.hpp"
#include "bot/domain/learner.hpp"
#include "bot/domain/policy.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relance {

enum class CaseState : std::uint8_t { open, claimed, in_progress, resumed, dropped_out, closed };
std::string_view to_string(CaseState s);
std::optional<CaseState> parse_case_state(std::string_view s);
inline bool is_active(CaseState s) { return s == CaseState::open || s == CaseState::claimed || s == CaseState::in_progress; }

// The result of a relaunch (`résultat` in the register). Staff log the first
// six. A message the bot sends goes through the last five, as they happen:
// `queued` (in the outbox, not gone yet), `sent` (the gateway or server took
// it, at that time), `delivered` (the provider reported it delivered),
// `failed` (refused, undeliverable, or given up), `not_sent` (cancelled
// before any attempt: the learner opted out, no address...). Only `sent` and
// `delivered` reached the learner's channel (`reached_learner`).
enum class Result : std::uint8_t { no_answer, reached, message_left, resumed, dropped_out, other, sent, queued, delivered, failed, not_sent };
std::string_view to_string(Result r);
// "injoignable"/"sans_reponse"/"no_answer", "joint"/"reached", "message"/"message_left",
// "repris"/"reprise"/"resumed", "abandon"/"dropout", "autre"/"other".
std::optional<Result> parse_result(std::string_view s);

// One relaunch: made by the bot (a step that messaged the learner) or logged
// by staff.
struct Relaunch {
  std::int64_t id = 0;
  std::int64_t case_id = 0;
  Timestamp at{};
  std::string actor;  // staff id, or "relance" for the bot
  Means means = Means::other;
  Result result = Result::other;
  std::string comment;
  int step = -1;
  bool automatic = false;
  std::int64_t outbox_id = 0;  // the message a bot relaunch is, once queued (0: none)
};

// Whether a relaunch counts as made: every relaunch staff logged; a bot
// message only once it left (sent or delivered). A queued, failed or
// cancelled message is no relaunch in the register's sense.
bool reached_learner(const Relaunch& r);

struct Case {
  std::int64_t id = 0;
  std::int64_t learner_key = 0;
  std::string policy_id;
  Plan plan;  // snapshot taken when the case opened
  CaseState state = CaseState::open;
  std::string assignee;
  int next_step = 0;  // index of the next plan step to run
  int relaunches = 0; // steps run + relaunches logged
  bool answered = false;  // the learner was reached at least once
  Timestamp opened_at{};
  Timestamp activity_ref{};  // inactivity reference when it opened
  std::optional<Timestamp> last_step_at;
  std::optional<Timestamp> next_due;  // next step, or the dropout deadline
  std::optional<Timestamp> closed_at;
  std::string outcome_note;
};

// What a transition needs to know besides the case.
struct CaseContext {
  const Learner& learner;
  const ZoneRules& zone;
  const ContactWindow& window;
  Timestamp now;
  std::chrono::days task_due{2};  // a staff task is overdue after this
  ChannelSet channels{};          // learner channels that can send
};

// A staff action that could not be applied, as data the app renders.
enum class Refusal : std::uint8_t { none, case_closed, held_by_other, already_yours };

struct Outcome {
  Refusal refusal = Refusal::none;
  Effects effects;
  std::optional<Relaunch> relaunch;  // to store, when one was made or logged
  std::optional<LearnerStatus> learner_status;  // to store on the learner
  bool ok() const { return refusal == Refusal::none; }
};

// A new case for a detection (plan snapshotted); then `start_case` posts the
// alert and runs the steps already due.
Case open_case(const Learner& l, const Policy& p, const Detection& d, Timestamp now);
Outcome start_case(Case& c, const Policy& p, const CaseContext& ctx);

// Runs every plan step due at ctx.now, then the dropout deadline; sets next_due.
Outcome advance(Case& c, const CaseContext& ctx);

// When step `i` falls due (ignoring quiet hours, which apply to the message).
Timestamp step_due(const Case& c, std::size_t i, const ZoneRules& zone);

Outcome claim(Case& c, std::string_view actor, Timestamp now);
Outcome log_relaunch(Case& c, std::string_view actor, Means means, Result result, std::string_view comment, Timestamp now);
Outcome mark_resumed(Case& c, std::string_view actor, std::string_view comment, Timestamp now);
Outcome mark_dropout(Case& c, std::string_view actor, std::string_view reason, Timestamp now);
// A sign of life after the case's reference closes it as resumed.
Outcome sign_of_life(Case& c, Source source, Timestamp at, Timestamp now);
// The learner answered us (a reply on any channel, whatever the policy counts
// as activity): a person is in the conversation, so no more automatic
// relaunch and no automatic dropout; staff conclude (repris / abandon).
// Nothing when the case is closed or already answered.
Outcome learner_answered(Case& c, std::string_view channel, Timestamp now);

}  // namespace relance
