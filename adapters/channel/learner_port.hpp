// The learner-channel port: what the app's learner dispatcher
// (bot/app/learner_dispatch) knows of a channel that carries relaunches to
// learners (SMS through Kannel, Twilio or a generic HTTP gateway; email
// through SMTP; Matrix direct rooms). Every learner channel adapter
// implements LearnerPort; the app wires one in with one line.
//
// The app picks the row (outbox, contact window, consent, parts limit, pace)
// and renders the text in the form capabilities().body asks for; the port
// only speaks its protocol and says what happened, as one SendResult:
//   sent   (the provider's id when it gives one: delivery reports find the row by it)
//   retry  (no answer, 5xx, 429, ...: the same message later, after retry_after when told)
//   failed (permanent: bad address, refused, opted out at the provider; never retried)
#pragma once

#include "bot/domain/time.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relance::channel {

// One message to one learner, already rendered.
struct Message {
  std::int64_t outbox_id = 0;  // stable across retries: correlation (Kannel dlr-url, Matrix txnId, Message-ID) and idempotency
  std::string to;              // the address on this channel: +33612345678, lea@example.fr, @lea:example.org
  std::string text;            // UTF-8 plain text (Body::sms: the SMS, its length already checked)
  std::string html = {};       // Body::rich: the HTML alternative (empty: none)
  std::string subject = {};    // Body::rich: the subject, where the channel has one (email)
  std::string to_name = {};    // the learner's display name, where the channel shows one (email)
};

// What a send did: one type for every learner channel.
struct SendResult {
  enum Status : std::uint8_t {
    sent,    // accepted by the provider; remote_id when it gives one
    retry,   // transient: no answer, timeout, 5xx, 429 (retry_after when told)
    failed,  // permanent: retrying changes nothing
  };
  Status status = retry;
  std::string remote_id;                                 // sent: the provider's id (Twilio sid, Matrix event id)
  std::optional<Timestamp> at;                           // sent: when the provider says it took it (none: now)
  std::optional<std::chrono::milliseconds> retry_after;  // retry: the provider's Retry-After
  std::string error;  // for the outbox row and the case: "HTTP 400: 21211 The 'To' number ... is not valid"
  std::string code;   // failed: the provider's own code, when it gives one ("21610", "550")
  // The provider says this recipient opted out (Twilio 21610): the app
  // records it in the consent log as well.
  bool recipient_opted_out = false;
};

SendResult sent(std::string remote_id = {}, std::optional<Timestamp> at = std::nullopt);
SendResult retry(std::string reason, std::optional<std::chrono::milliseconds> after = std::nullopt);
SendResult failed(std::string reason, std::string code = {});
std::string_view to_string(SendResult::Status s);

// What a channel can do besides sending.
struct Capabilities {
  enum class Body : std::uint8_t {
    sms,   // one plain text counted in SMS parts (GSM-7 or UCS-2): the app fits it to max parts
    rich,  // plain text, with an HTML alternative and a subject where the channel has them
  };
  Body body = Body::rich;
  bool delivery_reports = false;  // the provider reports delivery later (by our outbox id or remote_id)
  bool threads = false;           // a reply can be threaded under an earlier message
  int max_parts = 0;              // Body::sms: the gateway's own limit (0: none of its own)
};

class LearnerPort {
public:
  virtual ~LearnerPort() = default;
  virtual std::string_view channel() const = 0;   // the outbox channel: sms, email, matrix
  virtual std::string_view provider() const = 0;  // outbox rows' provider: kannel, twilio, http, smtp, matrix
  virtual Capabilities capabilities() const = 0;
  // One call per message, on the app's executor; calls may overlap (the app paces them).
  virtual boost::asio::awaitable<SendResult> send(Message m) = 0;
};

}  // namespace relance::channel
