#include "fake_mattermost.hpp"

#include "messages/text/ascii.hpp"
#include "adapters/common/form.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <random>
#include <set>
#include <stdexcept>

namespace relance::test {

using nlohmann::json;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// NOTES §1: every JSON error has this shape (`detailed_error` usually empty).
FakeResponse error(int status, std::string id, std::string message) {
  json j{{"id", std::move(id)},          {"message", std::move(message)},
         {"detailed_error", ""},         {"request_id", FakeMattermost::new_id()},
         {"status_code", status},        {"is_oauth", false}};
  return FakeResponse{status, "application/json", {}, j.dump(), false, false, false};
}

FakeResponse answer(int status, const json& j) {
  return FakeResponse{status, "application/json", {}, j.dump(), false, false, false};
}

// NOTES "Observed / Reconnection": a `since` listing stops at 1000 posts.
constexpr std::size_t since_cap = 1000;

FakeResponse not_found() { return error(404, "api.context.404.app_error", "Sorry, we could not find the page."); }

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool alnum_id(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

std::size_t utf8_length(const std::string& s) {
  return std::size_t(std::count_if(s.begin(), s.end(), [](unsigned char c) { return (c & 0xC0) != 0x80; }));
}

std::string query_param(const std::string& query, std::string_view name) {
  auto fields = net::form_decode(query);
  auto* v = net::form_find(fields, name);
  return v ? *v : std::string{};
}

// NOTES "Observed": actions without an id get a generated one; the stored
// post keeps `integration`, what clients see does not.
void name_actions(json& props) {
  if (!props.is_object() || !props.contains("attachments") || !props["attachments"].is_array()) return;
  for (auto& a : props["attachments"])
    if (a.is_object() && a.contains("actions") && a["actions"].is_array())
      for (auto& act : a["actions"])
        if (act.is_object() && (!act.contains("id") || act["id"] == "")) act["id"] = FakeMattermost::new_id();
}

json client_view(json post) {
  auto& props = post["props"];
  if (props.is_object() && props.contains("attachments") && props["attachments"].is_array())
    for (auto& a : props["attachments"])
      if (a.is_object() && a.contains("actions") && a["actions"].is_array())
        for (auto& act : a["actions"])
          if (act.is_object()) act.erase("integration");
  return post;
}

bool has_attachments(const json& props) {
  return props.is_object() && props.contains("attachments") && props["attachments"].is_array() &&
         !props["attachments"].empty();
}

}  // namespace

std::string FakeMattermost::new_id() {
  // Mattermost's NewId alphabet (base32, lowercase), 26 characters.
  static constexpr std::string_view alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(m);
  std::string id(26, ' ');
  for (auto& c : id) c = alphabet[rng() % alphabet.size()];
  return id;
}

// One WebSocket connection's state. With reliable WebSockets it outlives its
// socket, so that a resume can find it (NOTES §3 "Reconnect").
struct Conn {
  std::string key;            // the fake's id for it (also connection_id when reliable)
  std::string connection_id;  // what `hello` said
  std::string user_id;
  bool authenticated = false;
  bool by_header = false;  // the upgrade carried the token: resumable (NOTES §3)
  std::int64_t next_seq = 0;
  std::deque<std::pair<std::int64_t, std::string>> sent;  // replay buffer
  std::shared_ptr<FakeWebSocket> socket;                  // null while disconnected
};

struct FakeMattermost::Impl {
  FakeMattermost* self = nullptr;
  mutable std::mutex mutex;
  std::map<std::string, User> users;
  std::map<std::string, Channel> channels;
  std::map<std::string, json> posts;
  std::vector<std::string> post_order;
  std::vector<json> reactions;
  std::vector<Frame> frames;
  std::int64_t last_ms = 0;

  // Token bucket (NOTES §1 "Rate limiting").
  double tokens = 0;
  std::chrono::steady_clock::time_point refilled;

  bool down = false;
  int fail_status = 0;
  int fail_count = 0;
  int drop_count = 0;
  int down_status = 0;  // set_down: every REST call answers this

  std::map<const FakeWebSocket*, std::shared_ptr<Conn>> live;
  std::map<std::string, std::shared_ptr<Conn>> resumable;  // by connection_id
  std::size_t closed_pongs = 0;

  struct Hook {
    std::string user_id, channel_id;
    int uses_left = 5;  // NOTES §4: up to 5 times within 30 minutes
  };
  std::map<std::string, Hook> hooks;

  // ----- helpers, mutex held -----
  std::int64_t stamp() {
    last_ms = std::max(now_ms(), last_ms + 1);  // distinct, so `since` queries are exact
    return last_ms;
  }

  void send_event(Conn& c, const std::string& event, const json& data, const json& broadcast) {
    json frame{{"event", event}, {"data", data}, {"broadcast", broadcast}, {"seq", c.next_seq}};
    // NOTES "Observed": every frame ends with "\n".
    auto text = frame.dump() + "\n";
    c.sent.emplace_back(c.next_seq, text);
    while (c.sent.size() > self->options_.replay_capacity) c.sent.pop_front();
    ++c.next_seq;
    if (c.socket) {
      frames.push_back({c.key, true, text});
      c.socket->send(text);
    }
  }

  void send_reply(Conn& c, const json& reply) {
    auto text = reply.dump() + "\n";
    frames.push_back({c.key, true, text});
    if (c.socket) c.socket->send(text);
  }

  // To every authenticated connection of `only_user` (all when empty),
  // connected or waiting for a resume.
  void broadcast(const std::string& event, const json& data, const json& bc, const std::string& only_user = {}) {
    std::set<Conn*> targets;
    for (auto& [k, c] : live) targets.insert(c.get());
    for (auto& [k, c] : resumable) targets.insert(c.get());
    for (Conn* c : targets)
      if (c->authenticated && (only_user.empty() || c->user_id == only_user)) send_event(*c, event, data, bc);
  }

  static json channel_broadcast(const std::string& channel_id) {
    return json{{"omit_users", nullptr}, {"user_id", ""}, {"channel_id", channel_id}, {"team_id", ""}};
  }

  json new_post(const std::string& user_id, const std::string& channel_id, std::string message,
                std::string root_id, json props) {
    if (!props.is_object()) props = json::object();
    name_actions(props);
    const auto t = stamp();
    json p{{"id", new_id()},        {"create_at", t},         {"update_at", t},
           {"edit_at", 0},          {"delete_at", 0},         {"is_pinned", false},
           {"user_id", user_id},    {"channel_id", channel_id}, {"root_id", std::move(root_id)},
           {"original_id", ""},     {"message", std::move(message)},
           {"type", has_attachments(props) ? "slack_attachment" : ""},
           {"props", props},        {"hashtags", ""},         {"file_ids", json::array()},
           {"pending_post_id", ""}, {"metadata", json::object()}};
    return p;
  }

  void store_and_announce(const json& post) {
    const std::string id = post["id"];
    posts[id] = post;
    post_order.push_back(id);
    const auto& ch = channels[post["channel_id"].get<std::string>()];
    auto user = users.find(post["user_id"].get<std::string>());
    // NOTES §3: `posted` with data.post a JSON *string*.
    json data{{"channel_display_name", ch.display_name},
              {"channel_name", ch.name},
              {"channel_type", ch.type},
              {"post", client_view(post).dump()},
              {"sender_name", "@" + (user == users.end() ? std::string{} : user->second.username)},
              {"set_online", true},
              {"team_id", ch.team_id}};
    broadcast("posted", data, channel_broadcast(ch.id));
  }

  void announce_edit(const json& post) {
    broadcast("post_edited", json{{"post", client_view(post).dump()}}, channel_broadcast(post["channel_id"]));
  }

  void announce_ephemeral(const std::string& user_id, const std::string& channel_id, const std::string& root_id,
                          const std::string& message) {
    json p = new_post(self->bot_.id, channel_id, message, root_id, json::object());
    p["type"] = "system_ephemeral";
    json bc{{"omit_users", nullptr}, {"user_id", user_id}, {"channel_id", ""}, {"team_id", ""}};
    broadcast("ephemeral_message", json{{"post", p.dump()}}, bc, user_id);
  }

  // ----- rate limiting: NOTES §1 and the spec's "Rate Limiting" -----
  // Returns the 429 when over the limit; adds the X-Ratelimit-* headers.
  std::optional<FakeResponse> rate_limit(FakeHeaders& headers) {
    const auto& o = self->options_;
    if (o.rate_per_second <= 0) return std::nullopt;
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - refilled).count();
    refilled = now;
    tokens = std::min<double>(o.rate_burst, tokens + elapsed * o.rate_per_second);
    const bool allowed = tokens >= 1.0;
    if (allowed) tokens -= 1.0;
    // Go canonicalises the names: "X-Ratelimit-Limit" on the wire.
    const auto reset = static_cast<long>(std::ceil((o.rate_burst - tokens) / o.rate_per_second));
    headers.emplace_back("X-Ratelimit-Limit", std::to_string(o.rate_burst));
    headers.emplace_back("X-Ratelimit-Remaining", std::to_string(static_cast<long>(std::floor(tokens))));
    headers.emplace_back("X-Ratelimit-Reset", std::to_string(std::max(reset, 1L)));
    if (allowed) return std::nullopt;
    const auto retry = std::max(1L, static_cast<long>(std::ceil((1.0 - tokens) / o.rate_per_second)));
    FakeResponse r{429, "text/plain; charset=utf-8", headers, "limit exceeded\n", false, false, false};
    r.headers.emplace_back("Retry-After", std::to_string(retry));
    return r;
  }

  // ----- REST -----
  FakeResponse handle(const FakeRequest& req);
  FakeResponse route(const FakeRequest& req, const std::vector<std::string>& p);
  FakeResponse create_post(const FakeRequest& req);
  FakeResponse update_post(const std::string& id, const FakeRequest& req, bool patch);
  FakeResponse channel_posts(const std::string& channel_id, const FakeRequest& req);
  FakeResponse hook(const std::string& id, const FakeRequest& req);

  // ----- WebSocket -----
  std::optional<FakeResponse> on_upgrade(const FakeRequest& req);
  void on_open(const std::shared_ptr<FakeWebSocket>& ws, const FakeRequest& req);
  void on_message(const std::shared_ptr<FakeWebSocket>& ws, const std::string& text);
  void on_close(const std::shared_ptr<FakeWebSocket>& ws);
  void start(const std::shared_ptr<Conn>& c, const std::string& connection_id, const std::string& sequence);

  std::optional<ClickResult> prepare_click(const std::string& post_id, const std::string& action_id,
                                           const std::string& user_id, const std::string& selected_option,
                                           std::string& url, json& body);
  void finish_click(ClickResult& out, const std::string& post_id, const std::string& user_id, const json& request);

  // A command response (NOTES §4), posted or shown as Mattermost does.
  void apply_command_response(const json& r, const std::string& user_id, const std::string& channel_id,
                              std::optional<json>& posted, std::optional<std::string>& ephemeral);

  std::string bearer(const FakeRequest& req) const {
    auto auth = req.header("Authorization");
    constexpr std::string_view prefix = "Bearer ";
    if (auth.size() > prefix.size() && text::iequals(std::string_view(auth).substr(0, prefix.size()), prefix))
      return auth.substr(prefix.size());
    return {};
  }
};

FakeMattermost::FakeMattermost(Options options)
    : options_(std::move(options)),
      bot_{new_id(), options_.bot_username, true},
      impl_(std::make_unique<Impl>()),
      server_([this](const FakeRequest& r) { return impl_->handle(r); }, options_.tls) {
  impl_->self = this;
  impl_->users[bot_.id] = bot_;
  impl_->tokens = options_.rate_burst;
  impl_->refilled = std::chrono::steady_clock::now();
  FakeWebSocketHandler ws;
  ws.on_upgrade = [this](const FakeRequest& r) { return impl_->on_upgrade(r); };
  ws.on_open = [this](const std::shared_ptr<FakeWebSocket>& s, const FakeRequest& r) { impl_->on_open(s, r); };
  ws.on_message = [this](const std::shared_ptr<FakeWebSocket>& s, const std::string& t) { impl_->on_message(s, t); };
  ws.on_close = [this](const std::shared_ptr<FakeWebSocket>& s) { impl_->on_close(s); };
  ws.idle_timeout = options_.websocket_idle_timeout;
  server_.set_websocket_handler(std::move(ws));
}

FakeMattermost::~FakeMattermost() {
  server_.stop();
  // The sessions' sockets belong to the server's io_context, which goes with
  // server_: let go of them first.
  impl_->live.clear();
  impl_->resumable.clear();
}

std::string FakeMattermost::websocket_url() const {
  return std::string(options_.tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(server_.port()) +
         "/api/v4/websocket";
}

FakeMattermost::User FakeMattermost::add_user(std::string username) {
  std::lock_guard lock(impl_->mutex);
  User u{new_id(), std::move(username), false};
  impl_->users[u.id] = u;
  return u;
}

FakeMattermost::Channel FakeMattermost::add_channel(std::string name, std::string type, std::string team_id) {
  std::lock_guard lock(impl_->mutex);
  Channel c{new_id(), std::move(type), name, name, std::move(team_id)};
  impl_->channels[c.id] = c;
  return c;
}

FakeMattermost::Channel FakeMattermost::direct_channel(const std::string& a, const std::string& b) {
  std::lock_guard lock(impl_->mutex);
  auto name = std::min(a, b) + "__" + std::max(a, b);
  for (const auto& [id, c] : impl_->channels)
    if (c.type == "D" && c.name == name) return c;
  Channel c{new_id(), "D", name, name, ""};
  impl_->channels[c.id] = c;
  return c;
}

std::optional<json> FakeMattermost::post(const std::string& id) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->posts.find(id);
  if (it == impl_->posts.end()) return std::nullopt;
  return it->second;
}

std::vector<json> FakeMattermost::posts() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<json> out;
  for (const auto& id : impl_->post_order) out.push_back(impl_->posts.at(id));
  return out;
}

std::vector<json> FakeMattermost::reactions() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->reactions;
}

std::vector<FakeMattermost::Frame> FakeMattermost::frames() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->frames;
}

std::size_t FakeMattermost::websocket_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->live.size();
}

std::size_t FakeMattermost::pongs() const {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = impl_->closed_pongs;
  for (const auto& [ws, c] : impl_->live) n += ws->pongs();
  return n;
}

json FakeMattermost::user_posts(const std::string& user_id, const std::string& channel_id, std::string message,
                                std::string root_id) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->channels.count(channel_id)) throw std::invalid_argument("user_posts: unknown channel " + channel_id);
  auto p = impl_->new_post(user_id, channel_id, std::move(message), std::move(root_id), json::object());
  impl_->store_and_announce(p);
  return p;
}

json FakeMattermost::user_reacts(const std::string& user_id, const std::string& post_id, std::string emoji_name) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->posts.find(post_id);
  if (it == impl_->posts.end()) throw std::invalid_argument("user_reacts: unknown post " + post_id);
  json r{{"user_id", user_id}, {"post_id", post_id}, {"emoji_name", std::move(emoji_name)},
         {"create_at", impl_->stamp()}, {"update_at", impl_->last_ms}, {"delete_at", 0}, {"remote_id", ""},
         {"channel_id", it->second["channel_id"]}};
  impl_->reactions.push_back(r);
  // NOTES §3: data.reaction is a JSON string too.
  impl_->broadcast("reaction_added", json{{"reaction", r.dump()}}, Impl::channel_broadcast(it->second["channel_id"]));
  return r;
}

void FakeMattermost::fail_next(int status, int count) {
  std::lock_guard lock(impl_->mutex);
  impl_->fail_status = status;
  impl_->fail_count = count;
}

void FakeMattermost::set_down(int status) {
  std::lock_guard lock(impl_->mutex);
  impl_->down_status = status;
}

void FakeMattermost::drop_next(int count) {
  std::lock_guard lock(impl_->mutex);
  impl_->drop_count = count;
}

void FakeMattermost::drop_websockets() {
  std::lock_guard lock(impl_->mutex);
  for (auto& [ws, c] : impl_->live)
    if (c->socket) c->socket->drop();
}

void FakeMattermost::close_websockets() {
  std::lock_guard lock(impl_->mutex);
  for (auto& [ws, c] : impl_->live)
    if (c->socket) c->socket->close();
}

void FakeMattermost::ping_websockets() {
  std::lock_guard lock(impl_->mutex);
  for (auto& [ws, c] : impl_->live)
    if (c->socket) c->socket->ping();
}

void FakeMattermost::set_down(bool down) {
  std::lock_guard lock(impl_->mutex);
  impl_->down = down;
  if (!down) return;
  for (auto& [ws, c] : impl_->live)
    if (c->socket) c->socket->drop();
  // A restarted server knows no connection.
  impl_->resumable.clear();
}

void FakeMattermost::forget_connections() {
  std::lock_guard lock(impl_->mutex);
  impl_->resumable.clear();
}

// ---------------------------------------------------------------- REST

FakeResponse FakeMattermost::Impl::handle(const FakeRequest& req) {
  std::lock_guard lock(mutex);
  auto parts = split_path(req.path);
  if (parts.size() == 3 && parts[0] == "hooks" && parts[1] == "commands") return hook(parts[2], req);
  if (parts.size() < 2 || parts[0] != "api" || parts[1] != "v4") return not_found();

  if (down_status != 0)
    return FakeResponse{down_status, "text/html", {}, "<html><body><h1>Bad Gateway</h1></body></html>", false, false,
                        false};
  if (down)
    return FakeResponse{502, "text/html", {}, "<html><body><h1>502 Bad Gateway</h1></body></html>", false, true, false};
  // api4/system.go: ping needs no session (clients call it before logging in).
  if (parts.size() == 4 && parts[2] == "system" && parts[3] == "ping" && req.method == "GET")
    return FakeResponse{200, "application/json", {}, json{{"status", "OK"}, {"ActiveSearchBackend", "database"}}.dump(),
                        false, false, false};
  if (drop_count > 0) {
    --drop_count;
    FakeResponse r;
    r.drop = true;
    return r;
  }
  if (fail_count > 0) {
    --fail_count;
    // A reverse proxy's page, not Mattermost's JSON.
    return FakeResponse{fail_status, "text/html", {}, "<html><body><h1>Bad Gateway</h1></body></html>",
                        false, false, false};
  }
  FakeHeaders rate_headers;
  if (auto refused = rate_limit(rate_headers)) return *refused;

  FakeResponse out;
  if (bearer(req) != self->options_.bot_token) {
    // Without a session, or with a token the server does not know.
    out = error(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.");
  } else {
    out = route(req, std::vector<std::string>(parts.begin() + 2, parts.end()));
  }
  for (auto& h : rate_headers) out.headers.push_back(std::move(h));
  return out;
}

FakeResponse FakeMattermost::Impl::route(const FakeRequest& req, const std::vector<std::string>& p) {
  const auto& m = req.method;
  const auto n = p.size();
  auto user_json = [](const User& u) {
    return json{{"id", u.id}, {"username", u.username}, {"is_bot", u.is_bot}, {"first_name", ""},
                {"last_name", ""}, {"nickname", ""}, {"email", u.username + "@example.org"},
                {"roles", "system_user"}, {"locale", "fr"}, {"delete_at", 0}};
  };
  if (m == "GET" && n == 2 && p[0] == "users") {
    auto id = p[1] == "me" ? self->bot_.id : p[1];
    auto it = users.find(id);
    if (it == users.end())
      return error(404, "app.user.missing_account.const", "Unable to find the user.");
    return answer(200, user_json(it->second));
  }
  if (m == "GET" && n == 3 && p[0] == "users" && p[1] == "username") {
    for (const auto& [id, u] : users)
      if (u.username == p[2]) return answer(200, user_json(u));
    return error(404, "app.user.missing_account.const", "Unable to find the user.");
  }
  if (m == "POST" && n == 2 && p[0] == "users" && (p[1] == "ids" || p[1] == "usernames")) {
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_array())
      return error(400, "api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body.");
    json out = json::array();  // unknown ones are simply absent
    for (const auto& [id, u] : users)
      for (const auto& wanted : body)
        if (wanted.is_string() && wanted == (p[1] == "ids" ? u.id : u.username)) out.push_back(user_json(u));
    return answer(200, out);
  }
  if (m == "GET" && n == 2 && p[0] == "channels") {
    auto it = channels.find(p[1]);
    if (it == channels.end())
      return error(404, "app.channel.get.existing.app_error", "Unable to find the existing channel.");
    const auto& c = it->second;
    return answer(200, json{{"id", c.id}, {"type", c.type}, {"name", c.name}, {"display_name", c.display_name},
                            {"team_id", c.team_id}, {"delete_at", 0}});
  }
  if (m == "POST" && n == 1 && p[0] == "posts") return create_post(req);
  if (m == "POST" && n == 2 && p[0] == "posts" && p[1] == "ephemeral") {
    if (!self->options_.bot_can_post_ephemeral)
      return error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.");
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("user_id") || !body.contains("post") || !body["post"].is_object())
      return error(400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.");
    const auto& post = body["post"];
    auto p2 = new_post(self->bot_.id, post.value("channel_id", std::string{}), post.value("message", std::string{}), "", json::object());
    p2["type"] = "system_ephemeral";
    json bc{{"omit_users", nullptr}, {"user_id", body["user_id"]}, {"channel_id", ""}, {"team_id", ""}};
    broadcast("ephemeral_message", json{{"post", p2.dump()}}, bc, body["user_id"]);
    return answer(201, p2);
  }
  if (n >= 2 && p[0] == "posts" && p[1] != "ephemeral") {
    auto it = posts.find(p[1]);
    if (m == "GET" && n == 2) {
      if (it == posts.end() || it->second["delete_at"] != 0)
        return error(404, "app.post.get.app_error", "Unable to get the post.");
      return answer(200, client_view(it->second));
    }
    if (m == "PUT" && n == 2) return update_post(p[1], req, false);
    if (m == "DELETE" && n == 2) {
      // Soft delete: delete_at set, still listed by `since` (NOTES "Reconnection").
      if (it == posts.end() || it->second["user_id"] != self->bot_.id)
        return error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.");
      it->second["delete_at"] = stamp();
      it->second["update_at"] = last_ms;
      broadcast("post_deleted", json{{"post", client_view(it->second).dump()}},
                channel_broadcast(it->second["channel_id"]));
      return answer(200, json{{"status", "OK"}});
    }
    if (m == "PUT" && n == 3 && p[2] == "patch") return update_post(p[1], req, true);
    if (m == "GET" && n == 3 && p[2] == "thread") {
      if (it == posts.end()) return error(404, "app.post.get.app_error", "Unable to get the post.");
      const std::string root = it->second["root_id"] == "" ? p[1] : it->second["root_id"].get<std::string>();
      json list{{"order", json::array()}, {"posts", json::object()}, {"next_post_id", ""},
                {"prev_post_id", ""}, {"has_next", false}};
      for (auto i = post_order.rbegin(); i != post_order.rend(); ++i) {
        const auto& q = posts[*i];
        if (*i == root || q["root_id"] == root) {
          list["order"].push_back(*i);
          list["posts"][*i] = client_view(q);
        }
      }
      return answer(200, list);
    }
    if (m == "GET" && n == 3 && p[2] == "reactions") {
      json out = json::array();
      for (const auto& r : reactions)
        if (r["post_id"] == p[1]) out.push_back(r);
      return answer(200, out);
    }
  }
  if (m == "GET" && n == 3 && p[0] == "channels" && p[2] == "posts") return channel_posts(p[1], req);
  if (m == "POST" && n == 1 && p[0] == "reactions") {
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("post_id") || !body.contains("emoji_name"))
      return error(400, "api.context.invalid_body_param.app_error", "Invalid or missing reaction in request body.");
    if (body.value("user_id", std::string{}) != self->bot_.id)
      return error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.");
    auto it = posts.find(body["post_id"].get<std::string>());
    if (it == posts.end())
      return error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.");
    json r{{"user_id", self->bot_.id}, {"post_id", it->first}, {"emoji_name", body["emoji_name"]},
           {"create_at", stamp()}, {"update_at", last_ms}, {"delete_at", 0}, {"remote_id", ""},
           {"channel_id", it->second["channel_id"]}};
    reactions.push_back(r);
    broadcast("reaction_added", json{{"reaction", r.dump()}}, channel_broadcast(it->second["channel_id"]));
    return answer(201, r);
  }
  if (m == "DELETE" && n == 6 && p[0] == "users" && p[2] == "posts" && p[4] == "reactions") {
    auto uid = p[1] == "me" ? self->bot_.id : p[1];
    auto it = std::find_if(reactions.begin(), reactions.end(), [&](const json& r) {
      return r["user_id"] == uid && r["post_id"] == p[3] && r["emoji_name"] == p[5];
    });
    if (it != reactions.end()) {
      auto r = *it;
      reactions.erase(it);
      broadcast("reaction_removed", json{{"reaction", r.dump()}}, channel_broadcast(r["channel_id"]));
    }
    return answer(200, json{{"status", "OK"}});
  }
  if (m == "POST" && n == 2 && p[0] == "channels" && p[1] == "direct") {
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_array() || body.size() != 2 || !body[0].is_string() || !body[1].is_string())
      return error(400, "api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body.");
    const std::string a = body[0], b = body[1];
    auto name = std::min(a, b) + "__" + std::max(a, b);
    for (const auto& [id, c] : channels)
      if (c.type == "D" && c.name == name)
        return answer(201, json{{"id", id}, {"type", "D"}, {"name", name}, {"display_name", ""}, {"team_id", ""}});
    Channel c{new_id(), "D", name, "", ""};
    channels[c.id] = c;
    return answer(201, json{{"id", c.id}, {"type", "D"}, {"name", name}, {"display_name", ""}, {"team_id", ""}});
  }
  return not_found();
}

FakeResponse FakeMattermost::Impl::create_post(const FakeRequest& req) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object())
    return error(400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.");
  const auto channel_id = body.value("channel_id", std::string{});
  if (channel_id.size() != 26)
    return error(400, "model.post.is_valid.channel_id.app_error", "Invalid channel id.");
  if (!channels.count(channel_id))  // the bot is not a member
    return error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.");
  auto message = body.value("message", std::string{});
  if (utf8_length(message) > 16383)  // NOTES §2: post message limit
    return error(400, "model.post.is_valid.message_length.app_error", "Invalid Message property length.");
  auto root_id = body.value("root_id", std::string{});
  if (!root_id.empty()) {
    // NOTES §2: root_id is the thread's root, never a reply.
    auto root = posts.find(root_id);
    if (root == posts.end() || root->second["channel_id"] != channel_id || root->second["root_id"] != "")
      return error(400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.");
  }
  json props = body.contains("props") && body["props"].is_object() ? body["props"] : json::object();
  props["from_bot"] = "true";  // NOTES §2: posts from bots carry it
  auto post = new_post(self->bot_.id, channel_id, std::move(message), std::move(root_id), std::move(props));
  if (body.contains("file_ids") && body["file_ids"].is_array()) post["file_ids"] = body["file_ids"];
  if (body.contains("pending_post_id")) post["pending_post_id"] = body["pending_post_id"];
  store_and_announce(post);
  return answer(201, client_view(post));
}

// NOTES §2 "edit post": PUT /posts/{id} repeats the id; /patch is partial.
FakeResponse FakeMattermost::Impl::update_post(const std::string& id, const FakeRequest& req, bool patch) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object())
    return error(400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.");
  if (!patch && body.value("id", std::string{}) != id)
    return error(400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.");
  auto it = posts.find(id);
  if (it == posts.end())
    return error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.");
  auto& post = it->second;
  if (post["user_id"] != self->bot_.id)  // edit_others_posts is not a bot's
    return error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.");
  if (body.contains("message") && body["message"].is_string()) {
    if (utf8_length(body["message"]) > 16383)
      return error(400, "model.post.is_valid.message_length.app_error", "Invalid Message property length.");
    post["message"] = body["message"];
  }
  if (body.contains("props") && body["props"].is_object()) {
    post["props"] = body["props"];
    name_actions(post["props"]);
    post["type"] = has_attachments(post["props"]) ? "slack_attachment" : "";
  }
  if (body.contains("file_ids") && body["file_ids"].is_array()) post["file_ids"] = body["file_ids"];
  if (body.contains("is_pinned") && body["is_pinned"].is_boolean()) post["is_pinned"] = body["is_pinned"];
  post["edit_at"] = stamp();
  post["update_at"] = last_ms;
  announce_edit(post);
  return answer(200, client_view(post));
}

// NOTES "Reconnection": since=<ms> returns posts with update_at > since.
FakeResponse FakeMattermost::Impl::channel_posts(const std::string& channel_id, const FakeRequest& req) {
  if (!channels.count(channel_id))
    return error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.");
  auto number = [&](std::string_view name, long fallback) {
    auto v = query_param(req.query, name);
    try {
      return v.empty() ? fallback : std::stol(v);
    } catch (...) {
      return fallback;
    }
  };
  const auto since = query_param(req.query, "since");
  const long per_page = std::min(number("per_page", 60), 200L);  // NOTES §1: max 200, silently truncated
  const long page = number("page", 0);
  json list{{"order", json::array()}, {"posts", json::object()}, {"next_post_id", ""},
            {"prev_post_id", ""}, {"has_next", false}};
  std::vector<std::string> ids;
  for (auto i = post_order.rbegin(); i != post_order.rend(); ++i)  // newest first
    if (posts[*i]["channel_id"] == channel_id) ids.push_back(*i);
  if (!since.empty()) {
    // NOTES "Observed / Reconnection": update_at > since, at most 1000 posts,
    // the oldest (by update_at) of the window; listed newest first by creation.
    const long long s = std::stoll(since);
    std::vector<std::string> window;
    for (const auto& id : ids)
      if (posts[id]["update_at"].get<long long>() > s) window.push_back(id);
    std::stable_sort(window.begin(), window.end(), [&](const std::string& a, const std::string& b) {
      return posts[a]["update_at"].get<long long>() < posts[b]["update_at"].get<long long>();
    });
    if (window.size() > since_cap) window.resize(since_cap);
    const std::set<std::string> kept(window.begin(), window.end());
    for (const auto& id : ids)  // newest first, by creation
      if (kept.count(id)) {
        list["order"].push_back(id);
        list["posts"][id] = client_view(posts[id]);
      }
    return answer(200, list);
  }
  for (long i = page * per_page; i < long(ids.size()) && i < (page + 1) * per_page; ++i) {
    list["order"].push_back(ids[std::size_t(i)]);
    list["posts"][ids[std::size_t(i)]] = client_view(posts[ids[std::size_t(i)]]);
  }
  return answer(200, list);
}

FakeResponse FakeMattermost::Impl::hook(const std::string& id, const FakeRequest& req) {
  auto it = hooks.find(id);
  if (req.method != "POST" || it == hooks.end() || it->second.uses_left <= 0)
    return error(404, "web.command_webhook.invalid.app_error", "Invalid webhook.");
  --it->second.uses_left;
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return error(400, "web.command_webhook.parse.app_error", "Unable to parse incoming data.");
  std::optional<json> posted;
  std::optional<std::string> ephemeral;
  apply_command_response(body, it->second.user_id, it->second.channel_id, posted, ephemeral);
  return FakeResponse{200, "text/plain", {}, "ok", false, false, false};
}

void FakeMattermost::Impl::apply_command_response(const json& r, const std::string& user_id,
                                                  const std::string& channel_id, std::optional<json>& posted,
                                                  std::optional<std::string>& ephemeral) {
  const auto text = r.value("text", std::string{});
  json props = r.contains("props") && r["props"].is_object() ? r["props"] : json::object();
  if (r.contains("attachments") && r["attachments"].is_array()) props["attachments"] = r["attachments"];
  const auto target = r.value("channel_id", std::string{}).empty() ? channel_id : r.value("channel_id", std::string{});
  if (r.value("response_type", std::string{}) == "in_channel") {
    if (!text.empty() || has_attachments(props)) {
      // NOTES "Observed": posted under the invoking user's id, from_webhook.
      props["from_webhook"] = "true";
      auto p = new_post(user_id, target, text, "", props);
      store_and_announce(p);
      posted = p;
    }
  } else if (!text.empty()) {
    ephemeral = text;
    announce_ephemeral(user_id, target, "", text);
  }
  if (r.contains("extra_responses") && r["extra_responses"].is_array())
    for (const auto& extra : r["extra_responses"])
      if (extra.is_object()) apply_command_response(extra, user_id, channel_id, posted, ephemeral);
}

// ---------------------------------------------------------------- WebSocket

std::optional<FakeResponse> FakeMattermost::Impl::on_upgrade(const FakeRequest& req) {
  std::lock_guard lock(mutex);
  if (down)
    return FakeResponse{502, "text/html", {}, "<html><body><h1>502 Bad Gateway</h1></body></html>", false, true, false};
  if (split_path(req.path) != std::vector<std::string>{"api", "v4", "websocket"}) return not_found();
  // A token on the upgrade is checked like any REST call's; no token at all
  // leaves the connection to the authentication_challenge (NOTES §3).
  auto token = bearer(req);
  if (!token.empty() && token != self->options_.bot_token)
    return error(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.");
  return std::nullopt;
}

void FakeMattermost::Impl::on_open(const std::shared_ptr<FakeWebSocket>& ws, const FakeRequest& req) {
  std::lock_guard lock(mutex);
  auto c = std::make_shared<Conn>();
  c->socket = ws;
  live[ws.get()] = c;
  if (bearer(req) == self->options_.bot_token) {
    c->by_header = true;
    start(c, query_param(req.query, "connection_id"), query_param(req.query, "sequence_number"));
    return;
  }
  // Waiting for authentication_challenge, not for ever.
  auto timer = std::make_shared<boost::asio::steady_timer>(self->server_.executor(),
                                                           self->options_.unauthenticated_timeout);
  std::weak_ptr<Conn> weak = c;
  timer->async_wait([this, timer, weak](boost::system::error_code ec) {
    if (ec) return;
    std::lock_guard lock(mutex);
    if (auto conn = weak.lock(); conn && !conn->authenticated && conn->socket) conn->socket->drop();
  });
}

// Mutex held. NOTES §3 "Reconnect" and "Observed / Reconnection": resume
// only with reliable WebSockets, a known connection_id, a token on the
// upgrade and a sequence_number still in the buffer; else a fresh `hello`.
void FakeMattermost::Impl::start(const std::shared_ptr<Conn>& c, const std::string& connection_id,
                                 const std::string& sequence) {
  c->authenticated = true;
  c->user_id = self->bot_.id;
  const auto& o = self->options_;
  if (o.reliable_websockets && c->by_header && !connection_id.empty()) {
    auto old = resumable.find(connection_id);
    long long next = -1;
    try {
      next = sequence.empty() ? -1 : std::stoll(sequence);
    } catch (...) {
    }
    if (old != resumable.end() && next >= 0) {
      auto& prev = *old->second;
      const long long oldest = prev.sent.empty() ? prev.next_seq : prev.sent.front().first;
      if (next <= prev.next_seq && next >= oldest) {
        // The resumed connection takes over the old state; the new socket's
        // placeholder goes.
        if (prev.socket && prev.socket != c->socket) live.erase(prev.socket.get());
        prev.socket = c->socket;
        live[c->socket.get()] = old->second;
        for (const auto& [seq, text] : prev.sent)
          if (seq >= next) {
            frames.push_back({prev.key, true, text});
            prev.socket->send(text);
          }
        return;
      }
    }
  }
  c->key = new_id();
  c->connection_id = o.reliable_websockets ? c->key : std::string{};
  if (o.reliable_websockets) resumable[c->key] = c;
  json bc{{"omit_users", nullptr}, {"user_id", c->user_id}, {"channel_id", ""}, {"team_id", ""}};
  send_event(*c, "hello", json{{"server_version", o.server_version}, {"connection_id", c->connection_id}}, bc);
}

void FakeMattermost::Impl::on_message(const std::shared_ptr<FakeWebSocket>& ws, const std::string& text) {
  std::lock_guard lock(mutex);
  auto it = live.find(ws.get());
  if (it == live.end()) return;
  auto c = it->second;
  frames.push_back({c->key, false, text});
  auto msg = json::parse(text, nullptr, false);
  if (!msg.is_object()) return;  // the server ignores what it cannot decode
  const auto seq = msg.value("seq", 0LL);
  const auto action = msg.value("action", std::string{});
  auto fail = [&](std::string id, std::string message) {
    send_reply(*c, json{{"status", "FAIL"}, {"seq_reply", seq},
                        {"error", {{"id", std::move(id)}, {"message", std::move(message)}}}});
  };
  if (action == "authentication_challenge") {
    const auto token = msg.contains("data") && msg["data"].is_object() ? msg["data"].value("token", std::string{}) : std::string{};
    if (token != self->options_.bot_token)
      return fail("api.web_socket_router.not_authenticated.app_error", "No websocket session");
    if (c->authenticated) return send_reply(*c, json{{"status", "OK"}, {"seq_reply", seq}});
    send_reply(*c, json{{"status", "OK"}, {"seq_reply", seq}});
    start(c, {}, {});  // never resumable (NOTES §3)
    return;
  }
  if (!c->authenticated) return fail("api.web_socket_router.not_authenticated.app_error", "No websocket session");
  if (action == "user_typing") return send_reply(*c, json{{"status", "OK"}, {"seq_reply", seq}});
  if (action == "get_statuses" || action == "get_statuses_by_ids")
    return send_reply(*c, json{{"status", "OK"}, {"seq_reply", seq}, {"data", json::object()}});
  fail("api.web_socket_router.bad_action.app_error", "Unknown action");
}

void FakeMattermost::Impl::on_close(const std::shared_ptr<FakeWebSocket>& ws) {
  std::lock_guard lock(mutex);
  auto it = live.find(ws.get());
  if (it == live.end()) return;
  closed_pongs += ws->pongs();
  if (it->second->socket == ws) it->second->socket.reset();
  live.erase(it);
}

// ---------------------------------------------------------------- integrations

// Mutex held. The request Mattermost makes for a click, or the 404 the
// clicking client gets. (Kept out of the coroutine: GCC 12 mis-compiles
// braced JSON temporaries inside coroutine frames.)
std::optional<FakeMattermost::ClickResult> FakeMattermost::Impl::prepare_click(const std::string& post_id,
                                                                              const std::string& action_id,
                                                                              const std::string& user_id,
                                                                              const std::string& selected_option,
                                                                              std::string& url, json& body) {
  auto it = posts.find(post_id);
  json action;
  // NOTES "Observed": ids outside [A-Za-z0-9]+ give 404 before the bot.
  if (it != posts.end() && alnum_id(action_id) && has_attachments(it->second["props"]))
    for (const auto& a : it->second["props"]["attachments"])
      if (a.is_object() && a.contains("actions") && a["actions"].is_array())
        for (const auto& act : a["actions"])
          if (act.is_object() && act.value("id", std::string{}) == action_id) action = act;
  if (!action.is_object() || !action.contains("integration")) {
    ClickResult out;
    out.status = 404;
    out.body = json{{"id", "api.post.do_action.action_id.app_error"}, {"message", "Invalid action id."},
                    {"status_code", 404}};
    return out;
  }
  const auto& post = it->second;
  const auto& ch = channels[post["channel_id"].get<std::string>()];
  auto user = users.find(user_id);
  url = action["integration"].value("url", std::string{});
  json context = action["integration"].value("context", json::object());
  if (!selected_option.empty()) context["selected_option"] = selected_option;
  // NOTES §5 and "Observed": exactly these keys; no action id, no auth.
  body = json{{"user_id", user_id},
              {"user_name", user == users.end() ? std::string{} : user->second.username},
              {"channel_id", ch.id},
              {"channel_name", ch.name},
              {"team_id", ch.team_id},
              {"team_domain", ch.team_id.empty() ? "" : "formation"},
              {"post_id", post_id},
              {"trigger_id", new_id()},
              {"type", action.value("type", std::string("button"))},
              {"data_source", action.value("data_source", std::string{})},
              {"context", context}};
  return std::nullopt;
}

// Mutex held. What Mattermost does with the integration's answer.
void FakeMattermost::Impl::finish_click(ClickResult& out, const std::string& post_id, const std::string& user_id,
                                        const json& request) {
  auto reply = out.integration.status == 200 ? json::parse(out.integration.body, nullptr, false) : json();
  if (!reply.is_object()) {
    // NOTES "Observed / Integration errors": non-200, non-JSON, unreachable.
    out.status = 400;
    out.body = json{{"id", "api.post.do_action.action_integration.app_error"},
                    {"message", "Action integration error."}, {"status_code", 400}};
    return;
  }
  auto it = posts.find(post_id);
  if (it != posts.end() && reply.contains("update") && reply["update"].is_object()) {
    // NOTES §5 "Update semantics": message if given; props absent = kept,
    // present (even {}) = replaced (from_bot goes with them).
    auto& post = it->second;
    const auto& up = reply["update"];
    if (up.contains("message") && up["message"].is_string()) post["message"] = up["message"];
    if (up.contains("props") && up["props"].is_object()) {
      post["props"] = up["props"];
      name_actions(post["props"]);
      post["type"] = has_attachments(post["props"]) ? "slack_attachment" : "";
    }
    post["update_at"] = stamp();
    announce_edit(post);
  }
  if (reply.contains("ephemeral_text") && reply["ephemeral_text"].is_string() &&
      !reply["ephemeral_text"].get<std::string>().empty()) {
    out.ephemeral_text = reply["ephemeral_text"].get<std::string>();
    // NOTES "Observed": an ephemeral_message to the clicker, root_id = the post.
    if (it != posts.end()) announce_ephemeral(user_id, it->second["channel_id"], post_id, *out.ephemeral_text);
  }
  out.status = 200;
  out.body = json{{"status", "OK"}, {"trigger_id", request["trigger_id"]}};
}

boost::asio::awaitable<FakeMattermost::ClickResult> FakeMattermost::async_click(boost::asio::any_io_executor ex,
                                                                                std::string post_id,
                                                                                std::string action_id,
                                                                                std::string user_id,
                                                                                std::string selected_option) {
  std::string url;
  json body;
  std::optional<ClickResult> refused;
  {
    std::lock_guard lock(impl_->mutex);
    refused = impl_->prepare_click(post_id, action_id, user_id, selected_option, url, body);
  }
  if (refused) co_return std::move(*refused);
  net::ClientOptions copts;
  copts.user_agent = "Mattermost-Bot/1.1";
  net::HttpClient client(ex, copts);
  net::Headers headers;
  headers.push_back(net::Header{"Content-Type", "application/json"});
  ClickResult out;
  out.integration = co_await client.async_request(net::Method::post, url, std::move(headers), body.dump(),
                                                  std::chrono::seconds{30});
  std::lock_guard lock(impl_->mutex);
  impl_->finish_click(out, post_id, user_id, body);
  co_return out;
}

boost::asio::awaitable<FakeMattermost::SlashResult> FakeMattermost::async_slash_command(
    boost::asio::any_io_executor ex, SlashCommand cmd) {
  SlashResult out;
  net::FormFields fields;
  {
    std::lock_guard lock(impl_->mutex);
    const auto hook_id = new_id();
    impl_->hooks[hook_id] = Impl::Hook{cmd.user_id, cmd.channel_id, 5};
    out.trigger_id = new_id();
    out.response_url = url() + "/hooks/commands/" + hook_id;
    auto ch = impl_->channels.find(cmd.channel_id);
    auto user = impl_->users.find(cmd.user_id);
    // NOTES §4: the form fields, in the server's (alphabetical) order.
    fields = {{"channel_id", cmd.channel_id},
              {"channel_name", ch == impl_->channels.end() ? std::string{} : ch->second.name},
              {"command", cmd.command},
              {"response_url", out.response_url},
              {"team_domain", cmd.team_domain},
              {"team_id", cmd.team_id},
              {"text", cmd.text},
              {"token", cmd.token},
              {"trigger_id", out.trigger_id},
              {"user_id", cmd.user_id},
              {"user_name", user == impl_->users.end() ? std::string{} : user->second.username}};
  }
  net::ClientOptions copts;
  copts.user_agent = "Mattermost-Bot/1.1";
  net::HttpClient client(ex, copts);
  // NOTES §4: "Token", not "Bearer".
  net::Headers headers;
  headers.push_back(net::Header{"Accept", "application/json"});
  headers.push_back(net::Header{"Authorization", "Token " + cmd.token});
  if (cmd.method == "G") {
    auto sep = cmd.url.find('?') == std::string::npos ? "?" : "&";
    out.integration = co_await client.async_request(net::Method::get, cmd.url + sep + net::form_encode(fields),
                                                    headers, {}, std::chrono::seconds{30});
  } else {
    headers.push_back(net::Header{"Content-Type", "application/x-www-form-urlencoded"});
    out.integration = co_await client.async_request(net::Method::post, cmd.url, headers, net::form_encode(fields),
                                                    std::chrono::seconds{30});
  }
  if (out.integration.status != 200) {
    out.failed = true;
    co_return out;
  }
  const auto type = std::string(out.integration.header("Content-Type").value_or(std::string_view{}));
  json reply;
  if (type.rfind("application/json", 0) == 0) {
    reply = json::parse(out.integration.body, nullptr, false);
    if (!reply.is_object()) {  // NOTES "Observed": an empty JSON body fails too
      out.failed = true;
      co_return out;
    }
  } else {
    // NOTES §4: any other content type is shown as plain text (ephemeral).
    reply = json::object();
    reply["text"] = out.integration.body;
  }
  std::lock_guard lock(impl_->mutex);
  impl_->apply_command_response(reply, cmd.user_id, cmd.channel_id, out.posted, out.ephemeral_text);
  co_return out;
}

}  // namespace relance::test
