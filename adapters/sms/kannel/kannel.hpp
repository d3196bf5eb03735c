// SMS gateway: Kannel 1.4.5 (bearerbox + smsbox), after
// ../shared/specs/kannel/NOTES.md and what the real Kannel did in our tests
// (tests/adapters/sms/kannel_real_test.cpp).
//
// Outbound (NOTES §1): GET {sendsms_url}?username&password&from&to&text
// &charset=UTF-8&coding=0|2[&smsc][&dlr-mask=27&dlr-url=...]. GET, not the
// POST variant: GET is smsbox's reference interface and keeps every field in
// one form-encoding layer (the POST variant moves them into X-Kannel-* headers,
// where the dlr-url with its escape codes and a non-ASCII text would need a
// second, header-safe encoding). The password is then in the URL: nothing here
// logs the URL, and no error string carries it.
//
// 202 ("0: Accepted for delivery", "3: Queued for later delivery") is sent,
// with no remote id: Kannel gives none, DLRs are matched by the outbox id we
// put in the dlr-url. 503, any 5xx, 429 and no answer are retried; 400, 403
// and any other answer fail with Kannel's one-line body ("HTTP 403:
// Authorization failed for sendsms").
//
// Kannel expands escape codes (%d, %A, %C, ...) inside the dlr-url and the
// sms-service URLs, and a percent-encoded byte whose first hex digit is A-F
// *is* an escape code to it: "é" = %C3%A9 came back as "UTF-83ACK%2F9"
// (observed on 1.4.5). `%%` is its escape for a literal '%', so every '%'
// of our own encoding is doubled (kannel_url_escape) and only the codes we
// mean (%d, %A, %I, ...) stay single.
//
// Inbound: parse_mo for the sms-service get-url (or post-url) and parse_dlr
// for the dlr-url, both pure, both checking the shared secret carried in the
// URL. The MO text is taken from %b (the exact bytes, URL-encoded) and decoded
// by %C: %a squeezes runs of spaces and, for UTF-16 data, can lose bytes.
#pragma once

#include "adapters/common/http_client.hpp"
#include "adapters/sms/sms.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace relance::sms::kannel {

// Where the app's HTTP server routes Kannel's requests.
inline constexpr std::string_view inbound_path = "/hooks/sms/kannel";
inline constexpr std::string_view dlr_path = "/hooks/sms/kannel/dlr";

// Delivery reports asked for: 1 delivered, 2 undelivered, 8 accepted by the
// SMSC, 16 rejected by the SMSC. Not 4 ("queued on SMSC"): SMPP links report
// it for every intermediate ENROUTE/ACCEPTD state, one HTTP callback each,
// and it decides nothing; 8 already tells that the SMSC took the message.
inline constexpr int dlr_mask = 1 | 2 | 8 | 16;

struct KannelConfig {
  std::string sendsms_url = "http://127.0.0.1:13013/cgi-bin/sendsms";
  std::string username, password;  // a `group = sendsms-user`
  std::string from;                // the sender; empty: Kannel's global-sender (it refuses with 400 without one)
  std::string smsc;                // optional route: an smsc-id
  // Longer texts fail here instead of being cut by Kannel at the
  // sendsms-user's max-messages (which must be at least this).
  int max_parts = 4;
  // How Kannel reaches relance, for the dlr-url and the recommended
  // sms-service: "http://127.0.0.1:8080" (no trailing slash needed).
  std::string public_url;
  // Carried in the dlr-url and the sms-service URL, expected back on both hooks.
  std::string secret;
  bool delivery_reports = true;
  std::chrono::seconds timeout{15};
};

class KannelGateway final : public sms::Gateway {
public:
  // Both must outlive the gateway's sends: `http` by reference, `config` is copied.
  KannelGateway(net::HttpClient& http, const KannelConfig& config);
  std::string_view provider() const override { return "kannel"; }
  // Reports when delivery_reports (dlr-url on each send, by our outbox id).
  channel::Capabilities capabilities() const override {
    return {channel::Capabilities::Body::sms, config_.delivery_reports, false, config_.max_parts};
  }
  boost::asio::awaitable<SendResult> send(Message m) override;

private:
  net::HttpClient& http_;
  KannelConfig config_;
};

// The kannel.conf `group = sms-service` that pushes every incoming SMS to
// relance's inbound hook (no blank line inside: a blank line ends a group).
// relance answers nothing (max-messages = 0): replies go through sendsms.
// Kannel does not retry a failed MO push unless the smsbox group has
// `http-request-retry` (see docs); that is outside this group.
std::string recommended_sms_service(const KannelConfig& config);

// ---- inbound (pure) -------------------------------------------------------------

// /hooks/sms/kannel: get-url (text in the `text` query field, decoded by
// `charset`/`coding`) or post-url (text = the body, decoded by its
// Content-Type charset; from/to also read from X-Kannel-From/-To). The query
// needs secret, id (%I) and from (%p); to (%P) and ts (%T, epoch seconds) are
// optional. When a field repeats, the first value counts. 403 without the
// right secret, 400 without from or id; otherwise 200 with an empty body (so
// that even a service with max-messages > 0 sends the learner nothing).
sms::HookOutcome parse_mo(const sms::Request& request, const KannelConfig& config);

// /hooks/sms/kannel/dlr: ref (our outbox id), type (%d), answer (%A).
// type 1 delivered; 2 and 16 failed; 4, 8 (and anything else) progress;
// detail "type 8 ACK/". 403 without the right secret, 400 without a numeric
// ref or type; otherwise 200, empty body.
sms::HookOutcome parse_dlr(const sms::Request& request, const KannelConfig& config);

// Either hook's 403 without the right secret, decided on the query alone:
// the HTTP server asks before it reads a body (`head`'s is empty).
std::optional<sms::HookOutcome> refusal_before_body(const sms::Request& head, const KannelConfig& config);

// ---- pure pieces, exposed for tests -----------------------------------------------

// form_escape, then every '%' doubled: the value survives Kannel's escape-code
// expansion (see the top of this file).
std::string kannel_url_escape(std::string_view value);

// The get-url of the recommended service:
// {public_url}/hooks/sms/kannel?secret=..&id=%I&from=%p&to=%P&ts=%T&coding=%c&charset=%C&text=%b
std::string mo_url(const KannelConfig& config);

// The dlr-url as Kannel must store it (before the sendsms form encoding):
// {public_url}/hooks/sms/kannel/dlr?secret=..&ref=<outbox_id>&type=%d&answer=%A
std::string dlr_url(std::int64_t outbox_id, const KannelConfig& config);

// Why this message cannot go to Kannel at all (empty when it can): a
// recipient that is not +digits (Kannel would read a space as a second
// recipient), an empty text, more parts than max_parts.
std::string refuse_reason(const Message& m, const KannelConfig& config);

// The full sendsms URL (it holds the password: never log it).
std::string sendsms_request_url(const Message& m, const KannelConfig& config);

// What Kannel's answer (or its absence) means for the outbox.
SendResult classify_sendsms(const net::HttpResult& result);

// Bytes in `charset` (Kannel's %C: "UTF-8", "UTF-16BE", "8-BIT", "GSM",
// "WINDOWS-1252", "ISO-8859-1", ...; `coding` 2 without a charset is UTF-16BE)
// as UTF-8. Never fails: invalid sequences become U+FFFD; "8-BIT" and an
// unknown charset are UTF-8 when the bytes are valid UTF-8, else Windows-1252.
std::string to_utf8(std::string_view bytes, std::string_view charset, int coding = -1);

}  // namespace relance::sms::kannel
