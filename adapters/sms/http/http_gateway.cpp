// HttpGateway: config templates compiled once (unknown placeholders refused
// there), rendered per SMS with each value escaped for where it lands; the
// provider's answer mapped to sent / retry / failed.
#include "adapters/sms/http/http_gateway.hpp"

#include "messages/text/ascii.hpp"
#include "adapters/common/form.hpp"
#include "adapters/common/log_privacy.hpp"
#include "messages/text/markup.hpp"
#include "adapters/channel/http_send.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <optional>
#include <stdexcept>

namespace relance::sms::http {

using nlohmann::json;
using Status = SendResult::Status;

namespace {

enum class Field : std::uint8_t { to, to_national, to_00, from, text, id, username, secret };

constexpr std::array<std::pair<std::string_view, Field>, 8> field_names{{
    {"to", Field::to},
    {"to_national", Field::to_national},
    {"to_00", Field::to_00},
    {"from", Field::from},
    {"text", Field::text},
    {"id", Field::id},
    {"username", Field::username},
    {"secret", Field::secret},
}};

constexpr std::string_view known_list = "{to} {to_national} {to_00} {from} {text} {id} {username} {secret}";

enum class Escape : std::uint8_t { raw, json, form, path, xml };

struct Piece {
  std::string literal;          // when !field
  std::optional<Field> field;
  Escape escape = Escape::raw;
};
using Template = std::vector<Piece>;

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

Escape body_escape(std::string_view content_type) {
  std::string ct(content_type);
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ct.find("json") != std::string::npos) return Escape::json;
  if (ct.find("x-www-form-urlencoded") != std::string::npos) return Escape::form;
  if (ct.find("xml") != std::string::npos) return Escape::xml;
  return Escape::raw;
}

// `escape` applies to placeholders; in a URL, it switches from path to form at the first '?'.
Template compile(std::string_view text, std::string_view where, Escape escape, bool url = false) {
  Template out;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) out.push_back(Piece{std::move(literal), std::nullopt, Escape::raw});
    literal.clear();
  };
  bool in_query = false;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '{') {
      std::size_t j = i + 1;
      while (j < text.size() && name_char(text[j])) ++j;
      if (j > i + 1 && j < text.size() && text[j] == '}') {
        const auto name = text.substr(i + 1, j - i - 1);
        auto it = std::find_if(field_names.begin(), field_names.end(), [&](const auto& f) { return f.first == name; });
        if (it == field_names.end())
          throw std::invalid_argument("sms http gateway: unknown placeholder {" + std::string(name) + "} in " +
                                      std::string(where) + " (known: " + std::string(known_list) + ")");
        flush();
        out.push_back(Piece{{}, it->second, url ? (in_query ? Escape::form : Escape::path) : escape});
        i = j + 1;
        continue;
      }
    }
    if (c == '?') in_query = true;
    literal.push_back(c);
    ++i;
  }
  flush();
  return out;
}

bool uses(const Template& t, Field f) {
  return std::any_of(t.begin(), t.end(), [&](const Piece& p) { return p.field == f; });
}

std::string json_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xF]);
        } else {
          out.push_back(char(c));  // UTF-8 as is: valid JSON (RFC 8259 §8.1)
        }
    }
  }
  return out;
}

std::string escaped(std::string_view v, Escape e) {
  switch (e) {
    case Escape::raw: return std::string(v);
    case Escape::json: return json_escape(v);
    case Escape::form: return net::form_escape(v);
    case Escape::path: return net::percent_encode(v);  // RFC 3986 path segment (space is %20)
    case Escape::xml: return text::xml_entities(v);
  }
  return std::string(v);
}

struct Values {
  std::string to, to_national, to_00, from, text, id, username, secret;
  const std::string& get(Field f) const {
    switch (f) {
      case Field::to: return to;
      case Field::to_national: return to_national;
      case Field::to_00: return to_00;
      case Field::from: return from;
      case Field::text: return text;
      case Field::id: return id;
      case Field::username: return username;
      case Field::secret: return secret;
    }
    return text;
  }
};

Values values_of(const Message& m, const HttpGatewayConfig& c) {
  Values v;
  v.to = m.to;
  for (char ch : m.to)
    if (ch >= '0' && ch <= '9') v.to_national.push_back(ch);
  v.to_00 = "00" + v.to_national;
  v.from = c.from;
  v.text = m.text;
  v.id = std::to_string(m.outbox_id);
  v.username = c.username;
  v.secret = c.secret;
  return v;
}

std::string render(const Template& t, const Values& v) {
  std::string out;
  for (const auto& p : t) out += p.field ? escaped(v.get(*p.field), p.escape) : p.literal;
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  out.resize(std::size_t(n));
  return out;
}

std::optional<json::json_pointer> pointer(const std::string& p, std::string_view what) {
  if (p.empty()) return std::nullopt;
  try {
    return json::json_pointer(p);
  } catch (const json::exception& e) {
    throw std::invalid_argument("sms http gateway: " + std::string(what) + " '" + p +
                                "' is not a JSON pointer (\"/messageId\", \"/ids/0\"): " + e.what());
  }
}

// A JSON scalar as text: strings as they are, numbers by their digits.
std::optional<std::string> scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  if (v.is_boolean()) return v.dump();
  return std::nullopt;
}

std::optional<std::string> at_pointer(const json& j, const json::json_pointer& p) {
  try {  // an array index that is not one ("/ids/x", too many digits) is just absent
    if (!j.contains(p)) return std::nullopt;
    return scalar_text(j.at(p));
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::string excerpt(std::string_view body, std::size_t max = 300) { return body_excerpt(body, max); }

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  return s;
}

bool bad_header_name(std::string_view n) {
  return n.empty() || std::any_of(n.begin(), n.end(), [](unsigned char c) {
           return c <= ' ' || c >= 0x7F || c == ':' || c == '(' || c == ')' || c == ',' || c == ';' || c == '"';
         });
}

}  // namespace

struct HttpGateway::Compiled {
  net::Method method = net::Method::post;
  Template url;
  Template body;
  std::vector<std::pair<std::string, Template>> headers;
  std::string content_type;  // sent with a body unless a configured header sets it
  std::string authorization;
  std::optional<json::json_pointer> id_pointer;
  std::optional<json::json_pointer> success_pointer;
};

namespace {

// `with_values`: the secret, username and from the templates need must be
// there (building the gateway). Without: the shape only (check-config reads
// the file before the environment brings the secrets; the app reports a
// missing secret itself, naming its variable).
std::unique_ptr<HttpGateway::Compiled> compile_config(const HttpGatewayConfig& c, bool with_values) {
  auto out = std::make_unique<HttpGateway::Compiled>();
  const auto method = upper(c.method);
  if (method == "GET") out->method = net::Method::get;
  else if (method == "POST") out->method = net::Method::post;
  else if (method == "PUT") out->method = net::Method::put;
  else throw std::invalid_argument("sms http gateway: method '" + c.method + "' (GET, POST or PUT)");
  if (!c.url.starts_with("http://") && !c.url.starts_with("https://"))
    throw std::invalid_argument("sms http gateway: url must start with http:// or https://");
  if (out->method == net::Method::get && !c.body.empty())
    throw std::invalid_argument("sms http gateway: method GET sends no body; put the fields in the url");

  out->url = compile(c.url, "url", Escape::raw, true);
  const Escape body_esc = body_escape(c.content_type);
  out->body = compile(c.body, "body", body_esc);
  std::vector<const Template*> all{&out->url, &out->body};
  for (const auto& [name, value] : c.headers) {
    if (bad_header_name(name)) throw std::invalid_argument("sms http gateway: bad header name '" + name + "'");
    out->headers.emplace_back(name, compile(value, "header " + name, Escape::raw));
    if (value.find_first_of("\r\n") != std::string::npos)
      throw std::invalid_argument("sms http gateway: line break in header " + name);
  }
  for (const auto& h : out->headers) all.push_back(&h.second);
  auto used = [&](Field f) { return std::any_of(all.begin(), all.end(), [&](const Template* t) { return uses(*t, f); }); };

  const auto auth = c.auth;
  if (auth == "basic") {
    if (with_values && (c.username.empty() || c.secret.empty()))
      throw std::invalid_argument("sms http gateway: auth = \"basic\" needs username and the secret");
    out->authorization = "Basic " + base64(c.username + ":" + c.secret);
  } else if (auth == "bearer") {
    if (with_values && c.secret.empty())
      throw std::invalid_argument("sms http gateway: auth = \"bearer\" needs the secret");
    out->authorization = "Bearer " + c.secret;
  } else if (!auth.empty()) {
    throw std::invalid_argument("sms http gateway: auth '" + auth + "' (\"\", \"basic\" or \"bearer\")");
  }
  if (with_values && used(Field::secret) && c.secret.empty())
    throw std::invalid_argument("sms http gateway: {secret} is used but the secret is empty (not in the environment?)");
  if (with_values && used(Field::username) && c.username.empty())
    throw std::invalid_argument("sms http gateway: {username} is used but username is empty");
  if (with_values && used(Field::from) && c.from.empty())
    throw std::invalid_argument("sms http gateway: {from} is used but from is empty");
  if (!used(Field::to) && !used(Field::to_national) && !used(Field::to_00))
    throw std::invalid_argument("sms http gateway: the request never says the recipient ({to}, {to_national} or {to_00})");
  if (!used(Field::text)) throw std::invalid_argument("sms http gateway: the request never carries {text}");

  if (!c.body.empty()) {
    out->content_type = c.content_type;
    if (body_esc == Escape::json) {
      // Filled with awkward samples: a placeholder outside quotes breaks here, not at the first send.
      Message sample{42, "+33612345678", "Bonjour \"Zoé\"\n😀"};
      HttpGatewayConfig filled = c;
      if (filled.from.empty()) filled.from = "ORGANISME";
      if (filled.username.empty()) filled.username = "user";
      if (filled.secret.empty()) filled.secret = "secret";
      const auto body = render(out->body, values_of(sample, filled));
      if (!json::accept(body))
        throw std::invalid_argument("sms http gateway: body is not JSON once its placeholders are filled "
                                    "(is a placeholder outside its quotes?): " + body);
    }
  }
  out->id_pointer = pointer(c.id_pointer, "id_pointer");
  out->success_pointer = pointer(c.success_pointer, "success_pointer");
  if (!out->success_pointer && !c.success_values.empty())
    throw std::invalid_argument("sms http gateway: success_values without success_pointer");
  if (out->success_pointer && c.success_values.empty())
    throw std::invalid_argument("sms http gateway: success_pointer without success_values");
  for (const auto* f : {&c.inbound_from_field, &c.inbound_text_field, &c.inbound_id_field, &c.inbound_to_field})
    if (f->starts_with("/")) pointer(*f, "inbound field");
  if (c.inbound_from_field.empty() || c.inbound_text_field.empty())
    throw std::invalid_argument("sms http gateway: inbound_from_field and inbound_text_field cannot be empty");
  if (c.timeout.count() <= 0) throw std::invalid_argument("sms http gateway: timeout must be positive");
  return out;
}

}  // namespace

void validate(const HttpGatewayConfig& config) { (void)compile_config(config, false); }

HttpGateway::HttpGateway(net::HttpClient& http, HttpGatewayConfig config)
    : http_(http), config_(std::move(config)), compiled_(compile_config(config_, true)) {}

HttpGateway::~HttpGateway() = default;

RenderedRequest HttpGateway::render(const Message& m) const {
  const auto v = values_of(m, config_);
  RenderedRequest r;
  r.method = compiled_->method;
  r.url = http::render(compiled_->url, v);
  r.body = http::render(compiled_->body, v);
  bool has_content_type = false;
  for (const auto& [name, t] : compiled_->headers) {
    auto value = http::render(t, v);
    if (value.find_first_of("\r\n") != std::string::npos) {
      r.error = "header " + name + " would hold a line break";
      value.clear();
    }
    if (text::iequals(name, "Content-Type")) has_content_type = true;
    r.headers.push_back(net::Header{name, std::move(value)});
  }
  if (!r.body.empty() && !has_content_type && !compiled_->content_type.empty())
    r.headers.push_back(net::Header{"Content-Type", compiled_->content_type});
  if (!compiled_->authorization.empty()) r.headers.push_back(net::Header{"Authorization", compiled_->authorization});
  return r;
}

SendResult HttpGateway::to_send_result(const net::HttpResult& r, std::chrono::system_clock::time_point now) const {
  if (!r.answered()) return channel::http_unanswered(r);
  const std::string head = channel::http_head(r);
  SendResult out;
  if (r.ok()) {
    const bool wants_json = compiled_->success_pointer || compiled_->id_pointer;
    const json j = wants_json ? json::parse(r.body, nullptr, false) : json();
    if (compiled_->success_pointer) {
      const auto v = j.is_discarded() ? std::nullopt : at_pointer(j, *compiled_->success_pointer);
      const auto& ok = config_.success_values;
      if (!v || std::find(ok.begin(), ok.end(), *v) == ok.end()) {
        // The provider says no in a 2xx answer: its own error, not ours to retry.
        out.status = Status::failed;
        out.error = head + ": " + excerpt(r.body);
        return out;
      }
    }
    out.status = Status::sent;
    if (compiled_->id_pointer) {
      if (auto id = j.is_discarded() ? std::nullopt : at_pointer(j, *compiled_->id_pointer))
        out.remote_id = *id;
      else  // taken all the same: a retry would send it twice
        out.error = head + " without a message id at " + config_.id_pointer;
    }
    return out;
  }
  std::string line = head;
  if (const auto e = excerpt(r.body); !e.empty()) line += ": " + e;
  return channel::http_refused(r, std::move(line), now);
}

boost::asio::awaitable<SendResult> HttpGateway::send(Message m) {
  auto req = render(m);
  if (!req.error.empty()) {
    SendResult bad = channel::failed(req.error);
    spdlog::warn("sms http: outbox {}: failed ({})", m.outbox_id, bad.error);
    co_return bad;
  }
  auto r = co_await http_.async_request(req.method, std::move(req.url), std::move(req.headers), std::move(req.body),
                                        std::chrono::duration_cast<std::chrono::milliseconds>(config_.timeout));
  auto res = to_send_result(r, std::chrono::system_clock::now());
  // A gateway echoing the request in its error: never the secret in the
  // outbox row or the log, and the number and the text not in the log.
  res.error = logs::redact(res.error, {config_.secret});
  const std::string logged = logs::redact(res.error, {}, {m.to, m.text});
  switch (res.status) {
    case Status::sent: spdlog::debug("sms http: outbox {} sent ({})", m.outbox_id, res.remote_id); break;
    case Status::retry: spdlog::warn("sms http: outbox {}: will retry ({})", m.outbox_id, logged); break;
    case Status::failed: spdlog::warn("sms http: outbox {}: failed ({})", m.outbox_id, logged); break;
  }
  co_return res;
}

// ---- inbound -------------------------------------------------------------------

namespace {

// A dotted path ("message.from", "results.0.text") or a JSON pointer ("/message/from").
std::optional<std::string> json_field(const json& j, const std::string& path) {
  if (path.starts_with("/")) {
    try {
      return at_pointer(j, json::json_pointer(path));
    } catch (const json::exception&) {
      return std::nullopt;
    }
  }
  const json* cur = &j;
  std::size_t i = 0;
  while (true) {
    const auto dot = path.find('.', i);
    const auto seg = path.substr(i, dot == std::string::npos ? std::string::npos : dot - i);
    if (cur->is_object()) {
      auto it = cur->find(seg);
      if (it == cur->end()) return std::nullopt;
      cur = &*it;
    } else if (cur->is_array() && !seg.empty() && seg.size() < 10 &&
               std::all_of(seg.begin(), seg.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      const auto n = std::stoull(seg);
      if (n >= cur->size()) return std::nullopt;
      cur = &(*cur)[n];
    } else {
      return std::nullopt;
    }
    if (dot == std::string::npos) break;
    i = dot + 1;
  }
  return scalar_text(*cur);
}

std::optional<std::string> form_field(const net::FormFields& f, const std::string& name) {
  if (auto* v = net::form_find(f, name)) return *v;
  return std::nullopt;
}

bool looks_json(const Request& r) {
  const auto ct = r.header("Content-Type");
  if (!ct.empty()) return ct.find("json") != std::string::npos;
  const auto p = r.body.find_first_not_of(" \t\r\n");
  return p != std::string::npos && (r.body[p] == '{' || r.body[p] == '[');
}

}  // namespace

std::optional<HookOutcome> refusal_before_body(const Request& request, const HttpGatewayConfig& config) {
  if (request.method != "POST" && request.method != "GET")
    return HookOutcome::refuse(405, "sms http: method " + request.method);
  if (config.inbound_secret.empty()) return HookOutcome::refuse(403, "sms http: inbound_secret is not configured");
  std::string given = request.header("X-Relance-Secret");
  const auto query = net::form_decode(target_query(request.target));
  if (given.empty())
    if (auto* s = net::form_find(query, "secret")) given = *s;
  if (given.empty()) return HookOutcome::refuse(403, "sms http: no secret (?secret= or X-Relance-Secret)");
  if (!same_secret(given, config.inbound_secret)) return HookOutcome::refuse(403, "sms http: wrong secret");
  return std::nullopt;
}

HookOutcome parse_inbound(const Request& request, const HttpGatewayConfig& config) {
  if (auto refused = refusal_before_body(request, config)) return *refused;
  const auto query = net::form_decode(target_query(request.target));

  std::function<std::optional<std::string>(const std::string&)> get;
  json j;
  net::FormFields form;
  if (request.method == "GET") {
    form = query;
    get = [&](const std::string& n) { return form_field(form, n); };
  } else if (looks_json(request)) {
    j = json::parse(request.body, nullptr, false);
    if (j.is_discarded()) return HookOutcome::refuse(400, "sms http: the body is not JSON");
    get = [&](const std::string& n) { return json_field(j, n); };
  } else {
    form = net::form_decode(request.body);
    get = [&](const std::string& n) { return form_field(form, n); };
  }
  Inbound in;
  auto from = get(config.inbound_from_field);
  auto text = get(config.inbound_text_field);
  std::optional<std::string> id;
  if (!config.inbound_id_field.empty()) id = get(config.inbound_id_field);
  std::string missing;
  if (!from || from->empty()) missing += " " + config.inbound_from_field;
  if (!text) missing += " " + config.inbound_text_field;
  if (!config.inbound_id_field.empty() && (!id || id->empty())) missing += " " + config.inbound_id_field;
  if (!missing.empty()) return HookOutcome::refuse(400, "sms http: inbound message without" + missing);
  in.from = std::move(*from);
  in.text = std::move(*text);
  if (id) in.provider_id = std::move(*id);
  if (!config.inbound_to_field.empty())
    if (auto to = get(config.inbound_to_field)) in.to = std::move(*to);
  HookOutcome out;
  out.body = "ok\n";
  out.messages.push_back(std::move(in));
  return out;
}

}  // namespace relance::sms::http
