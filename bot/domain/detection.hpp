// Detection: which learners cross which policy's threshold at `now`.
// Streams one learner at a time so a pass over a million learners needs no
// more memory than the policies and the set of cases already open.
#pragma once

#include "bot/domain/learner.hpp"
#include "bot/domain/policy.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace relance {

// The instant a learner's inactivity is counted from, for one policy:
// the last activity over the policy's sources, else the start date, else
// (never_accessed) the policy's session start, else when we first saw them.
// Dates count from local midnight in the organisation's zone.
struct InactivityRef {
  Timestamp since;          // inactivity runs from here
  bool ever_active = false; // some activity over the policy's sources exists
};
InactivityRef inactivity_ref(const Learner& l, const Policy& p, const ZoneRules& zone);

// The instant the learner crosses the policy's threshold — `days` calendar
// days in the zone, so DST does not shift it by an hour — (may be in the
// past), or nothing when the policy can never fire for them (never_accessed
// and active).
std::optional<Timestamp> threshold_time(const Learner& l, const Policy& p, const ZoneRules& zone);

struct Detection {
  std::size_t policy_index;
  InactivityRef ref;
  Timestamp crossed_at;
};

// Tells the detector whether a (learner, policy) pair is already handled: a
// case is open, or a closed case covered this same inactivity episode.
class CaseIndex {
public:
  virtual ~CaseIndex() = default;
  // A learner with an active case is not examined again.
  virtual bool has_active_case(std::int64_t learner_key) const = 0;
  // `ref` is the current inactivity reference; a case of this policy opened
  // with a reference at or after it already covered the episode.
  virtual bool covered(std::int64_t learner_key, std::size_t policy_index, Timestamp ref) const = 0;
};

class Detector {
public:
  Detector(const std::vector<Policy>& policies, Timestamp now, const ZoneRules& zone);

  // At most one detection per learner: the highest-priority policy that
  // fires and is not already covered. Also tracks the earliest future
  // crossing, so the scheduler knows when to look again.
  std::optional<Detection> examine(const Learner& l, const CaseIndex& cases);

  std::optional<Timestamp> next_crossing() const;

  // The same, and when this learner must be examined next if nothing about
  // them changes: the earliest future crossing of a policy that applies to
  // them (nothing: no policy can fire for them, or one just did).
  struct Examination {
    std::optional<Detection> detection;
    std::optional<Timestamp> next_crossing;
  };
  Examination examine_learner(const Learner& l, const CaseIndex& cases);

private:
  const std::vector<Policy>& policies_;
  const ZoneRules& zone_;
  std::vector<std::size_t> order_;  // policy indexes, highest priority first
  // Per policy, computed once per pass so that examining a learner is only
  // integer comparisons: the threshold is crossed iff ref <= cutoff, and the
  // next crossing is (earliest uncrossed ref) + days.
  std::vector<Timestamp> cutoff_;
  std::vector<std::optional<Timestamp>> earliest_uncrossed_;
};

}  // namespace relance
