// TwilioGateway: one POST to Messages.json per SMS, its answer mapped to the
// outbox's sent / retry / failed (NOTES §1).
#include "adapters/channel/http_send.hpp"
#include "adapters/common/log_privacy.hpp"
#include "adapters/sms/twilio/twilio.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace relance::sms::twilio {

using nlohmann::json;
using Status = SendResult::Status;

namespace {

bool http_url(std::string_view u) { return u.starts_with("http://") || u.starts_with("https://"); }

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  out.resize(std::size_t(n));
  return out;
}

// A body excerpt for an error line: one line, at most `max` bytes, never a cut UTF-8 sequence.
std::string excerpt(std::string_view body, std::size_t max = 200) { return body_excerpt(body, max); }

// NOTES §1: errors are {"code": 21211, "message": "...", "more_info": ..., "status": 400}.
// Returns "HTTP 400: 21211 The 'To' number ..." and the code (0 when the body is not Twilio's).
std::string error_line(const net::HttpResult& r, int& code) {
  code = 0;
  std::string line = channel::http_head(r);
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    if (auto c = j.find("code"); c != j.end() && c->is_number_integer()) code = c->get<int>();
    std::string message;
    if (auto m = j.find("message"); m != j.end() && m->is_string()) message = m->get<std::string>();
    if (code != 0 || !message.empty()) {
      line += ":";
      if (code != 0) line += " " + std::to_string(code);
      if (!message.empty()) line += " " + excerpt(message, 300);
      return line;
    }
  }
  const auto head = excerpt(r.body);
  return head.empty() ? line : line + ": " + head;
}

}  // namespace

std::vector<std::string> config_problems(const TwilioConfig& c) {
  std::vector<std::string> out;
  if (!http_url(c.api_url)) out.push_back("twilio: api_url must be an http(s) URL (default https://api.twilio.com)");
  if (c.account_sid.empty()) out.push_back("twilio: account_sid is missing (AC...)");
  if (c.auth_token.empty()) out.push_back("twilio: the auth token is missing");
  if (c.from.empty() && c.messaging_service_sid.empty())
    out.push_back("twilio: set from (a Twilio number or sender id) or messaging_service_sid (MG...)");
  if (!c.webhook_url.empty() && !http_url(c.webhook_url))
    out.push_back("twilio: webhook_url must be the public http(s) URL of /hooks/sms/twilio");
  if (!c.status_callback_url.empty() && !http_url(c.status_callback_url))
    out.push_back("twilio: status_callback_url must be the public http(s) URL of /hooks/sms/twilio/status");
  if (c.timeout.count() <= 0) out.push_back("twilio: timeout must be positive");
  return out;
}

std::string messages_url(const TwilioConfig& config) {
  std::string base = config.api_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/2010-04-01/Accounts/" + net::form_escape(config.account_sid) + "/Messages.json";
}

net::FormFields send_form(const Message& m, const TwilioConfig& config) {
  net::FormFields f;
  f.emplace_back("To", m.to);
  if (!config.messaging_service_sid.empty())
    f.emplace_back("MessagingServiceSid", config.messaging_service_sid);
  else
    f.emplace_back("From", config.from);
  f.emplace_back("Body", m.text);
  if (!config.status_callback_url.empty()) f.emplace_back("StatusCallback", config.status_callback_url);
  return f;
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  std::string pair(user);
  pair.push_back(':');
  pair.append(password);
  return "Basic " + base64(pair);
}

SendResult to_send_result(const net::HttpResult& r, std::chrono::system_clock::time_point now) {
  if (!r.answered()) return channel::http_unanswered(r);
  if (r.ok()) {
    // Twilio took it (201): never retried, even without a readable sid (a
    // retry would send the SMS twice).
    SendResult out = channel::sent();
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_object())
      if (auto sid = j.find("sid"); sid != j.end() && sid->is_string()) out.remote_id = sid->get<std::string>();
    if (out.remote_id.empty()) out.error = channel::http_head(r) + " without a message sid";
    return out;
  }
  // 429, 5xx: retried. 4xx: bad number (21211, 21614), region not allowed
  // (21408), auth (20003), opted out (21610); 3xx: a wrong api_url.
  int code = 0;
  std::string line = error_line(r, code);
  SendResult out = channel::http_refused(r, std::move(line), now, code != 0 ? std::to_string(code) : std::string());
  out.recipient_opted_out = out.status == Status::failed && code == 21610;
  return out;
}

TwilioGateway::TwilioGateway(net::HttpClient& http, TwilioConfig config) : http_(http), config_(std::move(config)) {
  if (auto problems = config_problems(config_); !problems.empty()) throw std::invalid_argument(problems.front());
  url_ = messages_url(config_);
  authorization_ = basic_authorization(config_.account_sid, config_.auth_token);
}

boost::asio::awaitable<SendResult> TwilioGateway::send(Message m) {
  net::Headers headers;
  headers.push_back(net::Header{"Authorization", authorization_});
  headers.push_back(net::Header{"Content-Type", "application/x-www-form-urlencoded"});
  headers.push_back(net::Header{"Accept", "application/json"});
  auto body = net::form_encode(send_form(m, config_));
  auto r = co_await http_.async_request(net::Method::post, url_, std::move(headers), std::move(body),
                                        std::chrono::duration_cast<std::chrono::milliseconds>(config_.timeout));
  auto res = to_send_result(r, std::chrono::system_clock::now());
  // Twilio's errors may quote the request: never the token in the outbox
  // row or the log, and the number and the text not in the log.
  res.error = logs::redact(res.error, {config_.auth_token});
  const std::string logged = logs::redact(res.error, {}, {m.to, m.text});
  switch (res.status) {
    case Status::sent:
      spdlog::debug("twilio: outbox {} sent as {}", m.outbox_id, res.remote_id);
      break;
    case Status::retry:
      spdlog::warn("twilio: outbox {}: will retry ({})", m.outbox_id, logged);
      break;
    case Status::failed:
      spdlog::warn("twilio: outbox {}: failed ({}){}", m.outbox_id, logged,
                   res.recipient_opted_out ? ", the recipient opted out at Twilio" : "");
      break;
  }
  co_return res;
}

}  // namespace relance::sms::twilio
