// SMS gateway: Twilio Programmable Messaging, or any provider speaking the same
// REST API ("Twilio-compatible": Plivo-style clones, SignalWire's LaML, the
// test fake), after ../shared/specs/twilio/NOTES.md.
//
// Outbound (NOTES §1): POST {api_url}/2010-04-01/Accounts/{sid}/Messages.json,
// form-encoded To, From (or MessagingServiceSid), Body, StatusCallback, with
// Basic auth (AccountSid:AuthToken). 201 is sent (remote_id = the Message
// sid); 429 (20429), 5xx and no answer are retried (Retry-After honoured);
// any other 4xx fails ("HTTP 400: 21211 The 'To' number ..."), 21610 with
// `recipient_opted_out` (the learner replied STOP to Twilio).
//
// Twilio has no idempotency key for Messages: a request that timed out after
// Twilio took it may be sent twice when the app retries. The app's outbox
// accepts that (a duplicate relaunch SMS, never a lost one).
//
// Inbound (NOTES §2, §4, §5): two pure webhook parsers, one for messages
// (/hooks/sms/twilio, answered with empty TwiML so Twilio sends no reply of
// its own) and one for status callbacks (/hooks/sms/twilio/status). Both
// check X-Twilio-Signature against the *public* URL configured in Twilio
// (webhook_url, status_callback_url), never the local one a reverse proxy
// forwards to: the signature covers the scheme, host and port Twilio used.
#pragma once

#include "adapters/common/form.hpp"
#include "adapters/common/http_client.hpp"
#include "adapters/sms/sms.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace relance::sms::twilio {

// Where the app's HTTP server routes Twilio's requests.
inline constexpr std::string_view inbound_path = "/hooks/sms/twilio";
inline constexpr std::string_view status_path = "/hooks/sms/twilio/status";

// The answer to an inbound message: no reply (NOTES §3: always valid TwiML,
// with Content-Type text/xml, or Twilio's console logs a webhook error).
inline constexpr std::string_view empty_twiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)";

struct TwilioConfig {
  // The REST API's base; another value for a Twilio-compatible provider or a
  // test fake. No trailing path: "/2010-04-01/..." is appended.
  std::string api_url = "https://api.twilio.com";
  std::string account_sid;  // AC + 32 hex: the Basic auth user and part of the path
  std::string auth_token;   // the Basic auth password and the webhook signing key (from the environment)
  // The sender: a Twilio number in E.164 or an alphanumeric sender id ("ORGANISME",
  // cannot receive replies), or a Messaging Service (MG...) which picks the
  // sender itself. One of the two is required; with both, the service wins.
  std::string from;
  std::string messaging_service_sid;
  // The public URL of /hooks/sms/twilio as Twilio sees it (as configured on the
  // number or the Messaging Service, behind the reverse proxy):
  // "https://relance.example.org/hooks/sms/twilio". Empty: inbound refused.
  std::string webhook_url;
  // The public URL of /hooks/sms/twilio/status, sent as StatusCallback with
  // every message. Empty: no status callbacks asked for (and any refused).
  std::string status_callback_url;
  // Auth tokens still accepted for signatures while a rotation is in
  // progress (NOTES §5: Twilio signs with the primary token, which may be
  // the old one until the rotation is promoted). Never used to send.
  std::vector<std::string> previous_auth_tokens;
  std::chrono::seconds timeout{15};  // one send: DNS, connect, TLS, request, answer
};

// What is wrong with a config, one sentence each (empty: usable). check-config
// prints them; the gateway's constructor throws std::invalid_argument with the first.
std::vector<std::string> config_problems(const TwilioConfig& config);

class TwilioGateway final : public Gateway {
public:
  // Throws std::invalid_argument on a config with problems (config_problems).
  // `http` outlives the gateway.
  TwilioGateway(net::HttpClient& http, TwilioConfig config);

  std::string_view provider() const override { return "twilio"; }
  // Status callbacks (by the message sid) come to /hooks/sms/twilio/status,
  // asked per message (status_callback_url) or set on the Messaging Service.
  channel::Capabilities capabilities() const override { return {channel::Capabilities::Body::sms, true, false, 0}; }
  boost::asio::awaitable<SendResult> send(Message m) override;

  const TwilioConfig& config() const { return config_; }

private:
  net::HttpClient& http_;
  TwilioConfig config_;
  std::string url_;            // .../Accounts/{sid}/Messages.json
  std::string authorization_;  // "Basic ..."
};

// ---- pure pieces (the gateway and the parsers are made of these; tests use them) ----

// {api_url}/2010-04-01/Accounts/{sid}/Messages.json (no double slash).
std::string messages_url(const TwilioConfig& config);
// The form of one send: To, From or MessagingServiceSid, Body, StatusCallback (if configured).
net::FormFields send_form(const Message& m, const TwilioConfig& config);
// "Basic " + base64(user ":" password).
std::string basic_authorization(std::string_view user, std::string_view password);
// A Messages.json answer (or no answer) as the outbox sees it.
SendResult to_send_result(const net::HttpResult& r, std::chrono::system_clock::time_point now);

// NOTES §5: base64(HMAC-SHA1(token, url + each name+value, names in byte
// order, a repeated name once per distinct value, values sorted)).
std::string compute_signature(std::string_view url, const net::FormFields& post_params, std::string_view token);
// Checks `header` (X-Twilio-Signature) in constant time against the URL as
// given, without its port, and with the scheme's default port (the official
// helpers accept both forms). `post_params`: the form body of a POST; empty
// for a GET (its parameters are in the URL's query).
bool valid_signature(std::string_view url, const net::FormFields& post_params, std::string_view header,
                     std::string_view token);
// The same with the config's auth_token, then each of previous_auth_tokens.
bool valid_signature(std::string_view url, const net::FormFields& post_params, std::string_view header,
                     const TwilioConfig& config);
// The URL Twilio signed for a request arriving at `target`: the configured
// public URL, its query replaced by the request's one when the request has
// one (Twilio requests exactly the configured URL, query included).
std::string signed_url(std::string_view public_url, std::string_view target);

// POST (form body) or GET (query) on /hooks/sms/twilio. 403 for a missing or
// wrong signature (or no webhook_url / auth_token configured), 400 without
// MessageSid or From; else one Inbound (provider_id MessageSid, from, to,
// text = Body exactly) and an empty TwiML answer (200, text/xml).
// An inbound STOP is passed on like any message: Twilio has already blocked
// the number on its side (NOTES §6); the app records the opt-out.
HookOutcome parse_inbound(const Request& request, const TwilioConfig& config);

// POST on /hooks/sms/twilio/status, signed with status_callback_url. One
// DeliveryReport by remote_id (MessageSid): delivered -> delivered;
// undelivered, failed, canceled -> failed (detail "undelivered 30003");
// anything else (queued, sending, sent, accepted, ...) -> progress. The app
// keeps a final state when a late intermediate one arrives (NOTES §4: out of order).
HookOutcome parse_status(const Request& request, const TwilioConfig& config);

// What refuses a request to either hook before its body is read (the
// signature covers the body, so only its absence can be decided then): 405
// for another method, 403 when `public_url` (webhook_url or
// status_callback_url) is not configured or X-Twilio-Signature is missing.
std::optional<HookOutcome> refusal_before_body(const Request& head, std::string_view public_url);

}  // namespace relance::sms::twilio
