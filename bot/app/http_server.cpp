// The one HTTP port, on Boost.Beast: /healthz and the activity/learner feeds.
// This is relance_app's only Beast translation unit (G2: ~30 s, ~1 GB each).
//
// Threading: everything runs on the caller's io_context, one thread; the
// Engine and SQLite are touched only there, and a request is handled without
// suspending, so two requests never interleave inside the engine (no strand
// needed while the context has one thread).
//
// API (bearer token, JSON in and out; errors are {"error","detail"} plus
// "index" and "field" when one entry is at fault):
//   POST /api/v1/activity  {"events":[{"learner","source","at","id"?}]}
//   POST /api/v1/learners  {"learners":[{"id","first_name","last_name","email","phone","matrix_id"?,"cohort","start_date","language"?}]}
// Absent fields leave stored values alone (an update never blanks a field).
// A batch is validated whole before anything is written, then applied in one
// transaction: a 422 means nothing was applied. With no api_token configured
// the API answers 403 "api_disabled" (the route exists but is switched off,
// which says more to an administrator than a 404).
#include "bot/app/http_server.hpp"

#include "bot/app/matrix_id.hpp"
#include "bot/domain/learner_fields.hpp"
#include "messages/text/ascii.hpp"
#include "adapters/common/log_privacy.hpp"
#include "adapters/lms/csv/text.hpp"
#include "bot/app/phone.hpp"
#include "store/database.hpp"
#include "store/repositories.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <array>
#include <cctype>
#include <charconv>
#include <map>
#include <stdexcept>
#include <variant>

namespace relance::app {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A slow client gets this long to send its body or to read our answer.
constexpr std::chrono::seconds io_timeout{30};
// ...and this long to send the header of its first request: every client
// relance serves sends it at once, a slow-loris client never finishes it.
constexpr std::chrono::seconds header_timeout{10};
// Refused connections and accept errors are logged at most once per interval
// (1100 slow clients gave 10 lines a second).
constexpr std::chrono::seconds refusal_log_interval{10};
// A kept-alive connection waits this long for its next request, and at most
// this many wait at once (past it, an answer closes its connection).
// Clients that open a connection per request and leave it open (a
// Mattermost slash command each) would otherwise hold a descriptor each:
// 300 quick commands held 300 descriptors for 30 s.
constexpr std::chrono::seconds keep_alive_idle{5};
constexpr std::size_t max_idle_connections = 16;
// After refusing an oversized body we read and drop what the client still
// sends (so it sees our 413 rather than a reset), within these bounds.
constexpr std::chrono::seconds drain_timeout{2};
constexpr std::size_t drain_max_bytes = 8u << 20;
// An event dated further ahead than this is refused: it would make a
// learner look active until then.
constexpr std::chrono::hours max_future{24};

using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

// Learner text may hold invalid UTF-8; dump() would throw on it.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Response json_response(bhttp::status status, const json& body) {
  Response res{status, 11};
  res.set(bhttp::field::server, "relance");
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-store");
  res.body() = dump(body) + "\n";
  return res;
}

Response error_response(bhttp::status status, std::string_view error, std::string_view detail) {
  return json_response(status, json{{"error", error}, {"detail", detail}});
}

// A refusal that names the entry and field at fault.
struct EntryError {
  std::string error;  // "unknown_learner", "bad_source", "bad_time", "bad_field", ...
  std::size_t index;
  std::string field;
  std::string detail;
};

Response entry_error_response(const std::string& list, const EntryError& e) {
  const std::string where = list + "[" + std::to_string(e.index) + "]" + (e.field.empty() ? "" : "." + e.field);
  return json_response(bhttp::status::unprocessable_entity, json{{"error", e.error},
                                                                 {"detail", where + ": " + e.detail},
                                                                 {"index", e.index},
                                                                 {"field", e.field}});
}

// A learner field refused for its length or a control character
// (bot/domain/learner_fields.hpp: the limits the CSV import uses too). The
// value itself is not echoed: it may be 900 KB or hold the control.
std::optional<EntryError> field_refusal(std::size_t index, std::string field, LearnerField f, std::string_view value) {
  const auto p = learner_field_problem(f, value);
  if (!p) return std::nullopt;
  if (p->kind == FieldProblem::Kind::too_long)
    return EntryError{"bad_field", index, std::move(field),
                      "too long: " + std::to_string(p->size) + " bytes, at most " + std::to_string(p->limit)};
  char code[16];
  std::snprintf(code, sizeof code, "U+%04X", unsigned(p->code));
  return EntryError{"bad_field", index, std::move(field),
                    std::string("control character ") + code + " at byte " + std::to_string(p->offset) +
                        "; not allowed in this field"};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Constant time whatever the lengths: compare SHA-256 digests, so neither
// the content nor the length of the configured token leaks through timing.
bool token_matches(std::string_view given, std::string_view expected) {
  unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

// "Bearer <token>" (RFC 6750 §2.1; the scheme is case-insensitive).
std::optional<std::string_view> bearer_token(std::string_view header) {
  header = trim(header);
  constexpr std::string_view scheme = "bearer";
  if (header.size() <= scheme.size() || !text::iequals(header.substr(0, scheme.size()), scheme) ||
      (header[scheme.size()] != ' ' && header[scheme.size()] != '\t'))
    return std::nullopt;
  auto token = trim(header.substr(scheme.size()));
  if (token.empty()) return std::nullopt;
  return token;
}

// "lms" ..., or nothing; plain lower-case names only would refuse the
// French aliases that the rest of relance accepts, so parse_source decides.
std::optional<Source> source_of(const json& j) {
  if (!j.is_string()) return std::nullopt;
  return parse_source(j.get<std::string>());
}

std::string source_list() {
  std::string out;
  for (auto name : source_names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// Optional string member: absent or null -> nullopt; another type -> error.
std::optional<std::string> opt_string(const json& entry, const char* key, bool& bad) {
  auto it = entry.find(key);
  if (it == entry.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    bad = true;
    return std::nullopt;
  }
  return it->get<std::string>();
}

struct ParsedEvent {
  std::int64_t learner_key = 0;
  Source source = Source::lms;
  Timestamp at{};
  std::optional<std::string> id;
};

struct ServerState;

struct Connection {
  Connection(tcp::socket s, std::string client_) : stream(std::move(s)), client(std::move(client_)) {}
  beast::tcp_stream stream;
  std::string client;  // the peer's address, for the per-address cap
  bool idle = true;  // waiting for a request: safe to cancel on stop
  std::chrono::steady_clock::time_point waiting_since = std::chrono::steady_clock::now();
  bool evicted = false;  // closed to make room; no longer counted
};

// A warning logged at most once per interval: the first at once, then how
// many happened since, when the next comes after the interval.
struct ThrottledWarning {
  std::chrono::steady_clock::time_point last{};
  std::size_t since_last = 0;
  bool ever = false;

  // Calls `log(count)` when a line is due; `count` includes this event.
  template <class Log>
  void note(Log&& log) {
    const auto now = std::chrono::steady_clock::now();
    ++since_last;
    if (ever && now - last < refusal_log_interval) return;
    log(since_last);
    ever = true;
    last = now;
    since_last = 0;
  }
};

struct ServerState {
  ServerState(asio::io_context& io_, Engine& engine_, std::function<Timestamp()> clock_, std::function<void()> on_change_)
      : io(io_), engine(engine_), clock(std::move(clock_)), on_change(std::move(on_change_)), acceptor(io_) {}

  asio::io_context& io;
  Engine& engine;
  std::function<Timestamp()> clock;
  std::function<void()> on_change;
  tcp::acceptor acceptor;
  std::uint16_t port = 0;
  bool stopping = false;
  std::map<std::uint64_t, Connection*> connections;
  std::uint64_t next_connection = 0;
  // Connections counted against the caps (those being evicted are not).
  std::size_t live_connections = 0;
  std::map<std::string, std::size_t, std::less<>> per_client;
  // Request bodies being read or handled, in bytes (their declared size).
  std::size_t body_bytes_in_flight = 0;
  ThrottledWarning over_cap_warning;
  ThrottledWarning eviction_warning;
  ThrottledWarning body_budget_warning;
  ThrottledWarning accept_warning;
  std::map<std::string, HookHandler, std::less<>> hooks;
  std::map<std::string, AsyncHookHandler, std::less<>> async_hooks;
  std::map<std::string, HookGuard, std::less<>> guards;

  const HttpConfig& http() const { return engine.config().http; }

  void changed() {
    if (on_change) on_change();
  }
};

// ------------------------------------------------------------ the routes

Response handle_healthz(ServerState& st) {
  try {
    return json_response(bhttp::status::ok, json{{"status", "ok"}, {"schema", st.engine.db().schema_version()}});
  } catch (const std::exception& e) {
    spdlog::error("http: /healthz: database: {}", e.what());
    return error_response(bhttp::status::service_unavailable, "database", "the database cannot be read");
  }
}

// The time of an event: ISO 8601 (local to the organisation without an
// offset), or Unix seconds as a number or a string of digits.
std::optional<Timestamp> time_of(const json& j, const ZoneRules& zone) {
  if (j.is_number_unsigned() || j.is_number_integer()) {
    auto v = j.get<std::int64_t>();
    if (v < 0) return std::nullopt;
    return from_unix(v);
  }
  if (!j.is_string()) return std::nullopt;
  const auto s = j.get<std::string>();
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return from_unix(v);
  }
  return parse_iso_time(s, zone);
}

std::variant<std::vector<ParsedEvent>, EntryError> parse_events(ServerState& st, const json& events, Timestamp now) {
  // A repository per batch, not kept: its prepared SELECT, left stepped,
  // would hold a read snapshot open between requests (WAL never
  // checkpointed past it, and a stale snapshot when another process writes).
  store::LearnerRepo learners(st.engine.db());
  std::vector<ParsedEvent> out;
  out.reserve(events.size());
  std::map<std::string, std::int64_t> keys;  // learner id -> key, looked up once per batch
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (!e.is_object()) return EntryError{"bad_field", i, "", "an event is an object"};
    ParsedEvent p;

    auto learner = e.find("learner");
    if (learner == e.end() || !learner->is_string() || learner->get<std::string>().empty())
      return EntryError{"bad_field", i, "learner", "required, a learner id (string)"};
    const auto id = learner->get<std::string>();
    if (auto refused = field_refusal(i, "learner", LearnerField::id, id)) return *refused;
    if (auto k = keys.find(id); k != keys.end()) {
      p.learner_key = k->second;
    } else {
      auto l = learners.find(id);
      if (!l) return EntryError{"unknown_learner", i, "learner", "no learner with id \"" + id + "\""};
      p.learner_key = keys[id] = l->key;
    }

    auto source = e.find("source");
    if (source == e.end()) return EntryError{"bad_source", i, "source", "required, one of " + source_list()};
    auto s = source_of(*source);
    if (!s) return EntryError{"bad_source", i, "source", "unknown source " + dump(*source) + "; one of " + source_list()};
    p.source = *s;

    auto at = e.find("at");
    if (at == e.end()) return EntryError{"bad_time", i, "at", "required, ISO 8601 or Unix seconds"};
    auto t = time_of(*at, st.engine.zone());
    if (!t) return EntryError{"bad_time", i, "at", "not a time: " + dump(*at) + " (ISO 8601 or Unix seconds)"};
    if (*t > now + max_future)
      return EntryError{"bad_time", i, "at", format_utc(*t) + " is in the future"};
    p.at = *t;

    if (auto ext = e.find("id"); ext != e.end() && !ext->is_null()) {
      if (ext->is_string() && !ext->get<std::string>().empty()) {
        // Bounded as a learner id: it is stored in the event log as a key.
        if (auto refused = field_refusal(i, "id", LearnerField::id, ext->get_ref<const std::string&>())) return *refused;
        p.id = ext->get<std::string>();
      } else if (ext->is_number_integer())
        p.id = std::to_string(ext->get<std::int64_t>());
      else
        return EntryError{"bad_field", i, "id", "the provider's event id, a non-empty string"};
    }
    out.push_back(std::move(p));
  }
  return out;
}

Response handle_activity(ServerState& st, const json& doc, Timestamp now) {
  auto events = doc.find("events");
  if (events == doc.end() || !events->is_array())
    return error_response(bhttp::status::unprocessable_entity, "bad_field", "\"events\" is required, an array");
  auto parsed = parse_events(st, *events, now);
  if (auto* err = std::get_if<EntryError>(&parsed)) return entry_error_response("events", *err);

  int applied = 0, duplicates = 0, advanced = 0;
  auto& db = st.engine.db();
  store::WriteTransaction tx(db);
  for (const auto& e : std::get<std::vector<ParsedEvent>>(parsed)) {
    // Providers retry: an event id seen before is acknowledged, not replayed.
    // Recorded in the same transaction, so a failed batch leaves no mark.
    if (e.id && !store::first_seen(db, "api", *e.id, now)) {
      ++duplicates;
      continue;
    }
    ++applied;
    if (st.engine.apply(ActivityObserved{e.learner_key, e.source, e.at, "api"}, now).activity_moved) ++advanced;
  }
  tx.commit();
  if (advanced > 0) st.changed();
  return json_response(bhttp::status::ok, json{{"applied", applied}, {"duplicates", duplicates}, {"advanced", advanced}});
}

bool plausible_email(std::string_view s) {
  auto at = s.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < s.size() && s.find('@', at + 1) == std::string_view::npos &&
         std::none_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) || c < 0x20; });
}

std::variant<std::vector<Learner>, EntryError> parse_learners(const json& list) {
  std::vector<Learner> out;
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& e = list[i];
    if (!e.is_object()) return EntryError{"bad_field", i, "", "a learner is an object"};
    Learner l;
    // Not given: keep the stored language (the store uses "fr" for a new learner).
    l.language.clear();
    bool bad = false;
    auto id = opt_string(e, "id", bad);
    if (bad || !id || trim(*id).empty()) return EntryError{"bad_field", i, "id", "required, a non-empty string"};
    l.id = std::string(trim(*id));
    if (auto refused = field_refusal(i, "id", LearnerField::id, l.id)) return *refused;

    struct Text {
      const char* key;
      LearnerField field;
      std::string* into;
    };
    for (auto [key, field, into] : {Text{"first_name", LearnerField::first_name, &l.first_name},
                                    Text{"last_name", LearnerField::last_name, &l.last_name},
                                    Text{"email", LearnerField::email, &l.email},
                                    Text{"cohort", LearnerField::cohort, &l.cohort}}) {
      auto v = opt_string(e, key, bad);
      if (bad) return EntryError{"bad_field", i, key, "a string"};
      if (v) *into = std::string(trim(*v));
      if (auto refused = field_refusal(i, key, field, *into)) return *refused;
    }
    if (!l.email.empty() && !plausible_email(l.email))
      return EntryError{"bad_field", i, "email", "not an email address"};
    l.email = csv::ascii_lower(l.email);  // as the CSV import keeps it: a reply's From finds the learner

    auto phone = opt_string(e, "phone", bad);
    if (bad) return EntryError{"bad_field", i, "phone", "a string"};
    if (phone && !trim(*phone).empty()) {
      if (auto refused = field_refusal(i, "phone", LearnerField::phone, trim(*phone))) return *refused;
      auto p = normalize_phone(trim(*phone));
      if (!p.ok()) return EntryError{"bad_phone", i, "phone", p.error};
      l.phone = p.e164;
    }

    // A learner's Matrix account: relaunches go to a direct room with it.
    auto matrix_id = opt_string(e, "matrix_id", bad);
    if (bad) return EntryError{"bad_field", i, "matrix_id", "a string, a Matrix user id such as \"@lea:matrix.example.org\""};
    if (matrix_id && !trim(*matrix_id).empty()) {
      const std::string id(trim(*matrix_id));
      if (auto refused = field_refusal(i, "matrix_id", LearnerField::matrix_id, id)) return *refused;
      if (!matrix_id_problem(id).empty())
        return EntryError{"bad_matrix_id", i, "matrix_id",
                          "not a Matrix user id: \"" + id + "\" (expected \"@localpart:server\", e.g. \"@lea:matrix.example.org\")"};
      l.matrix_id = id;
    }

    auto language = opt_string(e, "language", bad);
    if (bad) return EntryError{"bad_field", i, "language", "a language code such as \"fr\" or \"en\""};
    if (language && !language->empty()) {
      std::string code(trim(*language));
      std::transform(code.begin(), code.end(), code.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      if (code.size() != 2 || !std::all_of(code.begin(), code.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
        return EntryError{"bad_field", i, "language", "a two-letter language code such as \"fr\" or \"en\""};
      l.language = code;
    }

    auto start = opt_string(e, "start_date", bad);
    if (bad) return EntryError{"bad_field", i, "start_date", "a date, YYYY-MM-DD"};
    if (start && !start->empty()) {
      auto d = parse_iso_date(*start);
      if (!d) return EntryError{"bad_field", i, "start_date", "not a date: \"" + *start + "\" (YYYY-MM-DD)"};
      l.start_date = *d;
    }
    out.push_back(std::move(l));
  }
  return out;
}

Response handle_learners(ServerState& st, const json& doc, Timestamp now) {
  auto list = doc.find("learners");
  if (list == doc.end() || !list->is_array())
    return error_response(bhttp::status::unprocessable_entity, "bad_field", "\"learners\" is required, an array");
  auto parsed = parse_learners(*list);
  if (auto* err = std::get_if<EntryError>(&parsed)) return entry_error_response("learners", *err);

  int inserted = 0, updated = 0, unchanged = 0;
  store::WriteTransaction tx(st.engine.db());
  for (auto& l : std::get<std::vector<Learner>>(parsed)) {
    switch (st.engine.upsert_learner(l, now)) {
      case store::LearnerRepo::Upserted::inserted: ++inserted; break;
      case store::LearnerRepo::Upserted::updated: ++updated; break;
      case store::LearnerRepo::Upserted::unchanged: ++unchanged; break;
    }
  }
  tx.commit();
  if (inserted + updated > 0) st.changed();
  return json_response(bhttp::status::ok, json{{"inserted", inserted}, {"updated", updated}, {"unchanged", unchanged}});
}

Response method_not_allowed(std::string_view allow) {
  auto res = error_response(bhttp::status::method_not_allowed, "method_not_allowed", "use " + std::string(allow));
  res.set(bhttp::field::allow, allow);
  return res;
}

// The API's refusal of a request by its header alone (method, token), or nothing.
std::optional<Response> api_refusal(ServerState& st, const bhttp::request_header<>& req) {
  if (req.method() != bhttp::verb::post) return method_not_allowed("POST");
  const auto& expected = st.http().api_token;
  if (expected.empty())
    return error_response(bhttp::status::forbidden, "api_disabled",
                          "the API is off: set http.api_token (or RELANCE_API_TOKEN) to enable it");
  auto token = bearer_token(req[bhttp::field::authorization]);
  if (!token || !token_matches(*token, expected)) {
    auto res = error_response(bhttp::status::unauthorized, "unauthorized",
                              token ? "wrong bearer token" : "an Authorization: Bearer <token> header is required");
    res.set(bhttp::field::www_authenticate, token ? "Bearer error=\"invalid_token\"" : "Bearer");
    return res;
  }
  return std::nullopt;
}

Response handle_api(ServerState& st, const Request& req, std::string_view path) {
  if (auto refused = api_refusal(st, req)) return std::move(*refused);

  json doc;
  try {
    doc = json::parse(req.body());
  } catch (const json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 9: ..." -> from "parse error".
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    return json_response(bhttp::status::bad_request,
                         json{{"error", "bad_json"}, {"detail", what}, {"byte", e.byte}});
  }
  if (!doc.is_object()) return error_response(bhttp::status::unprocessable_entity, "bad_field", "the body is a JSON object");

  const Timestamp now = st.clock();
  if (path == "/api/v1/activity") return handle_activity(st, doc, now);
  return handle_learners(st, doc, now);
}

HookRequest hook_head(const bhttp::request_header<>& req) {
  HookRequest hr;
  hr.method = std::string(req.method_string());
  hr.target = std::string(req.target());
  for (const auto& f : req) hr.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return hr;
}

HookRequest hook_request(const Request& req) {
  HookRequest hr = hook_head(req);
  hr.body = req.body();
  return hr;
}

Response hook_response(const HookResponse& out, unsigned version) {
  Response res{bhttp::status(out.status), version};
  res.set(bhttp::field::content_type, out.content_type);
  res.body() = out.body;
  return res;
}

// What is decided on the header alone, before the body is read: a request
// that will be refused anyway (wrong method, no or wrong token or secret,
// no such path) never has its body read nor held.
std::optional<Response> refusal_before_body(ServerState& st, const bhttp::request_header<>& req) {
  std::string_view target = req.target();
  const auto path = target.substr(0, target.find('?'));
  if (path == "/healthz") return std::nullopt;  // GET, no body; a POST gets its 405 after
  if (path == "/api/v1/activity" || path == "/api/v1/learners") return api_refusal(st, req);
  const bool sync_hook = st.hooks.contains(path);
  const bool async_hook = st.async_hooks.contains(path);
  if (!sync_hook && !async_hook) return error_response(bhttp::status::not_found, "not_found", "no such path");
  if (sync_hook && req.method() != bhttp::verb::post) return method_not_allowed("POST");
  if (async_hook && req.method() != bhttp::verb::post && req.method() != bhttp::verb::get)
    return method_not_allowed("GET, POST");
  if (auto g = st.guards.find(path); g != st.guards.end() && g->second) {
    try {
      if (auto refused = g->second(hook_head(req))) {
        spdlog::warn("http: {} refused before its body ({})", path, refused->status);
        return hook_response(*refused, req.version());
      }
    } catch (const std::exception& e) {
      spdlog::error("http: {}: {}", path, e.what());
      return error_response(bhttp::status::internal_server_error, "internal", "see the server log");
    }
  }
  return std::nullopt;
}

// Runs an async hook and waits for its answer without holding the thread.
asio::awaitable<Response> handle_async_hook(ServerState& st, const AsyncHookHandler& h, const Request& req) {
  if (req.method() != bhttp::verb::post && req.method() != bhttp::verb::get) co_return method_not_allowed("GET, POST");
  HookRequest hr = hook_request(req);
  auto out = co_await asio::async_initiate<decltype(asio::use_awaitable), void(HookResponse)>(
      [&h, &hr](auto handler) {
        // std::function needs a copyable callable; the completion handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto respond = [shared](HookResponse r) {
          auto ex = asio::get_associated_executor(*shared);
          asio::post(ex, [shared, r = std::move(r)]() mutable { std::move (*shared)(std::move(r)); });
        };
        try {
          h(std::move(hr), respond);
        } catch (const std::exception& e) {
          spdlog::error("http: hook: {}", e.what());
          respond(HookResponse{500, "text/plain", "error\n"});
        }
      },
      asio::use_awaitable);
  Response res = hook_response(out, req.version());
  if (out.status >= 200 && out.status < 300) st.changed();
  co_return res;
}

Response handle(ServerState& st, const Request& req) {
  std::string_view target = req.target();
  const auto path = target.substr(0, target.find('?'));
  if (path == "/healthz") {
    if (req.method() != bhttp::verb::get) return method_not_allowed("GET");
    return handle_healthz(st);
  }
  if (path == "/api/v1/activity" || path == "/api/v1/learners") {
    try {
      return handle_api(st, req, path);
    } catch (const std::exception& e) {
      // The transaction rolled back. The detail stays in our log: it may
      // name tables or hold learner data.
      spdlog::error("http: {} {}: {}", std::string_view(req.method_string()), path, e.what());
      return error_response(bhttp::status::internal_server_error, "internal", "see the server log");
    }
  }
  if (auto h = st.hooks.find(path); h != st.hooks.end()) {
    if (req.method() != bhttp::verb::post) return method_not_allowed("POST");
    HookRequest hr = hook_request(req);
    try {
      Response res = hook_response(h->second(hr), req.version());
      st.changed();
      return res;
    } catch (const std::exception& e) {
      spdlog::error("http: {} {}: {}", std::string_view(req.method_string()), path, e.what());
      return error_response(bhttp::status::internal_server_error, "internal", "see the server log");
    }
  }
  return error_response(bhttp::status::not_found, "not_found", "no such path");
}

// ------------------------------------------------------------ connections

// Reads what the client still sends after an early answer, then closes, so
// that it reads our answer instead of a connection reset.
asio::awaitable<void> drain_and_close(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 16 * 1024> sink;
  std::size_t total = 0;
  stream.expires_after(drain_timeout);
  while (total < drain_max_bytes) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
    if (rec) break;
    total += n;
  }
  stream.socket().close(ec);
}

asio::awaitable<bool> write(beast::tcp_stream& stream, Response& res) {
  res.prepare_payload();
  stream.expires_after(io_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream, res, use_tuple);
  (void)n;
  co_return !ec;
}

// A body's share of the in-flight budget, given back when the answer is out.
struct BodyReservation {
  ServerState* st = nullptr;
  std::size_t bytes = 0;
  BodyReservation() = default;
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;
  ~BodyReservation() {
    if (st) st->body_bytes_in_flight -= bytes;
  }
};

asio::awaitable<void> session(std::shared_ptr<ServerState> st, tcp::socket socket, std::string client) {
  Connection conn(std::move(socket), std::move(client));
  const auto id = st->next_connection++;
  st->connections[id] = &conn;
  struct Unregister {
    ServerState& st;
    std::uint64_t id;
    Connection& conn;
    ~Unregister() {
      st.connections.erase(id);
      if (conn.evicted) return;  // uncounted when it was evicted
      --st.live_connections;
      if (auto c = st.per_client.find(conn.client); c != st.per_client.end() && --c->second == 0) st.per_client.erase(c);
    }
  } unregister{*st, id, conn};

  beast::flat_buffer buffer;
  for (bool first = true; !st->stopping; first = false) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(st->http().max_body_bytes);
    conn.idle = true;
    conn.waiting_since = std::chrono::steady_clock::now();
    conn.stream.expires_after(first ? header_timeout : std::chrono::seconds(keep_alive_idle));
    auto [ec, n] = co_await bhttp::async_read_header(conn.stream, buffer, parser, use_tuple);
    (void)n;
    conn.idle = false;
    BodyReservation reservation;
    if (!ec && !parser.is_done()) {
      // The header is in, the body is not: refuse now what would be refused
      // anyway, and take the body's share of the in-flight budget.
      std::optional<Response> early = refusal_before_body(*st, parser.get());
      const auto declared = parser.content_length().value_or(st->http().max_body_bytes);  // chunked: the most it may be
      if (!early && st->body_bytes_in_flight + declared > st->http().max_body_bytes_in_flight) {
        early = error_response(bhttp::status::service_unavailable, "busy",
                               "too many request bodies at once; send it again in a moment");
        early->set(bhttp::field::retry_after, "1");
        st->body_budget_warning.note([&](std::size_t count) {
          spdlog::warn("http: {} request(s) refused (503): bodies in flight at max_body_bytes_in_flight = {}", count,
                       st->http().max_body_bytes_in_flight);
        });
      }
      if (early) {
        early->version(parser.get().version());
        early->keep_alive(false);
        if (co_await write(conn.stream, *early)) co_await drain_and_close(conn.stream);
        co_return;
      }
      reservation.st = st.get();
      reservation.bytes = declared;
      st->body_bytes_in_flight += declared;
      if (text::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, 11};
        conn.stream.expires_after(io_timeout);
        auto [wec, wn] = co_await bhttp::async_write(conn.stream, go_on, use_tuple);
        (void)wn;
        if (wec) break;
      }
      conn.stream.expires_after(io_timeout);
      std::tie(ec, n) = co_await bhttp::async_read(conn.stream, buffer, parser, use_tuple);
    }
    if (ec == bhttp::error::body_limit) {
      auto res = error_response(bhttp::status::payload_too_large, "too_large",
                                "the body is over " + std::to_string(st->http().max_body_bytes) + " bytes");
      res.keep_alive(false);
      if (co_await write(conn.stream, res)) co_await drain_and_close(conn.stream);
      co_return;
    }
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      // Not HTTP (a bad request line, an oversized header): say so, then close.
      auto res = error_response(bhttp::status::bad_request, "bad_request", ec.message());
      res.keep_alive(false);
      if (co_await write(conn.stream, res)) co_await drain_and_close(conn.stream);
      co_return;
    }
    if (ec) break;  // closed, timed out, cancelled by stop() or to make room

    auto req = parser.release();
    const std::string_view target = req.target();
    const auto async_hook = st->async_hooks.find(target.substr(0, target.find('?')));
    // No co_await inside a conditional expression: GCC 12 miscompiles it.
    Response res;
    if (st->stopping) res = error_response(bhttp::status::service_unavailable, "stopping", "the server is stopping");
    else if (async_hook != st->async_hooks.end()) res = co_await handle_async_hook(*st, async_hook->second, req);
    else res = handle(*st, req);
    res.version(req.version());
    const auto idle = std::count_if(st->connections.begin(), st->connections.end(),
                                    [](const auto& c) { return c.second->idle; });
    res.keep_alive(req.keep_alive() && !st->stopping && std::size_t(idle) < max_idle_connections);
    // The query of a webhook holds its secret and what the learner wrote.
    spdlog::debug("http: {} {} -> {}", std::string_view(req.method_string()), logs::loggable_target(req.target()),
                  res.result_int());
    if (!co_await write(conn.stream, res) || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  conn.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Makes room for a new connection by closing the one that has waited
// longest for a request (a slow client still sending its header, or an idle
// kept-alive one); false when every connection is busy with a request.
bool evict_longest_waiting(ServerState& st) {
  Connection* oldest = nullptr;
  for (auto& [id, c] : st.connections)
    if (c->idle && !c->evicted && (!oldest || c->waiting_since < oldest->waiting_since)) oldest = c;
  if (!oldest) return false;
  st.eviction_warning.note([&](std::size_t count) {
    spdlog::warn("http: {} connection(s) waiting for a request closed to make room (max_connections = {})", count,
                 st.http().max_connections);
  });
  oldest->evicted = true;
  --st.live_connections;
  if (auto c = st.per_client.find(oldest->client); c != st.per_client.end() && --c->second == 0) st.per_client.erase(c);
  boost::system::error_code ignored;
  oldest->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  oldest->stream.socket().cancel(ignored);
  return true;
}

// Refuses a connection over the caps for the price of one non-blocking
// send: a 503 the client reads if it is listening, then the descriptor is
// given back at once. Neither its request is read nor an answer waited on.
void refuse_over_cap(tcp::socket& socket) {
  static const std::string busy = [] {
    const std::string body = R"({"error":"busy","detail":"too many connections; try again in a moment"})" "\n";
    return "HTTP/1.1 503 Service Unavailable\r\nServer: relance\r\nContent-Type: application/json; charset=utf-8\r\n"
           "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.send(asio::buffer(busy), 0, ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

asio::awaitable<void> accept_loop(std::shared_ptr<ServerState> st) {
  while (!st->stopping) {
    auto [ec, socket] = co_await st->acceptor.async_accept(use_tuple);
    if (st->stopping || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of file descriptors and the like: wait a little rather than spin.
      st->accept_warning.note([&](std::size_t count) { spdlog::warn("http: accept: {} ({} time(s))", ec.message(), count); });
      asio::steady_timer pause(st->io, std::chrono::milliseconds{100});
      co_await pause.async_wait(use_tuple);
      continue;
    }
    boost::system::error_code pec;
    const auto peer = socket.remote_endpoint(pec);
    if (pec) continue;  // gone already; the socket closes here
    std::string client = peer.address().to_string();
    const auto& cfg = st->http();
    const auto from_client = st->per_client.find(client);
    const bool client_full = from_client != st->per_client.end() && from_client->second >= cfg.max_connections_per_client;
    const bool room = !client_full && (st->live_connections < cfg.max_connections || evict_longest_waiting(*st));
    if (!room) {
      refuse_over_cap(socket);
      st->over_cap_warning.note([&](std::size_t count) {
        spdlog::warn("http: {} connection(s) refused over the cap ({}: {} from {}, {} in all)", count,
                     client_full ? "per address" : "in all", cfg.max_connections_per_client, client,
                     cfg.max_connections);
      });
      continue;
    }
    ++st->live_connections;
    ++st->per_client[client];
    asio::co_spawn(st->io, session(st, std::move(socket), std::move(client)), asio::detached);
  }
}

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<ServerState> state;
};

HttpServer::HttpServer(asio::io_context& io, Engine& engine, std::function<Timestamp()> clock,
                       std::function<void()> on_change)
    : impl_(std::make_unique<Impl>(
          Impl{std::make_shared<ServerState>(io, engine, std::move(clock), std::move(on_change))})) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  auto& st = *impl_->state;
  const auto& cfg = st.http();
  boost::system::error_code ec;
  auto address = asio::ip::make_address(cfg.listen_address, ec);
  if (ec) throw std::runtime_error("http: listen_address \"" + cfg.listen_address + "\" is not an IP address");
  tcp::endpoint ep(address, cfg.port);
  const auto where = cfg.listen_address + ":" + std::to_string(cfg.port);
  st.acceptor.open(ep.protocol(), ec);
  if (!ec) st.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) st.acceptor.bind(ep, ec);
  if (!ec) st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("http: cannot listen on " + where + ": " + ec.message());
  st.port = st.acceptor.local_endpoint().port();
  st.stopping = false;
  asio::co_spawn(st.io, accept_loop(impl_->state), asio::detached);
}

std::uint16_t HttpServer::port() const { return impl_->state->port; }

void HttpServer::add_hook(std::string path, HookHandler handler, HookGuard guard) {
  impl_->state->guards[path] = std::move(guard);
  impl_->state->hooks[std::move(path)] = std::move(handler);
}
void HttpServer::add_async_hook(std::string path, AsyncHookHandler handler, HookGuard guard) {
  impl_->state->guards[path] = std::move(guard);
  impl_->state->async_hooks[std::move(path)] = std::move(handler);
}

void HttpServer::stop() {
  auto& st = *impl_->state;
  if (st.stopping) return;
  st.stopping = true;
  boost::system::error_code ignored;
  st.acceptor.close(ignored);
  // Idle keep-alive connections end now; one writing an answer finishes it
  // and then ends (the loop sees `stopping`).
  for (auto& [id, conn] : st.connections)
    if (conn->idle) conn->stream.socket().cancel(ignored);
}

}  // namespace relance::app
