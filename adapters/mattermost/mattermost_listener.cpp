#include "adapters/mattermost/mattermost_listener.hpp"

#include "messages/render/staff.hpp"
#include "adapters/common/retry.hpp"
#include "adapters/mattermost/mattermost_sender.hpp"
#include "adapters/mattermost/mattermost_wire.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <random>

namespace relance::mattermost {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;

namespace detail {

// One WebSocket connection and its pinger. Shared with the detached ping
// loop, which touches nothing else, so the listener may go once run() ends.
struct ListenerSession {
  explicit ListenerSession(asio::any_io_executor ex, const net::ClientOptions& o)
      : ws(std::make_shared<net::WebSocket>(ex, o)), timer(ex) {}
  std::shared_ptr<net::WebSocket> ws;
  asio::steady_timer timer;
  bool done = false;
  std::size_t pings = 0;
};

}  // namespace detail

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view position_key = "mattermost.last_post_at";

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

asio::awaitable<void> ping_loop(std::shared_ptr<detail::ListenerSession> s, milliseconds interval,
                                milliseconds timeout) {
  while (!s->done) {
    s->timer.expires_after(interval);
    co_await s->timer.async_wait(use_tuple);
    if (s->done) break;
    auto r = co_await s->ws->ping(timeout);
    if (!r.ok()) {
      if (!s->done) spdlog::info("mattermost: websocket ping failed ({}); reconnecting", r.error);
      s->ws->cancel();
      break;
    }
    ++s->pings;
  }
}

bool claims(std::string_view emoji) {
  return emoji == "raised_hand" || emoji == "hand" || emoji == "white_check_mark";
}

std::string json_reply(const std::string& channel_id, const std::string& root_id, const std::string& message) {
  return reply_body(channel_id, root_id, message).dump();
}

std::optional<std::pair<std::string, std::string>> decode_me(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) return std::nullopt;
  return std::pair{j["id"].get<std::string>(), j.value("username", std::string{})};
}

std::string direct_channel_body(const std::string& a, const std::string& b) { return json::array({a, b}).dump(); }

std::string decode_channel_id(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  return j.is_object() ? j.value("id", std::string{}) : std::string{};
}

std::string decode_username(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  return j.is_object() ? j.value("username", std::string{}) : std::string{};
}

}  // namespace

milliseconds reconnect_delay(const ListenerOptions& o, milliseconds outage, int slow_attempts, double unit) {
  if (outage < o.quick_window)
    return std::max(milliseconds(1), milliseconds(static_cast<std::int64_t>(o.quick_retry.count() * (0.5 + unit / 2))));
  return net::backoff_delay(std::max(0, slow_attempts), o.backoff_initial, o.backoff_cap, unit);
}

MattermostListener::MattermostListener(asio::any_io_executor ex, net::HttpClient& http, net::Pacer& pacer,
                                       const MattermostConfig& config, chat::Hooks hooks,
                                       ListenerOptions options)
    : ex_(ex),
      http_(http),
      pacer_(pacer),
      config_(config),
      hooks_(std::move(hooks)),
      options_(std::move(options)),
      api_(api_base(config.url)),
      sleep_(ex) {
  // The same private CA as the REST client (config.ca_file).
  if (!config_.ca_file.empty() &&
      std::find(options_.websocket.ca_files.begin(), options_.websocket.ca_files.end(),
                std::filesystem::path(config_.ca_file)) == options_.websocket.ca_files.end())
    options_.websocket.ca_files.emplace_back(config_.ca_file);
  if (!config_.default_channel.empty()) watched_.insert(config_.default_channel);
  for (const auto& r : config_.routes)
    if (!r.target.empty()) watched_.insert(r.target);
}

MattermostListener::~MattermostListener() {
  if (session_) {
    session_->done = true;
    session_->timer.cancel();
    session_->ws->cancel();
  }
}

MattermostListener::Stats MattermostListener::stats() const {
  Stats s = stats_;
  s.sessions = stream_.sessions();
  s.resumed = stream_.resumed();
  s.gaps = stream_.gaps();
  s.pings = closed_pings_ + (session_ ? session_->pings : 0);
  s.pongs = closed_pongs_ + (session_ ? session_->ws->pongs() : 0);
  return s;
}

void MattermostListener::stop() {
  stopped_ = true;
  sleep_.cancel();
  if (session_) {
    session_->done = true;
    session_->timer.cancel();
    session_->ws->cancel();
  }
}

std::string MattermostListener::websocket_url() const { return api_ + "/websocket"; }

asio::awaitable<void> MattermostListener::async_sleep(milliseconds d) {
  if (stopped_) co_return;
  sleep_.expires_after(d);
  co_await sleep_.async_wait(use_tuple);
}

asio::awaitable<net::HttpResult> MattermostListener::async_rest(net::Method method, std::string path,
                                                                std::string body) {
  return api_request(http_, pacer_, api_, config_.bot_token, method, std::move(path), std::move(body),
                     options_.request_timeout);
}

void MattermostListener::seen(std::int64_t ms) {
  if (ms <= last_seen_ms_) return;
  last_seen_ms_ = ms;
  if (hooks_.save) hooks_.save(position_key, std::to_string(ms));
}

asio::awaitable<void> MattermostListener::run() {
  if (hooks_.load) {
    if (auto v = hooks_.load(position_key)) {
      try {
        last_seen_ms_ = std::stoll(*v);
      } catch (...) {
      }
    }
  }
  // With a saved position, catch up on what came while relance was down.
  stream_ = StreamState(last_seen_ms_ > 0);
  std::minstd_rand rng(std::random_device{}());
  std::optional<std::chrono::steady_clock::time_point> outage_since;
  int slow_attempts = 0;
  // Never in a tight loop: every attempt, even after a gap (which resumes at
  // the missing seq when the server keeps a replay buffer), waits a little.
  auto next_delay = [&] {
    const auto now = std::chrono::steady_clock::now();
    if (!outage_since) outage_since = now;
    const auto outage = std::chrono::duration_cast<milliseconds>(now - *outage_since);
    if (outage >= options_.quick_window) ++slow_attempts;
    return reconnect_delay(options_, outage, slow_attempts - 1, std::uniform_real_distribution<double>(0, 1)(rng));
  };
  while (!stopped_) {
    if (me_id_.empty() && !co_await async_who_am_i()) {
      co_await async_sleep(next_delay());
      continue;
    }
    const auto outcome = co_await async_session();
    if (stopped_) break;
    if (outcome != Outcome::no_session) {
      // It was connected: an outage (if any) starts now.
      outage_since.reset();
      slow_attempts = 0;
    }
    co_await async_sleep(next_delay());
  }
  spdlog::info("mattermost: listener stopped");
}

asio::awaitable<bool> MattermostListener::async_who_am_i() {
  auto r = co_await async_rest(net::Method::get, "/users/me", {});
  if (r.status != 200) {
    spdlog::warn("mattermost: GET /users/me: {}", error_message(r));
    co_return false;
  }
  auto me = decode_me(r.body);
  if (!me) {
    spdlog::warn("mattermost: GET /users/me: unreadable answer");
    co_return false;
  }
  me_id_ = me->first;
  me_name_ = me->second;
  // For texts that show how to write to the bot ({cmd} without a slash command).
  if (hooks_.save && !me_name_.empty()) hooks_.save(chat::mattermost_bot_username_key, me_name_);
  spdlog::info("mattermost: connected as @{} ({})", me_name_, me_id_);
  co_return true;
}

asio::awaitable<MattermostListener::Outcome> MattermostListener::async_session() {
  auto s = std::make_shared<detail::ListenerSession>(ex_, options_.websocket);
  session_ = s;
  const std::string url = websocket_url() + stream_.resume_query();
  net::Headers headers;
  headers.push_back(net::Header{"Authorization", "Bearer " + config_.bot_token});
  const milliseconds ping = options_.ping_interval.value_or(std::chrono::duration_cast<milliseconds>(config_.ping_interval));
  // Dead when nothing at all (a pong included) came for two pings and a bit.
  auto c = co_await s->ws->connect(url, std::move(headers), options_.connect_timeout,
                                   2 * ping + options_.request_timeout);
  Outcome outcome = Outcome::no_session;
  if (!c.ok()) {
    spdlog::warn("mattermost: websocket: {}", c.error);
  } else {
    asio::co_spawn(ex_, ping_loop(s, ping, options_.request_timeout), asio::detached);
    stream_.on_connect();
    const auto sessions_before = stream_.sessions();
    while (!stopped_) {
      auto m = co_await s->ws->read();
      if (!m.ok()) {
        if (!stopped_) spdlog::info("mattermost: websocket ended: {}", m.error);
        break;
      }
      const auto ev = decode_event(m.text);
      const auto action = stream_.on_event(ev);
      if (stream_.sessions() != sessions_before) {
        outcome = Outcome::ended;
        connected_ = true;
      }
      if (action == StreamState::Action::reconnect) {
        spdlog::info("mattermost: websocket seq gap (expected {}); reconnecting", stream_.next_seq());
        outcome = Outcome::gap;
        break;
      }
      if (action == StreamState::Action::resync) {
        if (last_seen_ms_ == 0) last_seen_ms_ = now_ms();
        co_await async_resync();
        continue;
      }
      if (action != StreamState::Action::handle) {
        if (const auto* bad = std::get_if<Undecodable>(&ev)) spdlog::debug("mattermost: skipped a frame: {}", bad->why);
        if (last_seen_ms_ == 0 && std::holds_alternative<Hello>(ev)) last_seen_ms_ = now_ms();
        continue;
      }
      if (const auto* posted = std::get_if<Posted>(&ev)) {
        co_await async_handle_post(posted->post, posted->channel_type, posted->sender_name);
      } else if (const auto* r = std::get_if<ReactionAdded>(&ev)) {
        co_await async_handle_reaction(r->user_id, r->post_id, r->emoji_name, r->channel_id);
      }
    }
  }
  s->done = true;
  s->timer.cancel();
  s->ws->cancel();
  closed_pings_ += s->pings;
  closed_pongs_ += s->ws->pongs();
  connected_ = false;
  if (session_ == s) session_.reset();
  co_return outcome;
}

asio::awaitable<void> MattermostListener::async_resync() {
  // NOTES "Observed / Reconnection": since=<ms> lists posts with
  // update_at > since. Look back a margin: dedupe drops what was handled.
  const std::int64_t since = last_seen_ms_ - options_.resync_margin.count();
  std::vector<std::string> channels(watched_.begin(), watched_.end());
  channels.insert(channels.end(), direct_.begin(), direct_.end());
  std::size_t n = 0;
  for (const auto& ch : channels) {
    // Every page (the server lists at most 1000 posts a call, the oldest):
    // a command typed after the first 1000 posts of the window is answered too.
    std::vector<std::vector<WirePost>> pages;
    auto r = co_await api_posts_since(http_, pacer_, api_, config_.bot_token, ch, since, options_.request_timeout,
                                      [&pages](const std::string& body) {
                                        pages.push_back(decode_post_list(body));
                                        return true;
                                      });
    if (r.status != 200) spdlog::warn("mattermost: resync of channel {}: {}", ch, error_message(r));
    const bool direct = direct_.count(ch) > 0;
    for (const auto& page : pages)
      for (const auto& p : page) {
        if (p.create_at <= since) continue;  // an old post edited since: not new
        ++n;
        co_await async_handle_post(p, direct ? "D" : "O", {});
      }
  }
  ++stats_.resyncs;
  spdlog::info("mattermost: resynced {} channel(s) since {} ({} post(s) listed)", channels.size(), since, n);
}

asio::awaitable<std::string> MattermostListener::async_username(const std::string& user_id) {
  if (auto it = usernames_.find(user_id); it != usernames_.end()) co_return it->second;
  auto r = co_await async_rest(net::Method::get, "/users/" + user_id, {});
  if (r.status != 200) {
    spdlog::warn("mattermost: GET /users/{}: {}", user_id, error_message(r));
    co_return std::string{};
  }
  auto name = decode_username(r.body);
  if (!name.empty()) usernames_[user_id] = name;
  co_return name;
}

asio::awaitable<void> MattermostListener::async_handle_post(const WirePost& post, std::string channel_type,
                                                            std::string sender) {
  seen(std::max(post.create_at, post.update_at));
  if (post.user_id == me_id_ || !post.type.empty() || post.delete_at != 0) co_return;
  const bool direct = channel_type == "D";
  if (direct) direct_.insert(post.channel_id);
  else if (!watched_.count(post.channel_id)) co_return;
  auto line = command_line(post.message, direct, me_name_);
  if (!line) co_return;
  if (hooks_.first_seen && !hooks_.first_seen("mattermost", post.id)) co_return;
  std::string user = sender.size() > 1 && sender.front() == '@' ? sender.substr(1) : std::string{};
  if (!user.empty()) usernames_[post.user_id] = user;
  else user = co_await async_username(post.user_id);
  if (user.empty() || !hooks_.command) co_return;
  const auto answer = hooks_.command(chat::Network::mattermost, user, chat::Typed{*line});
  ++stats_.commands;
  spdlog::debug("mattermost: command by @{} in {} -> {}", user, post.channel_id,
               !answer.staff ? "not staff" : answer.ok ? "ok" : "refused");
  const std::string root = post.root_id.empty() ? post.id : post.root_id;
  if (answer.personal && !direct) {
    // Learners' details are not for every member of a channel: the answer
    // goes to the asker in a direct message, the thread only says so.
    const auto dm = co_await async_direct_channel(post.user_id);
    if (!dm.empty()) {
      direct_.insert(dm);
      co_await async_reply(dm, {}, render::escape_markdown(answer.text));
    }
    co_await async_reply(post.channel_id, root,
                         "@" + user + " " +
                             render::escape_markdown(text_or(hooks_, "mattermost.private_answer",
                                                           "Réponse envoyée en message privé.")));
    co_return;
  }
  co_await async_reply(post.channel_id, root, render::escape_markdown(answer.text));
}

asio::awaitable<std::string> MattermostListener::async_direct_channel(std::string user_id) {
  // NOTES §2: idempotent, returns the existing DM channel.
  auto r = co_await async_rest(net::Method::post, "/channels/direct", direct_channel_body(me_id_, user_id));
  if (r.status != 200 && r.status != 201) {
    spdlog::warn("mattermost: direct channel with {}: {}", user_id, error_message(r));
    co_return std::string{};
  }
  co_return decode_channel_id(r.body);
}

asio::awaitable<void> MattermostListener::async_handle_reaction(std::string user_id, std::string post_id,
                                                                std::string emoji, std::string channel_id) {
  if (user_id == me_id_ || !claims(emoji) || !hooks_.case_of_post || !hooks_.command) co_return;
  const auto case_id = hooks_.case_of_post(chat::Network::mattermost, post_id);
  if (!case_id) co_return;
  if (hooks_.first_seen && !hooks_.first_seen("mattermost.reaction", post_id + ":" + user_id)) co_return;
  const auto user = co_await async_username(user_id);
  if (user.empty()) co_return;
  const auto answer = hooks_.command(chat::Network::mattermost, user, chat::Input(ClaimCmd{*case_id}));
  ++stats_.commands;
  spdlog::debug("mattermost: :{}: by @{} on case {} -> {}", emoji, user, *case_id,
               !answer.staff ? "not staff" : answer.ok ? "ok" : "refused");
  if (channel_id.empty()) co_return;
  // The claim's answer names the clicker itself ({asker}).
  co_await async_reply(channel_id, post_id, render::escape_markdown(answer.text));
}

asio::awaitable<void> MattermostListener::async_reply(std::string channel_id, std::string root_id,
                                                      std::string message) {
  const std::string body = json_reply(channel_id, root_id, message);
  net::Backoff backoff(options_.backoff_initial, options_.backoff_cap);
  for (int attempt = 0; attempt < 3 && !stopped_; ++attempt) {
    auto r = co_await async_rest(net::Method::post, "/posts", body);
    auto res = to_send_result(r, std::chrono::system_clock::now());
    if (res.status == chat::SendResult::Status::sent) co_return;
    spdlog::warn("mattermost: reply in {}: {}", channel_id, res.error);
    if (res.status == chat::SendResult::Status::failed) co_return;
    co_await async_sleep(res.retry_after.value_or(backoff.next()));
  }
}

}  // namespace relance::mattermost
