// The contract between relance's learner-message dispatcher (bot/app) and the
// SMS gateways (adapters/sms/kannel, adapters/sms/twilio, adapters/sms/http).
//
// Outbound: each gateway is a channel::LearnerPort (adapters/channel). The
// app picks the row (outbox, quiet hours, opt-out, rate limit), renders the
// text and checks its length; a Gateway only speaks its protocol and says
// what happened: sent (with the provider's id, if it gives one), retry
// (network trouble, 5xx, 429: same message later) or failed (4xx: bad
// number, refused; recorded on the case, never retried). The HTTP status
// rule is channel::http_refused, shared by the three gateways.
//
// Inbound: a gateway's webhook parser is a pure function of the request. It
// checks the caller (shared secret, signature) and turns the request into
// messages and delivery reports; the app stores them, commits (fsync), and
// only then answers the provider with the status/body the parser chose. A
// request the app could not store gets a 500 so the provider sends it again;
// the provider's message id makes that retry harmless.
#pragma once

#include "adapters/channel/learner_port.hpp"
#include "adapters/common/hook_request.hpp"
#include "bot/domain/time.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relance::sms {

// One outgoing SMS: the port's message (outbox_id, to in E.164, text in
// UTF-8, its length already checked by the app against the parts limit).
using Message = channel::Message;

// What a send did: the port's one result type (sent with the provider's id,
// retry with Retry-After, failed with the reason and, at Twilio 21610,
// recipient_opted_out for the consent log).
using SendResult = channel::SendResult;

// An SMS gateway is a learner channel: channel() "sms", body Body::sms.
// provider() is "kannel", "twilio" or "http" (outbox rows' provider).
class Gateway : public channel::LearnerPort {
public:
  std::string_view channel() const final { return "sms"; }
  std::string_view name() const { return provider(); }  // "kannel", "twilio", "http"
};

// ---- inbound ------------------------------------------------------------------

// An HTTP request to a hook, as received (the app's server fills it).
using Request = net::HookRequest;

// A message a learner sent.
struct Inbound {
  std::string provider_id;  // the provider's message id: dedupe key (Kannel %I, Twilio MessageSid)
  std::string from;         // as the provider gave it (33612345678, +33612345678, 0612345678): the app normalises
  std::string to;           // our number
  std::string text;         // UTF-8, exact (whitespace kept where the protocol allows)
  std::optional<Timestamp> sent_at;
};

enum class DeliveryState : std::uint8_t {
  progress,   // intermediate: queued / accepted by the SMSC, sent to the carrier
  delivered,  // final success
  failed,     // final failure (undelivered, rejected)
};
std::string_view to_string(DeliveryState s);

// A delivery report for a message we sent. Either outbox_id (Kannel: ours,
// carried in the dlr-url) or remote_id (Twilio: the sid we were given) says which.
struct DeliveryReport {
  std::optional<std::int64_t> outbox_id;
  std::string remote_id;
  DeliveryState state = DeliveryState::progress;
  std::string detail;  // provider status / error code, for the record: "8 ACK/", "undelivered 30003"
};

// What a webhook parser decided. status != 2xx: refused (nothing to store);
// `error` says why, for the log (never the secret). Otherwise the app stores
// `messages` and `reports` and answers `status` + `body` once committed.
struct HookOutcome {
  int status = 200;
  std::string error;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<Inbound> messages;
  std::vector<DeliveryReport> reports;

  static HookOutcome refuse(int status, std::string why) {
    HookOutcome o;
    o.status = status;
    o.error = std::move(why);
    o.body = status == 403 ? "forbidden\n" : status == 400 ? "bad request\n" : "error\n";
    return o;
  }
};

// Constant-time comparison for secrets and signatures (length leaks, content does not).
bool same_secret(std::string_view a, std::string_view b);

// A provider's answer body for an error line: one line (tabs and line breaks
// become spaces), at most `max` bytes, never a cut UTF-8 sequence.
std::string body_excerpt(std::string_view body, std::size_t max);

// Splits "path?query" and decodes the query as a form (helpers for the parsers).
std::string_view target_path(std::string_view target);
std::string_view target_query(std::string_view target);

}  // namespace relance::sms
