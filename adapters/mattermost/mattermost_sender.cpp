#include "adapters/mattermost/mattermost_sender.hpp"

#include "adapters/mattermost/mattermost_wire.hpp"

#include <spdlog/spdlog.h>

namespace relance::mattermost {

using nlohmann::json;
using Status = chat::SendResult::Status;

std::string api_base(const std::string& site_url) {
  std::string base = site_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/v4";
}

std::string text_or(const chat::Hooks& hooks, std::string_view key, std::string_view fallback) {
  if (hooks.text) {
    auto s = hooks.text(key, {});
    // The catalog shows an unknown key as "[key]"; prefer our fallback then.
    const bool unknown = s.empty() || s == key || (s.size() == key.size() + 2 && s.front() == '[' &&
                                                   s.back() == ']' && s.compare(1, key.size(), key) == 0);
    if (!unknown) return s;
  }
  return std::string(fallback);
}

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Text text_of(const chat::Hooks& hooks) {
  return [&hooks](std::string_view key, std::string_view fallback) { return text_or(hooks, key, fallback); };
}

std::string send_body(const chat::Post& post, const std::string& action_url, const std::string& secret,
                      const chat::Hooks& hooks) {
  return post_body(post, action_url, secret, text_of(hooks)).dump();
}

std::string edit_body(const chat::Edit& e, const chat::Hooks& hooks) { return patch_body(e, text_of(hooks)).dump(); }

// No answer, or a proxy's 5xx: the server is down, not this post's fault.
// The dispatcher says so once for the whole network and probes it.
chat::SendResult with_reachability(chat::SendResult res, const net::HttpResult& r) {
  res.unreachable = res.status == Status::retry && (!r.answered() || r.status >= 500);
  return res;
}

}  // namespace

MattermostSender::MattermostSender(boost::asio::any_io_executor ex, net::HttpClient& http, net::Pacer& pacer,
                                   const MattermostConfig& config, chat::Hooks hooks, SenderOptions options)
    : ex_(std::move(ex)),
      http_(http),
      pacer_(pacer),
      config_(config),
      hooks_(std::move(hooks)),
      options_(options),
      api_(api_base(config.url)) {
  if (!config_.public_url.empty()) {
    std::string base = config_.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    action_url_ = base + std::string(action_path);
  }
}

boost::asio::awaitable<net::HttpResult> api_request(net::HttpClient& http, net::Pacer& pacer, const std::string& api,
                                                    const std::string& bot_token, net::Method method, std::string path,
                                                    std::string body, std::chrono::milliseconds timeout) {
  net::Headers headers;
  headers.push_back(net::Header{"Authorization", "Bearer " + bot_token});
  headers.push_back(net::Header{"Accept", "application/json"});
  if (!body.empty()) headers.push_back(net::Header{"Content-Type", "application/json"});
  co_await pacer.wait_turn();
  auto r = co_await http.async_request(method, api + path, std::move(headers), std::move(body), timeout);
  pacer.on_answer(r);
  co_return r;
}

boost::asio::awaitable<net::HttpResult> api_posts_since(net::HttpClient& http, net::Pacer& pacer,
                                                        const std::string& api, const std::string& bot_token,
                                                        std::string channel_id, std::int64_t since,
                                                        std::chrono::milliseconds timeout,
                                                        std::function<bool(const std::string& body)> page) {
  for (;;) {
    auto r = co_await api_request(http, pacer, api, bot_token, net::Method::get,
                                  "/channels/" + channel_id + "/posts?since=" + std::to_string(since), {}, timeout);
    if (r.status != 200 || !page(r.body)) co_return r;
    const auto next = next_since(decode_post_list(r.body), since);
    if (!next) co_return r;
    since = *next;
  }
}

boost::asio::awaitable<net::HttpResult> MattermostSender::request(net::Method method, std::string path,
                                                                  std::string body) {
  return api_request(http_, pacer_, api_, config_.bot_token, method, std::move(path), std::move(body),
                     options_.request_timeout);
}

boost::asio::awaitable<chat::SendResult> MattermostSender::send(chat::Post post) {
  if (post.maybe_sent) {
    // An earlier attempt may have been posted (a timeout, a crash before it
    // was recorded): look for our outbox id before posting again.
    const auto since = now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(options_.maybe_sent_window).count();
    // Every page of the window: in a busy channel our post may be past the
    // first 1000 (it would then be posted twice).
    std::optional<std::string> earlier;
    const std::int64_t outbox_id = post.outbox_id;
    auto r = co_await api_posts_since(http_, pacer_, api_, config_.bot_token, post.destination, since,
                                      options_.request_timeout, [&earlier, outbox_id](const std::string& body) {
                                        earlier = find_outbox_post(body, outbox_id);
                                        return !earlier;
                                      });
    if (r.status == 200) {
      if (earlier) {
        spdlog::info("mattermost: outbox {} was already posted as {}", post.outbox_id, *earlier);
        chat::SendResult found;
        found.status = Status::sent;
        found.remote_id = *earlier;
        co_return found;
      }
    } else {
      // Without the listing we cannot tell: posting could make a double.
      auto res = with_reachability(to_send_result(r, std::chrono::system_clock::now()), r);
      if (res.status == Status::sent) res.status = Status::retry;
      res.error = "looking for an earlier attempt: " + res.error;
      spdlog::debug("mattermost: outbox {}: {}", post.outbox_id, res.error);
      co_return res;
    }
  }
  auto r = co_await request(net::Method::post, "/posts", send_body(post, action_url_, config_.action_secret, hooks_));
  auto res = with_reachability(to_send_result(r, std::chrono::system_clock::now()), r);
  if (res.status == Status::sent)
    spdlog::debug("mattermost: outbox {} posted as {}", post.outbox_id, res.remote_id);
  else
    // The dispatcher logs what an administrator acts on (refusals, outages).
    spdlog::debug("mattermost: outbox {} to {}: {} ({})", post.outbox_id, post.destination,
                 res.status == Status::retry ? "will retry" : "failed", res.error);
  co_return res;
}

boost::asio::awaitable<bool> MattermostSender::probe() {
  // api/v4/system/ping answers 200 {"status":"OK"} without a token; a proxy
  // in front of a stopped server answers 502.
  auto r = co_await http_.async_request(net::Method::get, api_ + "/system/ping", {}, {}, options_.request_timeout);
  co_return r.ok();
}

boost::asio::awaitable<chat::SendResult> MattermostSender::edit(chat::Edit e) {
  auto r = co_await request(net::Method::put, "/posts/" + e.remote_id + "/patch", edit_body(e, hooks_));
  auto res = to_send_result(r, std::chrono::system_clock::now());
  if (res.status == Status::sent) res.remote_id = e.remote_id;
  else spdlog::warn("mattermost: editing {}: {}", e.remote_id, res.error);
  co_return res;
}

}  // namespace relance::mattermost
