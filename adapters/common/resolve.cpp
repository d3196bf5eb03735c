#include "adapters/common/resolve.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

namespace relance::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct ResolveState {
  explicit ResolveState(const asio::any_io_executor& ex) : resolver(ex), timer(ex) {}
  tcp::resolver resolver;
  asio::steady_timer timer;
  bool done = false;
  boost::system::error_code ec;
  std::vector<tcp::endpoint> endpoints;
};

asio::awaitable<void> resolve_detached(std::shared_ptr<ResolveState> st, std::string host, std::string port) {
  auto [ec, results] = co_await st->resolver.async_resolve(host, port, use_tuple);
  st->ec = ec;
  for (const auto& entry : results) st->endpoints.push_back(entry.endpoint());
  st->done = true;
  st->timer.cancel();
}

}  // namespace

asio::awaitable<Resolved> resolve_within(asio::any_io_executor ex, const UrlTarget& t,
                                         std::chrono::steady_clock::time_point deadline) {
  Resolved out;
  if (t.ip_literal) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(t.host, ec);
    if (ec) {
      out.failure = Failure::bad_url;
      out.error = "bad address " + t.host;
    } else {
      out.endpoints.emplace_back(addr, t.port);
    }
    co_return out;
  }
  auto st = std::make_shared<ResolveState>(ex);
  st->timer.expires_at(deadline);
  asio::co_spawn(ex, resolve_detached(st, t.host, std::to_string(t.port)), asio::detached);
  co_await st->timer.async_wait(use_tuple);
  if (!st->done) {
    out.failure = Failure::timeout;
    out.error = "resolving " + t.host + " timed out";
  } else if (st->ec || st->endpoints.empty()) {
    out.failure = Failure::resolve;
    out.error = "resolving " + t.host + ": " + (st->ec ? st->ec.message() : "no address");
  } else {
    out.endpoints = std::move(st->endpoints);
  }
  co_return out;
}

}  // namespace relance::net
