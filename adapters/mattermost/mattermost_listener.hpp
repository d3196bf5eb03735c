// Mattermost's event stream (GET /api/v4/websocket, bot token on the
// upgrade), like the official client: keeps `hello`'s connection_id and
// reconnects with ?connection_id=&sequence_number= (last seq + 1); a gap in
// `seq` reconnects; a fresh connection (new or empty connection_id, the
// default on real servers: NOTES "Observed / Reconnection") catches up over
// REST (GET /channels/{id}/posts?since=<last ms seen>) for the watched
// channels and the DMs seen; pings every ping_interval and declares the
// connection dead when nothing came back; capped exponential backoff with
// jitter between attempts.
//
// Inbound, it runs staff commands: a DM to the bot or a message starting
// with @<bot> in a watched channel (default_channel + route targets),
// answered in the same thread, except an answer with learners' details
// (Answer::personal), sent to the asker in a direct message; and ✋/✅ reactions on a case's alert, which
// claim it ("prendre <case>"). Its own posts and reactions are ignored, posts
// are deduped by id (hooks.first_seen), so a resync never runs a command twice.
#pragma once

#include "adapters/chat/chat.hpp"
#include "adapters/common/http_client.hpp"
#include "adapters/common/pacer.hpp"
#include "adapters/common/websocket.hpp"
#include "adapters/mattermost/mattermost_stream.hpp"
#include "adapters/mattermost/mattermost_config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace relance::mattermost {

struct WirePost;
namespace detail {
struct ListenerSession;
}

struct ListenerOptions {
  // Reconnecting: a server restart takes seconds (12 s measured on a real
  // one), so for the first `quick_window` of an outage every attempt comes
  // after quick_retry (jittered to half of it at least): relance hears again
  // within about a second of the server being back. A longer outage backs
  // off exponentially from backoff_initial up to backoff_cap.
  std::chrono::milliseconds quick_retry{std::chrono::seconds{1}};
  std::chrono::milliseconds quick_window{std::chrono::seconds{60}};
  std::chrono::milliseconds backoff_initial{std::chrono::seconds{1}};
  std::chrono::milliseconds backoff_cap{std::chrono::seconds{60}};
  std::chrono::milliseconds request_timeout{std::chrono::seconds{15}};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds{15}};
  // Overrides config.ping_interval (whole seconds there; tests go faster).
  std::optional<std::chrono::milliseconds> ping_interval;
  // The first resync of a run (from the saved position) and the one after a
  // session that saw no post look back from the session's start by this much;
  // dedupe makes the overlap harmless.
  std::chrono::milliseconds resync_margin{std::chrono::seconds{60}};
  net::ClientOptions websocket;  // TLS options of the event stream; config.ca_file is added
};

// The wait before the next reconnect attempt, `outage` into an outage, with
// `slow_attempts` attempts already made past the quick window; `unit` in
// [0, 1) is the jitter. Pure, for the listener's loop and its tests.
std::chrono::milliseconds reconnect_delay(const ListenerOptions& o, std::chrono::milliseconds outage, int slow_attempts,
                                          double unit);

class MattermostListener {
public:
  MattermostListener(boost::asio::any_io_executor ex, net::HttpClient& http, net::Pacer& pacer,
                     const MattermostConfig& config, chat::Hooks hooks, ListenerOptions options = {});
  ~MattermostListener();
  MattermostListener(const MattermostListener&) = delete;
  MattermostListener& operator=(const MattermostListener&) = delete;

  // Runs until stop() (once per listener). co_spawn it on the app's executor.
  boost::asio::awaitable<void> run();
  // Ends run() soon (closes the connection, wakes any wait). Same executor.
  void stop();

  struct Stats {
    std::size_t sessions = 0;     // hello received (fresh or resumed)
    std::size_t resumed = 0;      // sessions that continued the previous seq
    std::size_t resyncs = 0;      // REST catch-ups done
    std::size_t gaps = 0;         // seq gaps seen
    std::size_t pings = 0;        // pings sent
    std::size_t pongs = 0;        // pongs received (over all connections)
    std::size_t commands = 0;     // commands run (posts and reactions)
  };
  Stats stats() const;
  bool connected() const { return connected_; }
  const std::string& bot_username() const { return me_name_; }

private:
  enum class Outcome { no_session, ended, gap };
  boost::asio::awaitable<bool> async_who_am_i();
  boost::asio::awaitable<Outcome> async_session();
  boost::asio::awaitable<void> async_resync();
  boost::asio::awaitable<void> async_handle_post(const WirePost& post, std::string channel_type, std::string sender);
  boost::asio::awaitable<void> async_handle_reaction(std::string user_id, std::string post_id, std::string emoji,
                                                     std::string channel_id);
  boost::asio::awaitable<std::string> async_username(const std::string& user_id);
  boost::asio::awaitable<std::string> async_direct_channel(std::string user_id);
  boost::asio::awaitable<void> async_reply(std::string channel_id, std::string root_id, std::string message);
  boost::asio::awaitable<net::HttpResult> async_rest(net::Method method, std::string path, std::string body);
  boost::asio::awaitable<void> async_sleep(std::chrono::milliseconds d);
  void seen(std::int64_t ms);
  std::string websocket_url() const;

  boost::asio::any_io_executor ex_;
  net::HttpClient& http_;
  net::Pacer& pacer_;
  const MattermostConfig& config_;
  chat::Hooks hooks_;
  ListenerOptions options_;
  std::string api_;
  std::set<std::string> watched_;
  std::set<std::string> direct_;  // DM channels seen (resynced too)
  std::map<std::string, std::string> usernames_;
  std::string me_id_, me_name_;
  StreamState stream_;
  std::int64_t last_seen_ms_ = 0;   // newest post time seen (server clock)
  bool connected_ = false;
  bool stopped_ = false;
  std::size_t closed_pings_ = 0, closed_pongs_ = 0;
  std::shared_ptr<detail::ListenerSession> session_;
  boost::asio::steady_timer sleep_;
  Stats stats_;
};

}  // namespace relance::mattermost
