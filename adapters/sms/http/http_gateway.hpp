// SMS gateway: a generic HTTP API described entirely by the config, for the
// providers without an adapter of their own (Brevo, OVHcloud, Sinch, smsmode,
// an in-house relay...). One request per SMS, built from templates; the answer
// mapped to the outbox's sent / retry / failed. A webhook parser turns the
// provider's inbound-SMS callback into messages by configurable field names.
//
// Placeholders, usable in `url`, `body` and header values:
//   {to}           the recipient in E.164:                  +33612345678
//   {to_national}  the recipient's digits without '+':      33612345678
//   {to_00}        the same with the 00 international prefix: 0033612345678
//   {from}         config `from` (a sender id or a number)
//   {text}         the SMS text, UTF-8
//   {id}           the outbox id (stable across retries: a client reference)
//   {username}     config `username`
//   {secret}       config `secret` (a token or password, from the environment)
// Each value is escaped for where it lands:
//   url before '?'   percent-encoded (space is %20)
//   url after '?'    form-encoded (application/x-www-form-urlencoded: space is '+')
//   body             by content_type: "...json" -> JSON string content (the
//                    template puts the quotes: "content":"{text}"); "...form-
//                    urlencoded" -> form-encoded; "...xml" -> XML-escaped
//                    (& < > " '); anything else (text/plain) -> as is
//   header values    as is (a value with a line break fails the send: no header injection)
// A placeholder is '{' + a name of letters, digits and '_' + '}'; any other
// brace is literal, so a JSON body is written as it is sent. An unknown name is
// refused when the gateway is built (std::invalid_argument naming it), and a
// JSON body must still be JSON once the placeholders are filled (a missing pair
// of quotes is found at check-config time, not at the first send).
//
// Example configs (the app's example config copies them):
//
//   # Brevo transactional SMS (https://developers.brevo.com/reference/sendtransacsms)
//   [sms.http]
//   url = "https://api.brevo.com/v3/transactionalSMS/sms"
//   method = "POST"
//   content_type = "application/json"
//   headers = { "api-key" = "{secret}", accept = "application/json" }
//   body = '{"sender":"{from}","recipient":"{to_national}","content":"{text}","type":"transactional","tag":"relance","unicodeEnabled":true}'
//   from = "ORGANISME"          # alphanumeric sender id, 11 characters at most
//   # secret: the API key, from RELANCE_SMS_HTTP_SECRET
//   id_pointer = "/messageId"   # 201 {"reference":"...","messageId":1511882900176220,"smsCount":1,...}
//
//   # OVHcloud SMS, HTTP/GET interface (http2sms.cgi; the REST API /1.0/sms needs
//   # OVH's request signing, which a template cannot do)
//   [sms.http]
//   url = "https://www.ovh.com/cgi-bin/sms/http2sms.cgi?account=sms-ab12345-1&login=relance&password={secret}&from={from}&to={to_00}&message={text}&contentType=text%2Fjson&noStop=1&smsCoding=2&tag=relance"
//   method = "GET"
//   body = ""
//   from = "ORGANISME"
//   # secret: the SMS user's password, from RELANCE_SMS_HTTP_SECRET
//   id_pointer = "/SmsIds/0"          # contentType=text/json answers {"status":100,"creditLeft":"1987","SmsIds":["10867690"]}
//   success_pointer = "/status"       # OVH answers HTTP 200 even to errors:
//   success_values = ["100", "101"]   # status 201 "Missing message", 241 "Receiver not found" fail
//   # (smsCoding=2: Unicode, so accents arrive; noStop=1: no "STOP au ..." suffix, for
//   # non-commercial messages only; check both against OVH's current http2sms guide.)
//
// Inbound: POST /hooks/sms/generic?secret=... (or the X-Relance-Secret header),
// a JSON or form body (or GET with the fields in the query). Field names for
// JSON bodies are dotted paths ("message.from", "results.0.text": a number
// indexes an array) or JSON pointers when they start with '/'
// ("/message/from"); for forms and queries, the field's name. The secret
// comes from RELANCE_SMS_HTTP_INBOUND_SECRET in the app (16 characters or more).
#pragma once

#include "adapters/common/http_client.hpp"
#include "adapters/sms/sms.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relance::sms::http {

// Where the app's HTTP server routes the provider's inbound callbacks.
inline constexpr std::string_view inbound_path = "/hooks/sms/generic";

struct HttpGatewayConfig {
  // ---- outbound ----
  std::string url;                                   // http(s), a template
  std::string method = "POST";                       // GET (no body), POST or PUT
  std::string content_type = "application/json";    // sent as Content-Type with a body; decides the body's escaping
  std::string body;                                  // a template; empty: no body
  std::vector<std::pair<std::string, std::string>> headers;  // name, value template ({secret} for an API key)
  std::string auth;      // "": none (or in a header/url above), "basic": username:secret, "bearer": secret
  std::string username;  // basic auth user, {username}
  std::string secret;    // password or token (from the environment, never in the file), {secret}
  std::string from;      // {from}: sender id or number
  // JSON pointer (RFC 6901) to the provider's message id in a 2xx JSON answer:
  // "/messageId", "/ids/0", "/messages/0/id" (a number becomes its digits).
  // Empty: no id (delivery reports, if any, cannot be matched).
  std::string id_pointer;
  // For providers that answer 200 to errors: a JSON pointer in the 2xx answer
  // and the values meaning success ("/status" and ["100","101"]; a number is
  // compared by its digits). Another value, or none, fails the send with the
  // body excerpt. Empty pointer: any 2xx is a success.
  std::string success_pointer;
  std::vector<std::string> success_values;
  std::chrono::seconds timeout{15};  // one send, all steps

  // ---- inbound (/hooks/sms/generic) ----
  // The shared secret the provider's callback URL carries (?secret=...) or
  // sends as X-Relance-Secret. Empty: every inbound request is refused (403).
  std::string inbound_secret;
  // Where the fields are (see the header comment for paths). `inbound_id_field`
  // empty: the provider gives no id (no dedupe of its retries); `inbound_to_field`
  // is optional in the request.
  std::string inbound_from_field = "from";
  std::string inbound_text_field = "text";
  std::string inbound_id_field = "id";
  std::string inbound_to_field = "to";
};

// Throws std::invalid_argument naming the problem (unknown placeholder and
// where, bad method/auth/url, a JSON body that is not JSON once filled, a bad
// JSON pointer). The shape only: an empty secret/username/from is not checked
// here (the config is read before the environment brings the secret), the
// gateway's constructor checks those too.
void validate(const HttpGatewayConfig& config);

// One SMS as an HTTP request (pure; exposed for tests).
struct RenderedRequest {
  net::Method method = net::Method::post;
  std::string url;
  net::Headers headers;
  std::string body;
  std::string error;  // not empty: the request cannot be made (a line break in a header value)
};

class HttpGateway final : public Gateway {
public:
  // validate(), then the values the templates use ({secret}, {username},
  // {from}, auth) must not be empty: throws std::invalid_argument. `http`
  // outlives the gateway.
  HttpGateway(net::HttpClient& http, HttpGatewayConfig config);
  ~HttpGateway() override;

  std::string_view provider() const override { return "http"; }
  // No delivery reports: the generic gateway has an inbound hook only.
  channel::Capabilities capabilities() const override { return {channel::Capabilities::Body::sms, false, false, 0}; }
  boost::asio::awaitable<SendResult> send(Message m) override;

  RenderedRequest render(const Message& m) const;
  // The provider's answer (or none) as the outbox sees it: 2xx sent (remote_id
  // at id_pointer); 429, 5xx and no answer retry (Retry-After honoured);
  // another status fails with "HTTP 400: <body, at most ~300 bytes>".
  SendResult to_send_result(const net::HttpResult& r, std::chrono::system_clock::time_point now) const;

  const HttpGatewayConfig& config() const { return config_; }

  struct Compiled;  // the parsed templates

private:
  net::HttpClient& http_;
  HttpGatewayConfig config_;
  std::unique_ptr<Compiled> compiled_;
};

// POST (JSON or form body) or GET (query) on /hooks/sms/generic: 403 without
// the right secret (constant-time compare), 400 when the from, text or id field
// is missing (or the body is not what it claims), else one Inbound and 200 "ok".
HookOutcome parse_inbound(const Request& request, const HttpGatewayConfig& config);

// parse_inbound's 405 and 403 (the secret is in the query or a header),
// decided without the body: the HTTP server asks before it reads one.
std::optional<HookOutcome> refusal_before_body(const Request& head, const HttpGatewayConfig& config);

}  // namespace relance::sms::http
