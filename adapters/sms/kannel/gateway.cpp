// KannelGateway: one sendsms GET per message (see kannel.hpp for the choices).
#include "adapters/channel/http_send.hpp"
#include "adapters/common/form.hpp"
#include "adapters/common/log_privacy.hpp"
#include "adapters/sms/kannel/kannel.hpp"
#include "bot/domain/sms_text.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>

namespace relance::sms::kannel {

namespace {

std::string without_trailing_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string double_percent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    out.push_back(c);
    if (c == '%') out.push_back('%');
  }
  return out;
}

// Kannel's bodies are one line ("0: Accepted for delivery"); keep a stray
// HTML error page from a proxy short in the outbox row.
std::string one_line(std::string_view body) {
  std::string s(body.substr(0, 300));
  for (char& c : s)
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  return s;
}

}  // namespace

std::string kannel_url_escape(std::string_view value) { return double_percent(net::form_escape(value)); }

std::string mo_url(const KannelConfig& config) {
  return double_percent(without_trailing_slash(config.public_url)) + std::string(inbound_path) +
         "?secret=" + kannel_url_escape(config.secret) +
         "&id=%I&from=%p&to=%P&ts=%T&coding=%c&charset=%C&text=%b";
}

std::string dlr_url(std::int64_t outbox_id, const KannelConfig& config) {
  return double_percent(without_trailing_slash(config.public_url)) + std::string(dlr_path) +
         "?secret=" + kannel_url_escape(config.secret) + "&ref=" + std::to_string(outbox_id) +
         "&type=%d&answer=%A";
}

std::string recommended_sms_service(const KannelConfig& config) {
  // catch-all: the service takes the message whatever its word count (the
  // URL uses no %s); keyword = default: any message no other service took.
  // omit-empty: belt and braces with max-messages = 0, no empty-reply SMS.
  return "group = sms-service\n"
         "name = \"relance\"\n"
         "keyword = default\n"
         "catch-all = true\n"
         "get-url = \"" + mo_url(config) + "\"\n"
         "max-messages = 0\n"
         "omit-empty = true\n";
}

std::string refuse_reason(const Message& m, const KannelConfig& config) {
  const std::string_view to = m.to;
  const auto digits = to.substr(!to.empty() && to.front() == '+' ? 1 : 0);
  if (digits.size() < 3 || digits.size() > 20 ||
      !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); }))
    return "recipient is not a phone number (+digits)";
  const auto length = sms_length(m.text);
  if (length.parts == 0) return "empty text";
  if (length.parts > config.max_parts)
    return "text is " + std::to_string(length.parts) + " SMS parts, over max_parts " +
           std::to_string(config.max_parts);
  return {};
}

std::string sendsms_request_url(const Message& m, const KannelConfig& config) {
  const auto length = sms_length(m.text);
  // sms_split gives back the same text as valid UTF-8 (U+FFFD for bad bytes):
  // Kannel's charset conversion refuses invalid UTF-8 outright.
  std::string text;
  for (auto& part : sms_split(m.text)) text += part;

  net::FormFields f{
      {"username", config.username},
      {"password", config.password},
  };
  if (!config.from.empty()) f.emplace_back("from", config.from);
  f.emplace_back("to", m.to);
  f.emplace_back("text", std::move(text));
  // Always UTF-8 in; coding says what goes on the air. GSM-7 text stays
  // coding 0 (160 per part; Kannel maps UTF-8 to the GSM alphabet). Anything
  // else must be UCS-2: with coding 0 Kannel turns ê, œ, « », emoji into '?'
  // (observed), and coding=2 without charset=UTF-8 takes the bytes as UTF-16.
  f.emplace_back("charset", "UTF-8");
  f.emplace_back("coding", length.encoding == SmsEncoding::ucs2 ? "2" : "0");
  if (!config.smsc.empty()) f.emplace_back("smsc", config.smsc);
  if (config.delivery_reports) {
    f.emplace_back("dlr-mask", std::to_string(dlr_mask));
    f.emplace_back("dlr-url", dlr_url(m.outbox_id, config));
  }
  const auto& base = config.sendsms_url;
  return base + (base.find('?') == std::string::npos ? "?" : "&") + net::form_encode(f);
}

SendResult classify_sendsms(const net::HttpResult& r) {
  if (!r.answered()) return channel::http_unanswered(r, "kannel ");
  // "0: Accepted for delivery" or "3: Queued for later delivery" (no SMSC
  // connected: bearerbox stores it and sends it later). No message id.
  if (r.ok()) return channel::sent();
  // 503 "Temporal failure, try again later." (bearerbox queue full, shut
  // down): retried. 403 "Authorization failed for sendsms", 400 "Missing
  // receiver number, rejected", other refusals by configuration: failed.
  return channel::http_refused(r, channel::http_head(r) + ": " + one_line(r.body), std::chrono::system_clock::now());
}

KannelGateway::KannelGateway(net::HttpClient& http, const KannelConfig& config) : http_(http), config_(config) {}

boost::asio::awaitable<SendResult> KannelGateway::send(Message m) {
  if (auto why = refuse_reason(m, config_); !why.empty()) {
    co_return channel::failed("kannel: " + why);
  }
  auto url = sendsms_request_url(m, config_);
  const auto result = co_await http_.async_request(net::Method::get, std::move(url), {}, {},
                                                   std::chrono::duration_cast<std::chrono::milliseconds>(config_.timeout));
  auto res = classify_sendsms(result);
  // A gateway or proxy may echo the request in its error: never the
  // password in the outbox row or the log (the row may keep the number:
  // staff see it anyway; log lines hide it, logs::redact).
  res.error = logs::redact(res.error, {config_.password, config_.secret});
  co_return res;
}

}  // namespace relance::sms::kannel
