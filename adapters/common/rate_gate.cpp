#include "adapters/common/rate_gate.hpp"

#include <algorithm>

namespace relance::net {

namespace {

using std::chrono::milliseconds;

// A refusal asking for more than this is an outage or a penalty, not the
// bucket's period: wait it out once, but do not pace every later send on it.
constexpr milliseconds max_spacing{5000};
// Answer mode: after this many successes in a row, shrink the spacing by
// 1/32; a refusal grows it by 1/8. Shrinking is slow on purpose: each probe
// that turns out too fast costs a 429.
constexpr int successes_per_shrink = 100;

}  // namespace

RateGate::clock::time_point RateGate::next_send(clock::time_point now) const {
  auto t = std::max(now, blocked_until_);
  if (spacing_.count() > 0) t = std::max(t, last_sent_ + spacing_);
  return t;
}

void RateGate::on_answer(const RateSignal& s, clock::time_point now) {
  const bool headers = s.remaining.has_value() && s.reset_in.has_value();
  if (s.status == 429) {
    successes_ = 0;
    const milliseconds wait = s.retry_after ? *s.retry_after : s.reset_in ? *s.reset_in : milliseconds(1000);
    blocked_until_ = std::max(blocked_until_, now + wait);
    // Without headers, the refusal is all we learn: pace on it, and if we
    // were already pacing, we were too fast: slow down by 1/8.
    if (!headers && wait <= max_spacing) spacing_ = std::max({wait, spacing_ + spacing_ / 8});
    return;
  }
  if (headers) {
    // Header mode paces by Remaining alone.
    spacing_ = milliseconds(0);
    if (*s.remaining <= 0) blocked_until_ = std::max(blocked_until_, now + *s.reset_in);
    return;
  }
  if (s.status < 400 && spacing_.count() > 0 && ++successes_ >= successes_per_shrink) {
    successes_ = 0;
    spacing_ -= spacing_ / 32;
  }
}

}  // namespace relance::net
