#include "bot/domain/detection.hpp"

#include <algorithm>
#include <numeric>

namespace relance {

namespace {

Timestamp local_midnight(std::chrono::sys_days d, const ZoneRules& zone) {
  return zone.to_utc(LocalTime{d.time_since_epoch()});
}

}  // namespace

InactivityRef inactivity_ref(const Learner& l, const Policy& p, const ZoneRules& zone) {
  if (auto last = l.activity.last_over(p.sources)) return {*last, true};
  // Never active over these sources: count from the start of the training.
  if (l.start_date) return {local_midnight(*l.start_date, zone), false};
  if (p.session_start) return {local_midnight(*p.session_start, zone), false};
  return {l.first_seen, false};
}

std::optional<Timestamp> threshold_time(const Learner& l, const Policy& p, const ZoneRules& zone) {
  const InactivityRef ref = inactivity_ref(l, p, zone);
  if (p.condition == Condition::never_accessed && ref.ever_active) return std::nullopt;
  return add_local_days(ref.since, p.days, zone);
}

Detector::Detector(const std::vector<Policy>& policies, Timestamp now, const ZoneRules& zone)
    : policies_(policies), zone_(zone), earliest_uncrossed_(policies.size()) {
  order_.resize(policies_.size());
  std::iota(order_.begin(), order_.end(), std::size_t{0});
  std::stable_sort(order_.begin(), order_.end(),
                   [&](std::size_t a, std::size_t b) { return policies_[a].priority > policies_[b].priority; });
  // ref + N local days <= now  <=>  ref <= now - N local days (both monotonic).
  cutoff_.reserve(policies_.size());
  for (const auto& p : policies_) cutoff_.push_back(add_local_days(now, -p.days, zone));
}

std::optional<Timestamp> Detector::next_crossing() const {
  std::optional<Timestamp> best;
  for (std::size_t i = 0; i < policies_.size(); ++i) {
    if (!earliest_uncrossed_[i]) continue;
    const Timestamp t = add_local_days(*earliest_uncrossed_[i], policies_[i].days, zone_);
    if (!best || t < *best) best = t;
  }
  return best;
}

std::optional<Detection> Detector::examine(const Learner& l, const CaseIndex& cases) {
  return examine_learner(l, cases).detection;
}

Detector::Examination Detector::examine_learner(const Learner& l, const CaseIndex& cases) {
  Examination out;
  if (l.status != LearnerStatus::active) return out;
  if (cases.has_active_case(l.key)) return out;
  for (std::size_t i : order_) {
    const Policy& p = policies_[i];
    if (!p.applies_to(l)) continue;
    const InactivityRef ref = inactivity_ref(l, p, zone_);
    if (p.condition == Condition::never_accessed && ref.ever_active) continue;
    if (ref.since > cutoff_[i]) {
      auto& e = earliest_uncrossed_[i];
      if (!e || ref.since < *e) e = ref.since;
      const Timestamp t = add_local_days(ref.since, p.days, zone_);
      if (!out.next_crossing || t < *out.next_crossing) out.next_crossing = t;
      continue;
    }
    if (cases.covered(l.key, i, ref.since)) continue;
    out.detection = Detection{i, ref, add_local_days(ref.since, p.days, zone_)};
    out.next_crossing.reset();
    return out;
  }
  return out;
}

}  // namespace relance
