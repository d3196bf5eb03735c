// A fake Mattermost server following ../shared/specs/mattermost/NOTES.md (our
// notes, "Observed on a real Mattermost 5.36 server" first, then the REST and
// WebSocket sections): REST v4 with bearer auth, JSON errors and the
// plain-text 429 of the rate limiter; the WebSocket event stream with `hello`,
// per-connection `seq`, double-encoded posts and the reliable-WebSocket
// resume; and Mattermost's side of integrations (button clicks, slash
// commands), driven from tests. Built on FakeHttpServer (one server plumbing).
// GET /api/v4/system/ping answers {"status":"OK"} without a token (how
// clients check the server is up); set_down() puts a proxy's 502 in front.
//
// Limits it enforces as the real server does: `GET /channels/{id}/posts?since=`
// returns at most 1000 posts, the oldest of the window (observed on 5.36.1);
// `per_page` at most 200; a message at most 16,383 characters; a bot token
// cannot post ephemeral posts (403) unless bot_can_post_ephemeral.
//
// Not modelled (yet): teams and channel membership (the bot is in every
// channel the test adds), files, dialogs, incoming webhooks, post metadata,
// `before`/`after` paging, `mentions` in `posted`, menus' data sources,
// per-user rate-limit keys (one bucket for the whole server).
#pragma once

#include "adapters/common/http_client.hpp"
#include "fake_http_server.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace relance::test {

class FakeMattermost {
public:
  struct Options {
    std::string bot_token = "9xuqwrwgstrb3mzrxb83nb357a";
    std::string bot_username = "relance-bot";
    std::string server_version = "9.8.0";
    // Rate limiting is off unless set (NOTES §1: "only when enabled in server
    // config"); a token bucket of `per_second` refilled tokens, `burst` deep.
    double rate_per_second = 0;
    int rate_burst = 0;
    // ServiceSettings.EnableReliableWebSockets (NOTES, "Reconnection": off by
    // default: `hello` carries an empty connection_id and nothing is replayed).
    bool reliable_websockets = false;
    // Events kept per connection for a resume (Mattermost's dead queue: 128).
    std::size_t replay_capacity = 128;
    // NOTES "Observed": a bot token gets 403 on POST /posts/ephemeral.
    bool bot_can_post_ephemeral = false;
    std::chrono::milliseconds websocket_idle_timeout{std::chrono::seconds{100}};
    // NOTES "Observed": a connection not authenticated within 5 s is
    // dropped, without a close frame.
    std::chrono::milliseconds unauthenticated_timeout{std::chrono::seconds{5}};
    // HTTPS and wss:// with this certificate (self-hosted servers behind TLS).
    std::optional<TestCertificate> tls;
  };

  struct User {
    std::string id;
    std::string username;
    bool is_bot = false;
  };
  struct Channel {
    std::string id;
    std::string type = "O";  // O public, P private, D direct, G group
    std::string name;
    std::string display_name;
    std::string team_id;
  };

  // A WebSocket frame the fake sent, or a client frame it received.
  struct Frame {
    std::string connection_id;  // the fake's own id for the connection when reliable WebSockets are off
    bool outbound = true;
    std::string text;
  };

  FakeMattermost() : FakeMattermost(Options{}) {}
  explicit FakeMattermost(Options options);
  ~FakeMattermost();

  std::string url() const { return server_.url(); }                // site URL
  std::string api_url() const { return server_.url() + "/api/v4"; }
  std::string websocket_url() const;  // ws(s)://127.0.0.1:<port>/api/v4/websocket
  std::uint16_t port() const { return server_.port(); }
  const Options& options() const { return options_; }
  const User& bot() const { return bot_; }
  FakeHttpServer& server() { return server_; }

  // ----- world -----
  User add_user(std::string username);
  Channel add_channel(std::string name, std::string type = "O", std::string team_id = {});
  // NOTES §2: a DM's name is the two user ids sorted and joined by "__".
  Channel direct_channel(const std::string& user_a, const std::string& user_b);
  static std::string new_id();  // 26 chars of Mattermost's base32 alphabet

  // ----- state for assertions -----
  std::optional<nlohmann::json> post(const std::string& id) const;  // as stored (integration included)
  std::vector<nlohmann::json> posts() const;                        // in creation order
  std::vector<nlohmann::json> reactions() const;
  std::vector<Frame> frames() const;
  std::vector<FakeRequest> requests() const { return server_.requests(); }
  std::size_t websocket_count() const;  // open connections
  std::size_t pongs() const;            // over every connection so far

  // ----- a user acts (the listener sees `posted`, `reaction_added`) -----
  nlohmann::json user_posts(const std::string& user_id, const std::string& channel_id, std::string message,
                            std::string root_id = {});
  nlohmann::json user_reacts(const std::string& user_id, const std::string& post_id, std::string emoji_name);

  // ----- failures and connection hooks -----
  // The next `count` REST calls answer `status` with a plain-text proxy page.
  void fail_next(int status, int count = 1);
  // The next `count` REST calls get their connection closed, no answer.
  void drop_next(int count = 1);
  // The server is down behind its proxy: every REST call (GET
  // /api/v4/system/ping included) answers `status` with the proxy's page
  // until set_down(0).
  void set_down(int status);
  void drop_websockets();   // TCP closed, no close frame
  void close_websockets();  // a close frame
  void ping_websockets();
  // The server restarting behind its reverse proxy: while down, every REST
  // call and WebSocket upgrade gets the proxy's 502 page, and the open
  // WebSockets are dropped when it goes down. Posts and users are kept.
  void set_down(bool down);
  // Forget every connection's state: the next resume gets a new connection_id.
  void forget_connections();

  // ----- Mattermost toward an integration -----
  struct ClickResult {
    net::HttpResult integration;  // what the integration answered
    int status = 0;               // what the clicking client gets: 200 or 400 (NOTES "Observed")
    nlohmann::json body;          // {"status":"OK","trigger_id":...} or an error
    std::optional<std::string> ephemeral_text;
  };
  // A user clicks the button `action_id` of a post: the POST to the action's
  // integration.url, then the update applied as Mattermost does. Run it on
  // the test's executor (the integration may live there).
  boost::asio::awaitable<ClickResult> async_click(boost::asio::any_io_executor ex, std::string post_id,
                                                  std::string action_id, std::string user_id,
                                                  std::string selected_option = {});

  struct SlashCommand {
    std::string url;    // the integration's
    std::string token;  // the command's token
    std::string command = "/relance";
    std::string text;
    std::string user_id;
    std::string channel_id;
    std::string team_id = "teamteamteamteamteamteamte";
    std::string team_domain = "formation";
    std::string method = "P";  // "P" POST form, "G" GET query
  };
  struct SlashResult {
    net::HttpResult integration;
    std::string trigger_id;
    std::string response_url;
    bool failed = false;                       // the user sees an error
    std::optional<nlohmann::json> posted;      // an in_channel answer, as posted
    std::optional<std::string> ephemeral_text; // an ephemeral answer
  };
  boost::asio::awaitable<SlashResult> async_slash_command(boost::asio::any_io_executor ex, SlashCommand command);

  struct Impl;  // public so the implementation's helpers can name it

private:
  Options options_;
  User bot_;
  std::unique_ptr<Impl> impl_;
  FakeHttpServer server_;  // last: its thread starts once the rest exists
};

}  // namespace relance::test
