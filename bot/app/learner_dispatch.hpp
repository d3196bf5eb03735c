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
// log) in the same transaction. Transient failures (no answer, 5xx, 429) are
// retried with capped exponential backoff or the server's Retry-After;
// permanent ones (4xx) are not.
#pragma once

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

struct LearnerSendResult {
  enum class Status : std::uint8_t { sent, retry, failed };
  Status status = Status::retry;
  std::string provider;   // kannel, twilio, http, smtp, matrix
  std::string remote_id;  // the provider's id, when it gives one
  std::optional<std::chrono::milliseconds> retry_after;
  std::string error;
  bool recipient_opted_out = false;  // the gateway says so (Twilio 21610)
};

// Sends one rendered message. Runs on the dispatcher's executor.
using LearnerSend = std::function<boost::asio::awaitable<LearnerSendResult>(const store::OutboxItem& item,
                                                                            const LearnerText& text,
                                                                            const Learner& learner)>;

struct LearnerChannel {
  std::string channel;           // sms, email, matrix (the outbox channel)
  LearnerSend send;
  double rate_per_second = 5;    // at most this many sends a second (0: no limit)
  int max_sms_parts = 0;         // sms: refuse longer texts (0: no limit)
  int max_attempts = 12;         // transient failures before giving up (~1 day with the backoff)
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
