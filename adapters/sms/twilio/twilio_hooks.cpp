// Twilio's requests to relance: X-Twilio-Signature (NOTES §5), the inbound
// message webhook (§2, answered with TwiML §3) and status callbacks (§4).
#include "adapters/sms/twilio/twilio.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>
#include <set>

namespace relance::sms::twilio {

namespace {

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, int(size));
  out.resize(std::size_t(n));
  return out;
}

// The two spellings of a URL the official helpers accept (NOTES §5.4):
// without any port, and with the port (the given one, else the scheme's
// default). Credentials in the authority are kept as they are.
struct PortForms {
  std::string without_port;
  std::string with_port;
};

PortForms port_forms(std::string_view url) {
  PortForms out{std::string(url), std::string(url)};
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return out;
  const auto scheme = url.substr(0, scheme_end);
  const auto auth_begin = scheme_end + 3;
  auto auth_end = url.find_first_of("/?#", auth_begin);
  if (auth_end == std::string_view::npos) auth_end = url.size();
  const auto authority = url.substr(auth_begin, auth_end - auth_begin);
  const auto at = authority.rfind('@');
  const std::size_t host_begin = at == std::string_view::npos ? 0 : at + 1;
  std::size_t colon = std::string_view::npos;
  if (host_begin < authority.size() && authority[host_begin] == '[') {  // [::1]:8443
    const auto close = authority.find(']', host_begin);
    if (close != std::string_view::npos && close + 1 < authority.size() && authority[close + 1] == ':')
      colon = close + 1;
  } else {
    colon = authority.find(':', host_begin);
  }
  const auto head = std::string(url.substr(0, auth_begin));
  const auto tail = std::string(url.substr(auth_end));
  if (colon == std::string_view::npos) {
    std::string port;
    if (scheme == "https") port = "443";
    else if (scheme == "http") port = "80";
    if (!port.empty()) out.with_port = head + std::string(authority) + ":" + port + tail;
  } else {
    out.without_port = head + std::string(authority.substr(0, colon)) + tail;
  }
  return out;
}

bool check_one(std::string_view url, const net::FormFields& params, std::string_view header, std::string_view token) {
  if (token.empty() || header.empty()) return false;
  const auto forms = port_forms(url);
  // Both computed and compared, so the time taken does not tell which form matched.
  const bool a = same_secret(compute_signature(forms.without_port, params, token), header);
  const bool b = same_secret(compute_signature(forms.with_port, params, token), header);
  return a || b;
}

// The parameters of a hook request: the form body of a POST (also signed),
// or the query of a GET (already part of the signed URL).
struct HookParams {
  net::FormFields signed_params;  // appended to the URL for the signature
  net::FormFields all;            // where the fields are read
};

HookParams params_of(const Request& r) {
  HookParams p;
  if (r.method == "GET") {
    p.all = net::form_decode(target_query(r.target));
  } else {
    p.signed_params = net::form_decode(r.body);
    p.all = p.signed_params;
  }
  return p;
}

std::string field(const net::FormFields& f, std::string_view name) {
  auto* v = net::form_find(f, name);
  return v ? *v : std::string{};
}

// The common checks of both hooks; nullopt when the request is Twilio's.
std::optional<HookOutcome> refuse_unsigned(const Request& r, const HookParams& p, std::string_view public_url,
                                           std::string_view url_name, const TwilioConfig& config) {
  if (r.method != "POST" && r.method != "GET") return HookOutcome::refuse(405, "twilio: method " + r.method);
  if (public_url.empty())
    return HookOutcome::refuse(403, "twilio: " + std::string(url_name) +
                                        " is not configured: cannot check X-Twilio-Signature");
  const auto header = r.header("X-Twilio-Signature");
  if (header.empty()) return HookOutcome::refuse(403, "twilio: no X-Twilio-Signature");
  const auto url = signed_url(public_url, r.target);
  if (!valid_signature(url, p.signed_params, header, config))
    return HookOutcome::refuse(403, "twilio: X-Twilio-Signature does not match (for " + url +
                                        "; check " + std::string(url_name) + " and the auth token)");
  return std::nullopt;
}

}  // namespace

std::optional<HookOutcome> refusal_before_body(const Request& head, std::string_view public_url) {
  if (head.method != "POST" && head.method != "GET") return HookOutcome::refuse(405, "twilio: method " + head.method);
  if (public_url.empty()) return HookOutcome::refuse(403, "twilio: the hook's public URL is not configured");
  if (head.header("X-Twilio-Signature").empty()) return HookOutcome::refuse(403, "twilio: no X-Twilio-Signature");
  return std::nullopt;
}

std::string compute_signature(std::string_view url, const net::FormFields& post_params, std::string_view token) {
  // Names in byte order, each name's distinct values in byte order (NOTES §5.2).
  std::map<std::string, std::set<std::string>> sorted;
  for (const auto& [name, value] : post_params) sorted[name].insert(value);
  std::string data(url);
  for (const auto& [name, values] : sorted)
    for (const auto& value : values) {
      data += name;
      data += value;
    }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), token.data(), int(token.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       mac, &len);
  return base64(mac, len);
}

bool valid_signature(std::string_view url, const net::FormFields& post_params, std::string_view header,
                     std::string_view token) {
  return check_one(url, post_params, header, token);
}

bool valid_signature(std::string_view url, const net::FormFields& post_params, std::string_view header,
                     const TwilioConfig& config) {
  bool ok = check_one(url, post_params, header, config.auth_token);
  for (const auto& old : config.previous_auth_tokens) ok = check_one(url, post_params, header, old) || ok;
  return ok;
}

std::string signed_url(std::string_view public_url, std::string_view target) {
  const auto query = target_query(target);
  if (query.empty()) return std::string(public_url);
  std::string base(target_path(public_url));
  return base + "?" + std::string(query);
}

HookOutcome parse_inbound(const Request& request, const TwilioConfig& config) {
  const auto p = params_of(request);
  if (auto refused = refuse_unsigned(request, p, config.webhook_url, "webhook_url", config)) return *refused;
  Inbound in;
  in.provider_id = field(p.all, "MessageSid");
  if (in.provider_id.empty()) in.provider_id = field(p.all, "SmsMessageSid");  // legacy name, same value
  in.from = field(p.all, "From");
  in.to = field(p.all, "To");
  in.text = field(p.all, "Body");
  if (in.provider_id.empty() || in.from.empty())
    return HookOutcome::refuse(400, "twilio: inbound message without MessageSid or From");
  HookOutcome out;
  out.content_type = "text/xml";
  out.body = std::string(empty_twiml);
  out.messages.push_back(std::move(in));
  return out;
}

HookOutcome parse_status(const Request& request, const TwilioConfig& config) {
  const auto p = params_of(request);
  if (auto refused = refuse_unsigned(request, p, config.status_callback_url, "status_callback_url", config))
    return *refused;
  DeliveryReport rep;
  rep.remote_id = field(p.all, "MessageSid");
  if (rep.remote_id.empty()) rep.remote_id = field(p.all, "SmsSid");
  auto status = field(p.all, "MessageStatus");
  if (status.empty()) status = field(p.all, "SmsStatus");
  if (rep.remote_id.empty() || status.empty())
    return HookOutcome::refuse(400, "twilio: status callback without MessageSid or MessageStatus");
  if (status == "delivered" || status == "read")  // read: WhatsApp/RCS, delivered and more
    rep.state = DeliveryState::delivered;
  else if (status == "undelivered" || status == "failed" || status == "canceled")
    rep.state = DeliveryState::failed;
  else  // queued, sending, sent, accepted, scheduled, partially_delivered, ...
    rep.state = DeliveryState::progress;
  rep.detail = status;
  if (const auto code = field(p.all, "ErrorCode"); !code.empty()) rep.detail += " " + code;
  HookOutcome out;
  out.body = {};  // NOTES §4: the body is ignored; 200 with nothing
  out.reports.push_back(std::move(rep));
  return out;
}

}  // namespace relance::sms::twilio
