// Escalation of unclaimed alerts, decided here; the app only carries it out
// (posts, journal, the timer). An alert waits `claim_within` business time
// with a role; unclaimed by then, it goes to the next role of the chain, and
// waits again there unless that role is the chain's last.
#pragma once

#include "bot/domain/case.hpp"
#include "bot/domain/time.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance {

struct EscalationRules {
  std::vector<std::string> chain;  // roles in order: secretariat -> pedagogie -> direction
  std::chrono::minutes claim_within{240};
  BusinessHours hours;
  bool enabled() const { return chain.size() >= 2; }
};

// An alert's clock: with which role it waits, until when.
struct EscalationClock {
  std::string role;
  int level = 0;  // escalations so far
  Timestamp due{};
};

// The clock an alert for `role` starts at `now`; nothing when the role is
// not in the chain or is its last (there is nobody above to go to).
std::optional<EscalationClock> start_escalation(const EscalationRules& rules, std::string_view role, Timestamp now,
                                                const ZoneRules& zone);

// What happens when the clock of a case's alert runs out.
struct Escalation {
  std::string from_role;
  std::string to_role;
  int level = 0;                      // the escalation this is (0: the first)
  std::optional<EscalationClock> next;  // the clock with `to_role`, unless it is the chain's last
};
// Nothing when the alert no longer needs anyone: the case ended or was
// claimed, or its role left the chain (or is its last).
std::optional<Escalation> escalate(const EscalationRules& rules, const Case& c, const EscalationClock& clock,
                                   Timestamp now, const ZoneRules& zone);

}  // namespace relance
