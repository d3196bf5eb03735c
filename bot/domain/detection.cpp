#include "bot/domain/detection.hpp"

#include <algorithm>
#include <numeric>

namespace relance {

InactivityRef inactivity_ref(const Learner& l, const Policy& p) {
  if (auto last = l.activity.last_over(p.sources)) return {*last, true};
  // Never active over these sources: count from the start of the training.
  if (l.start_date) return {Timestamp{*l.start_date}, false};
  if (p.session_start) return {Timestamp{*p.session_start}, false};
  return {l.first_seen, false};
}

std::optional<Timestamp> threshold_time(const Learner& l, const Policy& p) {
  const InactivityRef ref = inactivity_ref(l, p);
  if (p.condition == Condition::never_accessed && ref.ever_active) return std::nullopt;
  return ref.since + p.days;
}

Detector::Detector(const std::vector<Policy>& policies, Timestamp now) : policies_(policies), now_(now) {
  order_.resize(policies_.size());
  std::iota(order_.begin(), order_.end(), std::size_t{0});
  std::stable_sort(order_.begin(), order_.end(),
                   [&](std::size_t a, std::size_t b) { return policies_[a].priority > policies_[b].priority; });
}

std::optional<Detection> Detector::examine(const Learner& l, const CaseIndex& cases) {
  if (l.status != LearnerStatus::active) return std::nullopt;
  if (cases.has_active_case(l.key)) return std::nullopt;
  for (std::size_t i : order_) {
    const Policy& p = policies_[i];
    if (!p.applies_to(l)) continue;
    const InactivityRef ref = inactivity_ref(l, p);
    if (p.condition == Condition::never_accessed && ref.ever_active) continue;
    const Timestamp crossed = ref.since + p.days;
    if (crossed > now_) {
      if (!next_crossing_ || crossed < *next_crossing_) next_crossing_ = crossed;
      continue;
    }
    if (cases.covered(l.key, i, ref.since)) continue;
    return Detection{i, ref, crossed};
  }
  return std::nullopt;
}

}  // namespace relance
