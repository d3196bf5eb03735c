// Pacing toward one destination (a chat server, an SMS gateway), learned from
// the server's own answers, as a pure state machine: the send loop asks when
// it may send, tells when it sent, and feeds back each answer. No I/O, no
// clock: tests step it with a fake time.
//
// Two ways servers tell their limit:
// - headers on every answer (Mattermost: X-Ratelimit-Limit, -Remaining,
//   -Reset = seconds until the bucket is full again, specs/mattermost/NOTES §1):
//   never send while Remaining is 0, wait for the reset. Against a token
//   bucket this runs at the bucket's rate with no 429 at all. Sends still
//   unanswered count against Remaining (several senders may share a gate).
//   The reset comes in whole seconds: against a small, fast bucket (5 deep,
//   20/s) the wait for a full bucket is rounded up to 1 s, so the pace is
//   about burst/second there; a stock Mattermost (burst 100, 10/s) is not
//   affected.
// - only a refusal (Matrix: 429 M_LIMIT_EXCEEDED with Retry-After or
//   retry_after_ms, specs/matrix/NOTES): wait as told, then keep that spacing
//   between sends (the wait for one more token is the bucket's period), grow
//   it on each further refusal and shrink it slowly while sends succeed.
#pragma once

#include <chrono>
#include <optional>

namespace relance::net {

// What an answer said about the limit. Fill what the protocol gives.
struct RateSignal {
  int status = 200;
  std::optional<std::chrono::milliseconds> retry_after;  // Retry-After, or Matrix retry_after_ms
  std::optional<long> limit;                             // X-Ratelimit-Limit
  std::optional<long> remaining;                         // X-Ratelimit-Remaining
  std::optional<std::chrono::milliseconds> reset_in;     // X-Ratelimit-Reset (seconds until full)
};

class RateGate {
public:
  using clock = std::chrono::steady_clock;

  // The earliest instant the next request may leave (`now` if at once).
  // Every send is followed by exactly one on_answer or on_no_answer.
  clock::time_point next_send(clock::time_point now) const;
  void on_sent(clock::time_point now);
  void on_answer(const RateSignal& s, clock::time_point now);
  // The send got no answer (connection failure, timeout): it is no longer in flight.
  void on_no_answer();

  // The spacing currently kept between sends (answer mode), for logs and tests.
  std::chrono::milliseconds spacing() const { return spacing_; }

private:
  clock::time_point blocked_until_{};
  clock::time_point last_sent_{};
  std::chrono::milliseconds spacing_{0};
  int successes_ = 0;
  int in_flight_ = 0;  // sent, not answered yet
  // Header mode: requests we may still send before the bucket is empty
  // (Remaining less what is in flight), the bucket's depth, and when it is
  // full again.
  std::optional<long> budget_;
  std::optional<long> limit_;
  clock::time_point full_at_{};
  std::chrono::milliseconds refill_span_{1000};  // last reset told with an empty bucket
};

}  // namespace relance::net
