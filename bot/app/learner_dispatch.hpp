// Learner messages (SMS, email, Matrix) from the outbox to their channel.
//
// One queue per channel, in due order. For each row, at send time (not only
// when it was planned):
//   - the contact window: a message due in quiet hours, on a Sunday or a
//     public holiday waits in the outbox until the window opens (a retry
//     falling at 20:05 waits until 08:00 too);
//   - consent: an SMS to a learner who has opted out is not sent; the row is
//     cancelled with the reason and the case's thread tells staff to phone;
//   - the SMS length: over the configured number of parts, refused;
//   - the channel's send rate (one message every 1/rate seconds).
// The attempt is committed before the send (outbox.started); the result
// after it, with whatever it causes (a failure is journaled and told in the
// case's staff thread, an opt-out reported by the gateway goes to the consent
// log) in the same transaction. Every channel answers with the port's one
// result (channel::SendResult: sent / retry / failed). Transient failures (no answer, 5xx, 429) are
// retried with capped exponential backoff or the server's Retry-After;
// permanent ones (4xx) are not.
#pragma once

#include "adapters/channel/learner_port.hpp"
#include "bot/app/engine.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace relance::app {

// One learner channel: its port (adapters/channel/learner_port.hpp: an SMS
// gateway, SMTP, Matrix direct rooms, ...) and the app's limits for it.
// The outbox channel is port->channel(), the rows' provider port->provider();
// the text is rendered as port->capabilities().body asks (SMS or rich).
struct LearnerChannel {
  channel::LearnerPort* port = nullptr;  // not owned; outlives the dispatcher
  double rate_per_second = 5;            // at most this many sends a second (0: no limit)
  int max_sms_parts = 0;                 // Body::sms: refuse longer texts (0: the port's max_parts, if any)
  int max_attempts = 12;                 // transient failures before giving up (~1 day with the backoff)
};

class LearnerDispatcher {
public:
  // `on_change` runs after a row's outcome is committed (staff notices may be
  // waiting: the runtime wakes the chat dispatchers).
  LearnerDispatcher(boost::asio::any_io_executor ex, Engine& engine, std::vector<LearnerChannel> channels,
                    std::function<Timestamp()> clock, std::function<void()> on_change = {});
  ~LearnerDispatcher();
  LearnerDispatcher(const LearnerDispatcher&) = delete;
  LearnerDispatcher& operator=(const LearnerDispatcher&) = delete;

  void start();
  void stop();
  // Rows may be ready (a scan, an inbound START): look now.
  void wake();

  std::int64_t sent() const;
  std::int64_t failed() const;

private:
  struct State;
  std::shared_ptr<State> state_;
};

// Backoff for a transient failure: 1 min, 2, 4 ... capped at 2 h, with the
// server's Retry-After when it is longer.
std::chrono::seconds learner_retry_delay(int attempts, std::optional<std::chrono::milliseconds> retry_after);

}  // namespace relance::app
