// Pacing toward one destination (a chat server, an SMS gateway), learned from
// the server's own answers, as a pure state machine: the send loop asks when
// it may send, tells when it sent, and feeds back each answer. No I/O, no
// clock: tests step it with a fake time.
//
// Two ways servers tell their limit:
// - headers on every answer (Mattermost: X-Ratelimit-Limit, -Remaining,
//   -Reset = seconds until the bucket is full again, specs/mattermost/NOTES §1):
//   never send while Remaining is 0, wait for the reset. Against a token
//   bucket this runs at exactly the bucket's rate with no 429 at all.
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
  clock::time_point next_send(clock::time_point now) const;
  void on_sent(clock::time_point now) { last_sent_ = now; }
  void on_answer(const RateSignal& s, clock::time_point now);

  // The spacing currently kept between sends (answer mode), for logs and tests.
  std::chrono::milliseconds spacing() const { return spacing_; }

private:
  clock::time_point blocked_until_{};
  clock::time_point last_sent_{};
  std::chrono::milliseconds spacing_{0};
  int successes_ = 0;
};

}  // namespace relance::net
