// The one WebSocket client every adapter uses (Mattermost's event stream
// today), on Boost.Beast over TCP or TLS, with the same CA options as
// HttpClient. Like HttpClient, expected failures come back as values and
// every step has a deadline:
// - connect: one deadline for DNS, TCP, TLS and the upgrade;
// - read: an idle deadline fixed at connect (nothing at all received, not even
//   a pong, for that long: the connection is declared dead and closed);
// - write, ping, close: their own deadline; past it the connection is closed.
// Server pings are answered by Beast while a read is pending.
//
// At most one read and one write (or ping) may be pending at a time (Beast's
// rule); a read may run while a ping or write is pending, which is how a
// listener pings from a second coroutine on the same executor.
#pragma once

#include "adapters/common/http_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace relance::net {

namespace detail {
struct WebSocketState;
}

struct WebSocketResult {
  Failure failure = Failure::none;
  std::string error;
  int status = 0;  // connect: the upgrade's HTTP status (101 when accepted, 401...)
  bool ok() const { return failure == Failure::none; }
};

struct WebSocketMessage {
  Failure failure = Failure::none;  // receive: closed (see `closed`), timeout: idle deadline passed
  std::string error;
  bool closed = false;  // the peer sent a close frame (a normal end)
  std::string text;     // one complete text (or binary) message
  bool ok() const { return failure == Failure::none; }
};

class WebSocket {
public:
  explicit WebSocket(boost::asio::any_io_executor ex, ClientOptions options = {});
  ~WebSocket();
  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  // ws://, wss://, http:// or https:// (the last two mean ws and wss).
  // `headers` go on the upgrade request (Authorization: Bearer ...).
  // `idle_timeout` bounds every later read (zero: no idle deadline).
  // A WebSocket connects once; make a new one to reconnect.
  boost::asio::awaitable<WebSocketResult> connect(std::string url, Headers headers, std::chrono::milliseconds timeout,
                                                  std::chrono::milliseconds idle_timeout = std::chrono::milliseconds{0});
  // The next message. After a failure the connection is over.
  boost::asio::awaitable<WebSocketMessage> read();
  boost::asio::awaitable<WebSocketResult> write(std::string text, std::chrono::milliseconds timeout);
  boost::asio::awaitable<WebSocketResult> ping(std::chrono::milliseconds timeout);
  // A close frame, then waits (bounded) for the peer's; never fails.
  boost::asio::awaitable<void> close(std::chrono::milliseconds timeout);
  // Closes the socket at once (no close frame): pending operations end with
  // an error. Safe to call from any coroutine on the executor, at any time.
  void cancel();

  bool is_open() const;
  std::size_t pongs() const;  // pong frames received so far

private:
  std::shared_ptr<detail::WebSocketState> impl_;
};

}  // namespace relance::net
