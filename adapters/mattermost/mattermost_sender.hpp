// Posts staff messages to Mattermost (REST v4, bot token), paced by the
// server's shared net::Pacer. The alert of a case carries signed buttons
// (Je prends, Relance faite…, Repris, Abandon) whose clicks come back to
// MattermostHooks::handle_action at public_url + "/hooks/mattermost/action".
#pragma once

#include "adapters/chat/chat.hpp"
#include "adapters/common/http_client.hpp"
#include "adapters/common/pacer.hpp"
#include "adapters/mattermost/mattermost_config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace relance::mattermost {

// Where Mattermost calls relance back (the lead's HTTP server routes).
inline constexpr std::string_view action_path = "/hooks/mattermost/action";
inline constexpr std::string_view command_path = "/hooks/mattermost/command";

struct SenderOptions {
  std::chrono::milliseconds request_timeout{std::chrono::seconds{15}};
  // How far back a maybe_sent retry looks for its earlier post (the outbox
  // may retry long after a crash; a longer window costs one bigger listing).
  std::chrono::hours maybe_sent_window{72};
};

class MattermostSender final : public chat::Sender {
public:
  MattermostSender(boost::asio::any_io_executor ex, net::HttpClient& http, net::Pacer& pacer,
                   const MattermostConfig& config, chat::Hooks hooks, SenderOptions options = {});

  chat::Network network() const override { return chat::Network::mattermost; }
  boost::asio::awaitable<chat::SendResult> send(chat::Post post) override;
  boost::asio::awaitable<chat::SendResult> edit(chat::Edit edit) override;
  // GET /api/v4/system/ping (no token, not paced): 200 once the server is up.
  boost::asio::awaitable<bool> probe() override;

  // public_url + action_path, or empty (no buttons) without a public_url.
  const std::string& action_url() const { return action_url_; }

private:
  boost::asio::awaitable<net::HttpResult> request(net::Method method, std::string path, std::string body);

  boost::asio::any_io_executor ex_;
  net::HttpClient& http_;
  net::Pacer& pacer_;
  const MattermostConfig& config_;
  chat::Hooks hooks_;
  SenderOptions options_;
  std::string api_;         // https://host/api/v4
  std::string action_url_;  // empty: no buttons
};

// Small shared helpers of the adapter's classes.
std::string api_base(const std::string& site_url);  // site URL + "/api/v4", no double slash
std::string text_or(const chat::Hooks& hooks, std::string_view key, std::string_view fallback);
// One REST v4 call with the bot token, paced: waits for the server's pacer,
// then feeds it the answer (the sender and the listener share both).
boost::asio::awaitable<net::HttpResult> api_request(net::HttpClient& http, net::Pacer& pacer, const std::string& api,
                                                    const std::string& bot_token, net::Method method, std::string path,
                                                    std::string body, std::chrono::milliseconds timeout);
// Every post of `channel_id` updated after `since`, over as many `since`
// calls as the server's cap needs (since_listing_cap). `page` gets each
// answer's body (a PostList) and returns false to stop early. Returns the
// first failed answer, else the last one.
boost::asio::awaitable<net::HttpResult> api_posts_since(net::HttpClient& http, net::Pacer& pacer,
                                                        const std::string& api, const std::string& bot_token,
                                                        std::string channel_id, std::int64_t since,
                                                        std::chrono::milliseconds timeout,
                                                        std::function<bool(const std::string& body)> page);

}  // namespace relance::mattermost
