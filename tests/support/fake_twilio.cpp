#include "fake_twilio.hpp"

#include "bot/domain/sms_text.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <set>

namespace relance::test {

using nlohmann::json;

namespace {

std::string b64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  out.resize(std::size_t(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, int(n))));
  return out;
}

std::string unb64(std::string_view s) {
  std::string out(3 * (s.size() / 4) + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(s.data()), int(s.size()));
  if (n < 0) return {};
  out.resize(std::size_t(n));
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t pad = 0;
  for (auto it = s.rbegin(); it != s.rend() && *it == '='; ++it) ++pad;
  out.resize(out.size() - std::min(pad, out.size()));
  return out;
}

// NOTES §1: "Mon, 16 Nov 2026 10:00:00 +0000".
std::string rfc2822_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

bool e164(const std::string& n) {
  if (n.size() < 3 || n.size() > 16 || n[0] != '+' || n[1] < '1' || n[1] > '9') return false;
  return std::all_of(n.begin() + 1, n.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An alphanumeric sender id: 1 to 11 of letters, digits, spaces, at least one letter.
bool alphanumeric_sender(const std::string& s) {
  if (s.empty() || s.size() > 11) return false;
  bool letter = false;
  for (unsigned char c : s) {
    if (std::isalpha(c)) letter = true;
    else if (!std::isdigit(c) && c != ' ') return false;
  }
  return letter;
}

std::size_t code_points(const std::string& s) {
  return std::size_t(std::count_if(s.begin(), s.end(), [](unsigned char c) { return (c & 0xC0) != 0x80; }));
}

std::string more_info(int code) { return "https://www.twilio.com/docs/errors/" + std::to_string(code); }

FakeResponse answer(int status, std::string body, FakeHeaders headers = {}) {
  FakeResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

// NOTES §1: {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
FakeResponse error(int status, int code, std::string message) {
  json j{{"code", code}, {"message", std::move(message)}, {"more_info", more_info(code)}, {"status", status}};
  return answer(status, j.dump());
}

std::string message_json(const FakeTwilio::Message& m, const std::string& account_sid) {
  const auto now = rfc2822_now();
  const std::string uri = "/2010-04-01/Accounts/" + account_sid + "/Messages/" + m.sid;
  json j{{"sid", m.sid},
         {"account_sid", account_sid},
         {"messaging_service_sid", m.messaging_service_sid.empty() ? json(nullptr) : json(m.messaging_service_sid)},
         {"from", m.from.empty() ? json(nullptr) : json(m.from)},
         {"to", m.to},
         {"body", m.body},
         {"status", m.status},
         {"direction", "outbound-api"},
         {"num_segments", std::to_string(m.num_segments)},  // strings (NOTES §1 "Traps")
         {"num_media", "0"},
         {"error_code", nullptr},
         {"error_message", nullptr},
         {"price", nullptr},
         {"price_unit", "EUR"},
         {"api_version", "2010-04-01"},
         {"date_created", now},
         {"date_updated", now},
         {"date_sent", nullptr},
         {"uri", uri + ".json"},
         {"subresource_uris", {{"media", uri + "/Media.json"}}}};
  return j.dump();
}

}  // namespace

struct FakeTwilio::Impl {
  FakeTwilio* self = nullptr;
  mutable std::mutex mutex;
  std::vector<Message> messages;
  std::set<std::string> opted_out;
  int fail_status = 0, fail_code = 0, fail_count = 0;
  int drop_count = 0;
  std::vector<std::pair<std::string, std::string>> routes;

  FakeResponse handle(const FakeRequest& r) {
    std::lock_guard lock(mutex);
    const auto& o = self->options_;
    if (drop_count > 0) {
      --drop_count;
      FakeResponse d;
      d.drop = true;
      return d;
    }
    const std::string prefix = "/2010-04-01/Accounts/";
    const std::string suffix = "/Messages.json";
    if (!r.path.starts_with(prefix) || !r.path.ends_with(suffix) || r.path.size() <= prefix.size() + suffix.size())
      return error(404, 20404, "The requested resource " + r.path + " was not found");
    const auto path_sid = r.path.substr(prefix.size(), r.path.size() - prefix.size() - suffix.size());

    // Basic auth: AccountSid:AuthToken, for the account in the path.
    const auto auth = r.header("Authorization");
    const auto creds = auth.starts_with("Basic ") ? unb64(std::string_view(auth).substr(6)) : std::string{};
    if (creds != o.account_sid + ":" + o.auth_token || path_sid != o.account_sid) {
      json j{{"code", 20003},
             {"detail", "Your AccountSid or AuthToken was incorrect."},
             {"message", "Authenticate"},
             {"more_info", more_info(20003)},
             {"status", 401}};
      return answer(401, j.dump(), {{"WWW-Authenticate", "Basic realm=\"Twilio API\""}});
    }
    if (r.method != "POST") return error(405, 20004, "Method not allowed");

    if (fail_count > 0) {
      --fail_count;
      int code = fail_code;
      std::string message = "Error";
      if (fail_status == 429) {
        if (code == 0) code = 20429;
        message = "Too Many Requests";
      } else if (fail_status >= 500) {
        if (code == 0) code = fail_status == 503 ? 20503 : 20500;
        message = fail_status == 503 ? "Service unavailable" : "An internal server error has occurred";
      } else if (code == 21610) {
        message = "Attempt to send to unsubscribed recipient";
      } else if (code == 0 || code == 21211) {
        code = 21211;
        message = "The 'To' number is not a valid phone number.";
      }
      auto resp = error(fail_status, code, message);
      if (fail_status == 429 && !o.retry_after.empty()) resp.headers.emplace_back("Retry-After", o.retry_after);
      return resp;
    }

    const auto form = net::form_decode(r.body);
    auto get = [&](std::string_view n) {
      auto* v = net::form_find(form, n);
      return v ? *v : std::string{};
    };
    Message m;
    m.to = get("To");
    m.from = get("From");
    m.messaging_service_sid = get("MessagingServiceSid");
    m.body = get("Body");
    m.status_callback = get("StatusCallback");
    if (m.to.empty()) return error(400, 21604, "A 'To' phone number is required.");
    if (!e164(m.to)) return error(400, 21211, "The 'To' number " + m.to + " is not a valid phone number.");
    if (m.from.empty() && m.messaging_service_sid.empty())
      return error(400, 21603, "A 'From' phone number is required.");
    if (!m.messaging_service_sid.empty() && (!m.messaging_service_sid.starts_with("MG") || m.messaging_service_sid.size() != 34))
      return error(400, 21701, "The Messaging Service Sid " + m.messaging_service_sid + " is invalid.");
    if (m.messaging_service_sid.empty()) {
      if (e164(m.from)) {
        if (std::find(o.numbers.begin(), o.numbers.end(), m.from) == o.numbers.end())
          return error(400, 21606,
                       "The From phone number " + m.from + " is not a valid, SMS-capable inbound phone number or "
                       "short code for your account.");
      } else if (!alphanumeric_sender(m.from)) {
        return error(400, 21212, "The 'From' number " + m.from + " is not a valid phone number, shortcode, or "
                                 "alphanumeric sender ID.");
      }
    }
    if (m.body.empty()) return error(400, 21602, "Message body is required.");
    if (code_points(m.body) > 1600)
      return error(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
    if (!m.status_callback.empty() && !m.status_callback.starts_with("http://") &&
        !m.status_callback.starts_with("https://"))
      return error(400, 21609, "The StatusCallback URL " + m.status_callback + " is not a valid URL.");
    if (opted_out.count(m.to)) return error(400, 21610, "Attempt to send to unsubscribed recipient");

    m.sid = new_sid("SM");
    m.status = m.messaging_service_sid.empty() ? "queued" : "accepted";
    m.num_segments = relance::sms_length(m.body).parts;
    messages.push_back(m);
    return answer(201, message_json(m, o.account_sid));
  }

  std::string local_url(const std::string& public_url) const {
    for (const auto& [pub, local] : routes)
      if (public_url.starts_with(pub)) return local + public_url.substr(pub.size());
    return public_url;
  }
};

FakeTwilio::FakeTwilio(Options options)
    : options_(std::move(options)),
      impl_(std::make_unique<Impl>()),
      server_([this](const FakeRequest& r) { return impl_->handle(r); }) {
  impl_->self = this;
}

FakeTwilio::~FakeTwilio() { server_.stop(); }

std::string FakeTwilio::new_sid(std::string_view prefix) {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::lock_guard lock(m);
  std::string sid(prefix);
  for (int i = 0; i < 32; ++i) sid.push_back(hex[rng() % 16]);
  return sid;
}

std::string FakeTwilio::signature(std::string_view url, const net::FormFields& post_params, std::string_view token) {
  // Sorted (name, value) pairs, duplicates once: names in byte order, then values.
  auto pairs = post_params;
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  std::string data(url);
  for (const auto& [k, v] : pairs) data += k + v;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), token.data(), int(token.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       mac, &len);
  return b64(mac, len);
}

std::vector<FakeTwilio::Message> FakeTwilio::messages() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->messages;
}

std::optional<FakeTwilio::Message> FakeTwilio::message(const std::string& sid) const {
  std::lock_guard lock(impl_->mutex);
  for (const auto& m : impl_->messages)
    if (m.sid == sid) return m;
  return std::nullopt;
}

void FakeTwilio::fail_next(int status, int count, int code) {
  std::lock_guard lock(impl_->mutex);
  impl_->fail_status = status;
  impl_->fail_code = code;
  impl_->fail_count = count;
}

void FakeTwilio::drop_next(int count) {
  std::lock_guard lock(impl_->mutex);
  impl_->drop_count = count;
}

void FakeTwilio::opt_out(const std::string& number) {
  std::lock_guard lock(impl_->mutex);
  impl_->opted_out.insert(number);
}

void FakeTwilio::opt_in(const std::string& number) {
  std::lock_guard lock(impl_->mutex);
  impl_->opted_out.erase(number);
}

void FakeTwilio::route(std::string public_prefix, std::string local_prefix) {
  std::lock_guard lock(impl_->mutex);
  impl_->routes.emplace_back(std::move(public_prefix), std::move(local_prefix));
}

net::FormFields FakeTwilio::inbound_params(Inbound& in) const {
  if (in.message_sid.empty()) in.message_sid = new_sid("SM");
  if (in.to.empty() && !options_.numbers.empty()) in.to = options_.numbers.front();
  const auto segments = std::to_string(std::max(1, relance::sms_length(in.body).parts));
  // NOTES §2, in the order Twilio sends them; geo data is empty in France but
  // present (and signed).
  net::FormFields f{{"ToCountry", "FR"},
                    {"ToState", ""},
                    {"SmsMessageSid", in.message_sid},
                    {"NumMedia", "0"},
                    {"ToCity", ""},
                    {"FromZip", ""},
                    {"SmsSid", in.message_sid},
                    {"FromState", ""},
                    {"SmsStatus", "received"},
                    {"FromCity", ""},
                    {"Body", in.body},
                    {"FromCountry", "FR"},
                    {"To", in.to},
                    {"ToZip", ""},
                    {"NumSegments", segments},
                    {"MessageSid", in.message_sid},
                    {"AccountSid", options_.account_sid},
                    {"From", in.from},
                    {"ApiVersion", "2010-04-01"}};
  for (const auto& e : in.extra) f.push_back(e);
  return f;
}

boost::asio::awaitable<FakeTwilio::WebhookResult> FakeTwilio::deliver(boost::asio::any_io_executor ex,
                                                                     std::string method, std::string public_url,
                                                                     net::FormFields params, std::string sid) {
  WebhookResult out;
  out.sid = std::move(sid);
  std::string signed_url = public_url;
  std::string body;
  if (method == "GET") {
    // NOTES §5.2: a GET's parameters are in the signed URL, nothing is appended.
    signed_url += (signed_url.find('?') == std::string::npos ? "?" : "&") + net::form_encode(params);
    out.signature = signature(signed_url, {}, options_.auth_token);
  } else {
    body = net::form_encode(params);
    out.signature = signature(signed_url, params, options_.auth_token);
  }
  std::string local;
  {
    std::lock_guard lock(impl_->mutex);
    local = impl_->local_url(signed_url);
  }
  net::ClientOptions copts;
  copts.user_agent = "TwilioProxy/1.1";
  net::HttpClient client(ex, copts);
  net::Headers headers;
  headers.push_back(net::Header{"X-Twilio-Signature", out.signature});
  headers.push_back(net::Header{"I-Twilio-Idempotency-Token", new_sid("")});
  headers.push_back(net::Header{"Accept", "*/*"});
  if (method != "GET")
    headers.push_back(net::Header{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"});
  out.answer = co_await client.async_request(method == "GET" ? net::Method::get : net::Method::post, local,
                                             std::move(headers), std::move(body), std::chrono::seconds{15});
  co_return out;
}

boost::asio::awaitable<FakeTwilio::WebhookResult> FakeTwilio::async_send_status(boost::asio::any_io_executor ex,
                                                                               std::string sid, std::string status,
                                                                               std::string error_code) {
  net::FormFields params;
  std::string callback;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = std::find_if(impl_->messages.begin(), impl_->messages.end(), [&](const Message& m) { return m.sid == sid; });
    if (it == impl_->messages.end() || it->status_callback.empty()) {
      WebhookResult none;
      none.sid = sid;
      none.answer.failure = net::Failure::bad_url;
      none.answer.error = it == impl_->messages.end() ? "no such message" : "the message has no StatusCallback";
      co_return none;
    }
    it->status = status;
    callback = it->status_callback;
    // NOTES §4: the parameters of a status callback (no Body).
    params = {{"SmsSid", sid},
              {"SmsStatus", status},
              {"MessageStatus", status},
              {"To", it->to},
              {"MessageSid", sid},
              {"AccountSid", options_.account_sid},
              {"From", it->from},
              {"ApiVersion", "2010-04-01"}};
    if (!it->messaging_service_sid.empty()) params.emplace_back("MessagingServiceSid", it->messaging_service_sid);
    if (!error_code.empty()) params.emplace_back("ErrorCode", error_code);
    if (status == "delivered" || status == "undelivered") params.emplace_back("RawDlrDoneDate", "2611161002");
  }
  co_return co_await deliver(ex, "POST", std::move(callback), std::move(params), std::move(sid));
}

boost::asio::awaitable<FakeTwilio::WebhookResult> FakeTwilio::async_send_inbound(boost::asio::any_io_executor ex,
                                                                                std::string webhook_url, Inbound in) {
  auto params = inbound_params(in);
  auto method = in.method;
  co_return co_await deliver(ex, std::move(method), std::move(webhook_url), std::move(params), in.message_sid);
}

}  // namespace relance::test
