// A fake Twilio following ../shared/specs/twilio/NOTES.md: the REST API's
// Messages resource (§1: Basic auth, form fields, E.164 check, the 201 Message
// resource with its string counters, RFC 2822 dates and SM sids, JSON errors
// with Twilio's codes, 429/20429 with Retry-After, 21610 for a recipient who
// replied STOP) and Twilio's side of the webhooks (§2, §4): inbound messages
// and status callbacks, signed with X-Twilio-Signature (§5) from the *public*
// URL, then delivered through a "reverse proxy" map to where relance listens.
// Built on FakeHttpServer.
//
// Not modelled: MMS, Messaging Service sender pools (a service sid is
// accepted and echoed), scheduling, message listing and fetching, API keys,
// subaccounts, the TwiML a reply asks for (recorded, not sent).
#pragma once

#include "adapters/common/form.hpp"
#include "adapters/common/http_client.hpp"
#include "fake_http_server.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::test {

class FakeTwilio {
public:
  struct Options {
    std::string account_sid = "AC0123456789abcdef0123456789abcdef";
    std::string auth_token = "f0e1d2c3b4a5968778695a4b3c2d1e0f";  // signs the webhooks too
    // The numbers of the account (From must be one of them, or an
    // alphanumeric sender id; any MessagingServiceSid MG... is accepted).
    std::vector<std::string> numbers{"+33700000000"};
    std::string retry_after = "1";  // the Retry-After of a 429 ("" none)
  };

  // One message created through the API.
  struct Message {
    std::string sid;  // SM + 32 hex
    std::string from;
    std::string messaging_service_sid;
    std::string to;
    std::string body;  // form-decoded: exactly what relance sent
    std::string status_callback;
    std::string status;  // queued / accepted, then what send_status set
    int num_segments = 0;
  };

  // An inbound SMS, as Twilio posts it to the number's webhook (NOTES §2).
  struct Inbound {
    std::string from = "+33612345678";
    std::string to;                 // empty: the first of Options::numbers
    std::string body;
    std::string message_sid;        // empty: a new SM sid
    std::string method = "POST";    // or "GET" (the parameters in the query)
    net::FormFields extra;          // more parameters (OptOutType, a new one Twilio adds ...)
  };

  // What relance answered to a webhook.
  struct WebhookResult {
    net::HttpResult answer;
    std::string sid;        // the inbound MessageSid / the message whose status was sent
    std::string signature;  // the X-Twilio-Signature sent
  };

  FakeTwilio() : FakeTwilio(Options{}) {}
  explicit FakeTwilio(Options options);
  ~FakeTwilio();

  // TwilioConfig::api_url (the fake serves /2010-04-01/Accounts/{sid}/Messages.json).
  std::string api_url() const { return server_.url(); }
  const Options& options() const { return options_; }
  FakeHttpServer& server() { return server_; }
  std::vector<FakeRequest> requests() const { return server_.requests(); }

  // ----- state for assertions -----
  std::vector<Message> messages() const;  // in creation order
  std::optional<Message> message(const std::string& sid) const;

  // ----- failures -----
  // The next `count` sends answer `status` with Twilio's error body for
  // `code`: 429 -> 20429 (with Retry-After), 500 -> 20500, 503 -> 20503,
  // 400 + 21610 (opted out), 400 + 21211 ... `code` 0 picks the usual one.
  void fail_next(int status, int count = 1, int code = 0);
  // The next `count` sends get their connection closed, no answer.
  void drop_next(int count = 1);
  // `number` replied STOP: every send to it gets 21610 until opt_in(number).
  void opt_out(const std::string& number);
  void opt_in(const std::string& number);

  // ----- the reverse proxy in front of relance -----
  // A webhook URL starting with `public_prefix` ("https://relance.example.org")
  // is delivered to `local_prefix` + the rest ("http://127.0.0.1:8080"); the
  // signature is computed on the public URL, as Twilio does. Unmapped URLs are
  // requested as they are.
  void route(std::string public_prefix, std::string local_prefix);

  // ----- Twilio toward relance (run on the test's executor) -----
  // A status callback for message `sid` to the StatusCallback it was created
  // with (NOTES §4: MessageSid, MessageStatus, SmsSid, SmsStatus, AccountSid,
  // From, To, ApiVersion, ErrorCode on failed/undelivered), signed. Sets the
  // message's status. A message without StatusCallback: the answer's failure
  // is bad_url.
  boost::asio::awaitable<WebhookResult> async_send_status(boost::asio::any_io_executor ex, std::string sid,
                                                          std::string status, std::string error_code = {});
  // An inbound SMS to `webhook_url` (public, as configured on the number), signed.
  boost::asio::awaitable<WebhookResult> async_send_inbound(boost::asio::any_io_executor ex, std::string webhook_url,
                                                           Inbound in);

  // The parameters Twilio would post for `in` (sid filled), in Twilio's order.
  net::FormFields inbound_params(Inbound& in) const;
  // X-Twilio-Signature (NOTES §5), written independently of the adapter's
  // so that each checks the other.
  static std::string signature(std::string_view url, const net::FormFields& post_params, std::string_view token);
  static std::string new_sid(std::string_view prefix = "SM");  // prefix + 32 lowercase hex

  struct Impl;

private:
  boost::asio::awaitable<WebhookResult> deliver(boost::asio::any_io_executor ex, std::string method,
                                                std::string public_url, net::FormFields params, std::string sid);

  Options options_;
  std::unique_ptr<Impl> impl_;
  FakeHttpServer server_;  // last: its thread starts once the rest exists
};

}  // namespace relance::test
