// The one HTTP port (Beast): /healthz, /api/v1/activity, /api/v1/learners,
// and later the chat and SMS hooks.
#pragma once

#include "bot/app/engine.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>

namespace relance::app {

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

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relance::app
