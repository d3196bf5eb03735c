#include "bot/domain/escalation.hpp"

#include <algorithm>

namespace relance {

std::optional<EscalationClock> start_escalation(const EscalationRules& rules, std::string_view role, Timestamp now,
                                                const ZoneRules& zone) {
  if (!rules.enabled()) return std::nullopt;
  auto it = std::find(rules.chain.begin(), rules.chain.end(), role);
  if (it == rules.chain.end() || it + 1 == rules.chain.end()) return std::nullopt;
  return EscalationClock{std::string(role), 0, add_business_time(now, rules.claim_within, rules.hours, zone)};
}

std::optional<Escalation> escalate(const EscalationRules& rules, const Case& c, const EscalationClock& clock,
                                   Timestamp now, const ZoneRules& zone) {
  if (!rules.enabled() || !is_active(c.state) || !c.assignee.empty()) return std::nullopt;
  auto it = std::find(rules.chain.begin(), rules.chain.end(), clock.role);
  if (it == rules.chain.end() || it + 1 == rules.chain.end()) return std::nullopt;
  Escalation e{clock.role, *(it + 1), clock.level, std::nullopt};
  if (it + 2 != rules.chain.end())
    e.next = EscalationClock{e.to_role, clock.level + 1, add_business_time(now, rules.claim_within, rules.hours, zone)};
  return e;
}

}  // namespace relance
