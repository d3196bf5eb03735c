// Kannel's calls to relance: MO messages (sms-service get-url / post-url) and
// delivery reports (the dlr-url we gave with each message). Pure functions.
#include "adapters/common/form.hpp"
#include "adapters/sms/kannel/kannel.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace relance::sms::kannel {

namespace {

std::string_view field(const net::FormFields& f, std::string_view name) {
  const auto* v = net::form_find(f, name);
  return v ? std::string_view(*v) : std::string_view{};
}

template <class Int>
std::optional<Int> parse_int(std::string_view s) {
  Int v{};
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<HookOutcome> check_secret(const net::FormFields& query, const KannelConfig& config) {
  const auto* given = net::form_find(query, "secret");
  if (!given) return HookOutcome::refuse(403, "kannel hook: no secret");
  // Constant time: the secret is all that stands between the Internet and
  // the learners' case files (an empty configured secret refuses everything).
  if (!same_secret(*given, config.secret)) return HookOutcome::refuse(403, "kannel hook: wrong secret");
  return std::nullopt;
}

// `text/plain; charset="UTF-16BE"` -> UTF-16BE (Kannel quotes it).
std::string content_type_charset(std::string_view content_type) {
  std::string lower(content_type);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const auto at = lower.find("charset=");
  if (at == std::string::npos) return {};
  auto v = std::string_view(content_type).substr(at + 8);
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '"')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '"')) v.remove_suffix(1);
  return std::string(v);
}

HookOutcome accepted() {
  // Empty: with max-messages = 0 Kannel sends nothing back anyway, and should
  // a service be set up with replies, an empty body (omit-empty) sends no SMS.
  HookOutcome o;
  o.status = 200;
  o.content_type = "text/plain; charset=utf-8";
  return o;
}

}  // namespace

std::optional<HookOutcome> refusal_before_body(const Request& head, const KannelConfig& config) {
  return check_secret(net::form_decode(target_query(head.target)), config);
}

HookOutcome parse_mo(const Request& request, const KannelConfig& config) {
  const auto query = net::form_decode(target_query(request.target));
  if (auto refused = check_secret(query, config)) return *refused;

  Inbound in;
  in.provider_id = std::string(field(query, "id"));
  in.from = std::string(field(query, "from"));
  in.to = std::string(field(query, "to"));
  const bool post = request.method == "POST";
  if (post) {
    // post-url: the query has what the admin put in it; the sender is also in
    // X-Kannel-From (with send-sender = true), the receiver in X-Kannel-To.
    if (in.from.empty()) in.from = request.header("X-Kannel-From");
    if (in.to.empty()) in.to = request.header("X-Kannel-To");
  }
  if (in.provider_id.empty()) return HookOutcome::refuse(400, "kannel mo: no id (%I) in the service URL");
  if (in.from.empty()) return HookOutcome::refuse(400, "kannel mo: no sender (%p)");

  const auto coding = parse_int<int>(field(query, "coding"));
  if (post) {
    // The body is the exact message; its Content-Type names the charset.
    auto charset = content_type_charset(request.header("Content-Type"));
    if (charset.empty()) charset = std::string(field(query, "charset"));
    const auto header_coding = parse_int<int>(request.header("X-Kannel-Coding"));
    in.text = to_utf8(request.body, charset, header_coding.value_or(coding.value_or(-1)));
  } else {
    // %b: the exact bytes (form_decode already undid the URL encoding).
    in.text = to_utf8(field(query, "text"), field(query, "charset"), coding.value_or(-1));
  }
  if (const auto ts = parse_int<std::int64_t>(field(query, "ts")); ts && *ts > 0) in.sent_at = from_unix(*ts);

  auto out = accepted();
  out.messages.push_back(std::move(in));
  return out;
}

HookOutcome parse_dlr(const Request& request, const KannelConfig& config) {
  const auto query = net::form_decode(target_query(request.target));
  if (auto refused = check_secret(query, config)) return *refused;

  const auto ref = parse_int<std::int64_t>(field(query, "ref"));
  if (!ref) return HookOutcome::refuse(400, "kannel dlr: no numeric ref");
  const auto type = parse_int<int>(field(query, "type"));
  if (!type) return HookOutcome::refuse(400, "kannel dlr: no numeric type (%d)");

  DeliveryReport report;
  report.outbox_id = *ref;
  switch (*type) {
    case 1: report.state = DeliveryState::delivered; break;  // delivered to the phone
    case 2:                                                   // not delivered to the phone
    case 16: report.state = DeliveryState::failed; break;     // rejected by the SMSC
    default: report.state = DeliveryState::progress; break;   // 4 queued on SMSC, 8 accepted by SMSC
  }
  // %A: the SMSC's own words ("ACK/", SMPP "id:... stat:UNDELIV err:..."), for the case record.
  const auto answer = field(query, "answer");
  report.detail = "type " + std::to_string(*type) + (answer.empty() ? "" : " " + std::string(answer));

  auto out = accepted();
  out.reports.push_back(std::move(report));
  return out;
}

}  // namespace relance::sms::kannel
