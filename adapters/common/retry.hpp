// Retry helpers every adapter shares: capped exponential backoff with jitter,
// and the server's own answer (`Retry-After`) when it gives one.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace relance::net {

// The delay before retry number `attempt` (0 = first retry):
// min(cap, initial * 2^attempt), then "equal jitter": half of it fixed and
// half drawn from `unit` in [0, 1). The fixed half keeps a minimum spacing;
// the random half spreads many clients that failed together (a server restart)
// so they do not all come back in the same second.
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds initial, std::chrono::milliseconds cap,
                                        double unit);

// A reconnect/retry loop's state: next() grows the delay, reset() after a success.
class Backoff {
public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap);
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }
  std::chrono::milliseconds cap() const { return cap_; }

private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  int attempt_ = 0;
  std::minstd_rand rng_;
};

// RFC 9110 §10.2.3: `Retry-After: 120` or an HTTP-date
// (`Wed, 21 Oct 2026 07:28:00 GMT`; the obsolete RFC 850 and asctime forms
// are accepted too, as the RFC asks of recipients). Returns how long to wait
// from `now` (zero for a date in the past), or nothing for an unreadable value.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// An HTTP-date as Unix seconds, or nothing.
std::optional<std::int64_t> parse_http_date(std::string_view value);

}  // namespace relance::net
