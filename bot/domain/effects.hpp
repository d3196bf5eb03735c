// What the core asks the outside world to do. The app commits these with the
// state change that caused them (outbox), then adapters carry them out.
#pragma once

#include "bot/domain/policy.hpp"
#include "bot/domain/time.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace relance {

// Template parameters. Texts themselves live in messages/.
using Params = std::map<std::string, std::string>;

// A message to the learner, through the outbox; never before `not_before`
// (quiet hours and public holidays already applied).
struct LearnerMessage {
  Means channel = Means::sms;
  std::string template_key;
  Params params;
  Timestamp not_before{};
  int step = -1;  // plan step index, -1 when not part of the ladder
};

// A post to staff: an alert, an escalation, an outcome. `role` picks the
// channel and the people to mention; empty means the case's usual channel.
struct StaffNotice {
  std::string role;
  std::string template_key;
  Params params;
  bool priority = false;
};

// A person must act (call the learner...). Overdue when not done by `due`.
struct StaffTask {
  std::string role;
  int step = -1;
  Means means = Means::phone;
  std::string template_key;
  Timestamp due{};
};

// An append-only journal line: who did what to which case, and when.
struct JournalNote {
  std::string action;  // "case.opened", "case.claimed", "relaunch.logged", ...
  std::string detail;  // human-readable detail (no message bodies)
};

using Effect = std::variant<LearnerMessage, StaffNotice, StaffTask, JournalNote>;
using Effects = std::vector<Effect>;

}  // namespace relance
