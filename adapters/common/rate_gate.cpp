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
  // Nothing left in the bucket as far as we know: wait until it is full
  // again, or until an answer says more (the Pacer re-asks on every answer).
  if (budget_ && *budget_ <= 0) t = std::max(t, full_at_);
  return t;
}

void RateGate::on_sent(clock::time_point now) {
  last_sent_ = now;
  ++in_flight_;
  if (!budget_) return;
  if (*budget_ <= 0 && now >= full_at_) {
    // Full again by now: a bucket's worth, and the next refill takes about
    // as long as the last one we were told of (unless an answer says better).
    budget_ = limit_.value_or(1);
    full_at_ = now + refill_span_;
  }
  --*budget_;
}

void RateGate::on_no_answer() {
  if (in_flight_ > 0) --in_flight_;
}

void RateGate::on_answer(const RateSignal& s, clock::time_point now) {
  if (in_flight_ > 0) --in_flight_;
  const bool headers = s.remaining.has_value() && s.reset_in.has_value();
  if (headers) {
    if (s.limit && *s.limit > 0) limit_ = *s.limit;
    // Remaining was counted when the server took this request; the ones
    // still in flight will take their tokens too.
    budget_ = *s.remaining - in_flight_;
    full_at_ = now + *s.reset_in;
    if (*s.remaining <= 0) refill_span_ = *s.reset_in;
  }
  if (s.status == 429) {
    successes_ = 0;
    const milliseconds wait = s.retry_after ? *s.retry_after : s.reset_in ? *s.reset_in : milliseconds(1000);
    // A refusal that arrives while we were still blocked by the previous one
    // answers a request sent before we knew (several senders, one window):
    // it says nothing new about the pace.
    const bool news = now >= blocked_until_;
    blocked_until_ = std::max(blocked_until_, now + wait);
    // Without headers, the refusal is all we learn: pace on it, and if we
    // were already pacing, we were too fast: slow down by 1/8.
    if (!headers && wait <= max_spacing) spacing_ = std::max({wait, news ? spacing_ + spacing_ / 8 : spacing_});
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
