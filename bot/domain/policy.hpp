// Policies (who is inactive) and plans (the relaunch ladder to run).
#pragma once

#include "bot/domain/learner.hpp"
#include "bot/domain/time.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance {

// How a relaunch is made. Also the `moyen` of a logged relaunch.
enum class Means : std::uint8_t { sms, email, phone, matrix, letter, visit, voicemail, prescriber_email, other };
std::string_view to_string(Means m);
// "sms", "email"/"mail"/"courriel", "tel"/"phone"/"appel"/"téléphone",
// "matrix", "courrier"/"letter", "visite"/"visit", "vocal"/"voicemail", "autre"/"other".
std::optional<Means> parse_means(std::string_view s);
// Means the bot can deliver to the learner itself (through the outbox).
bool is_learner_channel(Means m);

// What a step does: the bot messages the learner, or a person is asked to act.
enum class StepAction : std::uint8_t { message_learner, staff_task };
std::string_view to_string(StepAction a);

struct Step {
  std::string name;                     // "relance 1", shown to staff
  StepAction action = StepAction::staff_task;
  Means means = Means::phone;
  std::string role;                     // responsible role, e.g. "secretariat"
  std::string template_key;             // message for the learner, or the task text
  std::chrono::days after_previous{0};  // delay after the previous step ran
  // Optional absolute floor: not before the learner has been inactive this
  // long (procedure 000's "30 days" step, whatever the case's opening date).
  std::optional<std::chrono::days> at_inactive_days;
  bool optional = false;                // staff may skip it (`passer`)
  bool priority = false;                // shown as a priority alert
};

enum class OnExhausted : std::uint8_t {
  keep_open,        // the case stays open for staff to conclude
  declare_dropout,  // no answer after the last step: dropout, file closed
};

// A plan is snapshotted into each case when it opens, so later edits of the
// configuration never change a running case.
struct Plan {
  std::string id;
  std::vector<Step> steps;
  OnExhausted on_exhausted = OnExhausted::keep_open;
  std::chrono::days dropout_after{7};  // after the last step, with no sign of life
};

enum class Condition : std::uint8_t {
  inactive_for,    // no activity over `sources` for `days`
  never_accessed,  // no activity over `sources` at all, `days` after the start
};
std::string_view to_string(Condition c);

struct Policy {
  std::string id;
  std::string label;
  std::vector<std::string> cohorts;  // empty: every cohort
  SourceSet sources = SourceSet::all();
  Condition condition = Condition::inactive_for;
  std::chrono::days days{30};
  // Start of the session for learners without a start date (procedure 003).
  std::optional<std::chrono::sys_days> session_start;
  Plan plan;
  int priority = 0;  // higher wins when several policies match one learner

  bool applies_to(const Learner& l) const;
};

// Which learner channels the installation can send on ([sms], [email],
// Matrix): a step on a channel that is not configured becomes a staff task.
struct ChannelSet {
  bool sms = true;
  bool email = true;
  bool matrix = true;
  bool has(Means m) const {
    return m == Means::sms ? sms : m == Means::email ? email : m == Means::matrix ? matrix : false;
  }
};

}  // namespace relance
