// The one HTTP port (Beast): /healthz, /api/v1/activity, /api/v1/learners,
// and later the chat and SMS hooks.
#pragma once

#include "adapters/common/hook_request.hpp"
#include "bot/app/engine.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relance::app {

// A request to a hook route (chat and SMS integrations), as the adapters
// need it (the SMS parsers' sms::Request is the same type), and their answer.
using HookRequest = net::HookRequest;
struct HookResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};
using HookHandler = std::function<HookResponse(const HookRequest&)>;
// A hook that answers later: `respond` may be called from any thread, once
// (the SMS hooks answer only after their group commit is on disk). The
// connection waits for it; other connections go on being served.
using AsyncHookHandler = std::function<void(HookRequest, std::function<void(HookResponse)> respond)>;
// Looks at a hook request before its body is read (`head` has the method,
// target and headers; its body is empty) and refuses it, or lets it in with
// nullopt. Where the caller's secret is in the URL or a header, a request
// without it is refused without reading, or holding, what it posts.
using HookGuard = std::function<std::optional<HookResponse>(const HookRequest& head)>;

class HttpServer {
public:
  // `clock` gives now; `on_change` is called after a request changed state
  // (so the scheduler can look again).
  HttpServer(boost::asio::io_context& io, Engine& engine, std::function<Timestamp()> clock,
             std::function<void()> on_change = {});
  ~HttpServer();
  // Binds config.http.listen_address:port (port 0 picks a free one).
  void start();
  std::uint16_t port() const;
  void stop();
  // Serves POST `path` with `handler` (on the io thread). Before start().
  void add_hook(std::string path, HookHandler handler, HookGuard guard = {});
  // Serves GET and POST `path` with `handler` (gateways call back with GET:
  // Kannel's get-url and dlr-url). Before start().
  void add_async_hook(std::string path, AsyncHookHandler handler, HookGuard guard = {});

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relance::app
