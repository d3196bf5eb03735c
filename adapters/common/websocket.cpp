// Beast and OpenSSL live here only (like http_client.cpp: the expensive
// translation unit, G2).
#include "adapters/common/websocket.hpp"
#include "adapters/common/resolve.hpp"
#include "adapters/common/tls.hpp"
#include "adapters/common/url_target.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <charconv>
#include <optional>
#include <stdexcept>

namespace relance::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using Target = UrlTarget;

std::optional<Target> parse_target(std::string_view url, std::string& why) {
  return parse_url_target(url, {"ws", "http"}, {"wss", "https"}, why);
}

std::chrono::milliseconds left(Clock::time_point deadline) { return time_left(deadline); }

WebSocketResult fail(Failure f, std::string why, int status = 0) {
  WebSocketResult r;
  r.failure = f;
  r.error = std::move(why);
  r.status = status;
  return r;
}

Failure classify(const boost::system::error_code& ec, Failure otherwise) {
  return ec == beast::error::timeout ? Failure::timeout : otherwise;
}

}  // namespace

namespace detail {

struct WebSocketState : std::enable_shared_from_this<WebSocketState> {
  WebSocketState(asio::any_io_executor e, ClientOptions o) : ex(std::move(e)), options(std::move(o)) {}
  using Plain = websocket::stream<beast::tcp_stream>;
  using Secure = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

  asio::any_io_executor ex;
  ClientOptions options;
  asio::ssl::context ssl{asio::ssl::context::tls_client};
  std::unique_ptr<Plain> plain;
  std::unique_ptr<Secure> secure;
  std::size_t pongs = 0;
  bool open = false;
  bool used = false;
  // Liveness: Beast's own idle timeout re-arms only when a read starts, so
  // pongs alone would not keep a quiet connection alive; this watchdog
  // counts every frame, control frames included.
  Clock::time_point last_received{};
  bool timed_out = false;
  std::unique_ptr<asio::steady_timer> watchdog;

  void arm_watchdog(std::chrono::milliseconds idle) {
    if (!watchdog) watchdog = std::make_unique<asio::steady_timer>(ex);
    watchdog->expires_after(std::max(std::chrono::milliseconds{10}, idle / 4));
    std::weak_ptr<WebSocketState> weak = shared_from_this();
    watchdog->async_wait([weak, idle](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || !self->open) return;
      if (Clock::now() - self->last_received >= idle) {
        self->timed_out = true;
        self->abort();
        return;
      }
      self->arm_watchdog(idle);
    });
  }

  void abort() {
    open = false;
    if (watchdog) watchdog->cancel();
    if (plain) beast::get_lowest_layer(*plain).close();
    if (secure) beast::get_lowest_layer(*secure).close();
  }

  // Closes the connection if `op` has not finished by `timeout`.
  template <class Op>
  asio::awaitable<boost::system::error_code> guarded(std::chrono::milliseconds timeout, Op op) {
    auto timer = std::make_shared<asio::steady_timer>(ex, timeout);
    std::weak_ptr<WebSocketState> weak = shared_from_this();
    auto fired = std::make_shared<bool>(false);
    timer->async_wait([weak, fired](boost::system::error_code ec) {
      if (ec) return;
      *fired = true;
      if (auto self = weak.lock()) self->abort();
    });
    auto ec = co_await op();
    timer->cancel();
    if (*fired) co_return beast::error::timeout;
    co_return ec;
  }
};

}  // namespace detail

namespace {

template <class Stream>
void after_handshake(detail::WebSocketState& st, Stream& ws, std::chrono::milliseconds idle_timeout) {
  // Beast's own timers take over from the TCP stream's (its documented way);
  // its idle timeout stays off (see the watchdog) and the caller pings.
  beast::get_lowest_layer(ws).expires_never();
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::seconds{10};  // also bounds close()
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  ws.set_option(t);
  ws.control_callback([&st](websocket::frame_type kind, beast::string_view) {
    st.last_received = Clock::now();
    if (kind == websocket::frame_type::pong) ++st.pongs;
  });
  st.open = true;
  st.last_received = Clock::now();
  if (idle_timeout.count() > 0) st.arm_watchdog(idle_timeout);
}

template <class Stream>
void decorate(Stream& ws, const Headers& headers, const std::string& user_agent) {
  ws.set_option(websocket::stream_base::decorator([headers, user_agent](websocket::request_type& req) {
    req.set(beast::http::field::user_agent, user_agent);
    for (const auto& h : headers) req.set(h.name, h.value);
  }));
}

asio::awaitable<WebSocketResult> do_connect(std::shared_ptr<detail::WebSocketState> st, std::string url,
                                            Headers headers, std::chrono::milliseconds timeout,
                                            std::chrono::milliseconds idle_timeout) {
  if (st->used) co_return fail(Failure::connect, "a WebSocket connects once");
  st->used = true;
  const auto deadline = Clock::now() + timeout;
  std::string why;
  auto target = parse_target(url, why);
  if (!target) co_return fail(Failure::bad_url, why);

  auto resolved = co_await resolve_within(st->ex, *target, deadline);
  if (resolved.failure != Failure::none) co_return fail(resolved.failure, resolved.error);
  std::vector<tcp::endpoint> endpoints = std::move(resolved.endpoints);
  const auto where = target->host + ":" + std::to_string(target->port);

  auto handshake = [&](auto& ws) -> asio::awaitable<WebSocketResult> {
    auto& lowest = beast::get_lowest_layer(ws);
    lowest.expires_after(left(deadline));
    auto [connect_ec, endpoint] = co_await lowest.async_connect(endpoints, use_tuple);
    (void)endpoint;
    if (connect_ec)
      co_return fail(classify(connect_ec, Failure::connect), "connect " + where + ": " + connect_ec.message());
    if constexpr (std::is_same_v<std::decay_t<decltype(ws)>, detail::WebSocketState::Secure>) {
      auto& tls = ws.next_layer();
      if (auto err = prepare_client_handshake(tls, *target); !err.empty()) co_return fail(Failure::tls, err);
      lowest.expires_after(left(deadline));
      auto [tls_ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
      if (tls_ec)
        co_return fail(classify(tls_ec, Failure::tls),
                       "TLS handshake with " + where + ": " + handshake_failure_detail(tls_ec, tls.native_handle()));
    }
    decorate(ws, headers, st->options.user_agent);
    lowest.expires_after(left(deadline));
    websocket::response_type res;
    auto [ws_ec] = co_await ws.async_handshake(res, target->host_header, target->target, use_tuple);
    const int status = int(res.result_int());
    if (ws_ec) {
      if (status != 0 && status != 101)
        co_return fail(Failure::connect, "upgrade refused by " + where + ": HTTP " + std::to_string(status), status);
      co_return fail(classify(ws_ec, Failure::receive), "WebSocket handshake with " + where + ": " + ws_ec.message(),
                     status);
    }
    after_handshake(*st, ws, idle_timeout);
    WebSocketResult ok;
    ok.status = status;
    co_return ok;
  };

  if (target->tls) {
    st->secure = std::make_unique<detail::WebSocketState::Secure>(st->ex, st->ssl);
    co_return co_await handshake(*st->secure);
  }
  st->plain = std::make_unique<detail::WebSocketState::Plain>(st->ex);
  co_return co_await handshake(*st->plain);
}

asio::awaitable<WebSocketMessage> do_read(std::shared_ptr<detail::WebSocketState> st) {
  WebSocketMessage m;
  if (!st->open) {
    m.failure = Failure::receive;
    m.error = "not connected";
    co_return m;
  }
  beast::flat_buffer buffer;
  auto read = [&](auto& ws) -> asio::awaitable<boost::system::error_code> {
    auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
    (void)n;
    co_return ec;
  };
  boost::system::error_code ec;
  if (st->secure)
    ec = co_await read(*st->secure);
  else
    ec = co_await read(*st->plain);
  if (ec) {
    st->abort();
    m.closed = ec == websocket::error::closed;
    m.failure = st->timed_out ? Failure::timeout : classify(ec, Failure::receive);
    m.error = m.closed      ? "closed by the peer"
              : st->timed_out ? "nothing received for the idle timeout"
                              : "reading: " + ec.message();
    co_return m;
  }
  st->last_received = Clock::now();
  m.text = beast::buffers_to_string(buffer.data());
  co_return m;
}

asio::awaitable<WebSocketResult> do_write(std::shared_ptr<detail::WebSocketState> st, std::string text,
                                          std::chrono::milliseconds timeout, bool ping) {
  if (!st->open) co_return fail(Failure::send, "not connected");
  auto op = [&]() -> asio::awaitable<boost::system::error_code> {
    auto run = [&](auto& ws) -> asio::awaitable<boost::system::error_code> {
      if (ping) {
        auto [ec] = co_await ws.async_ping({}, use_tuple);
        co_return ec;
      }
      ws.text(true);
      auto [ec, n] = co_await ws.async_write(asio::buffer(text), use_tuple);
      (void)n;
      co_return ec;
    };
    if (st->secure) co_return co_await run(*st->secure);
    co_return co_await run(*st->plain);
  };
  auto ec = co_await st->guarded(timeout, op);
  if (ec) {
    st->abort();
    co_return fail(classify(ec, Failure::send), std::string(ping ? "ping: " : "writing: ") + ec.message());
  }
  co_return WebSocketResult{};
}

asio::awaitable<void> do_close(std::shared_ptr<detail::WebSocketState> st, std::chrono::milliseconds timeout) {
  if (!st->open) co_return;
  auto op = [&]() -> asio::awaitable<boost::system::error_code> {
    auto run = [&](auto& ws) -> asio::awaitable<boost::system::error_code> {
      auto [ec] = co_await ws.async_close(websocket::close_code::normal, use_tuple);
      co_return ec;
    };
    if (st->secure) co_return co_await run(*st->secure);
    co_return co_await run(*st->plain);
  };
  co_await st->guarded(timeout, op);
  st->abort();
}

}  // namespace

WebSocket::WebSocket(asio::any_io_executor ex, ClientOptions options)
    : impl_(std::make_shared<detail::WebSocketState>(std::move(ex), std::move(options))) {
  configure_client_tls(impl_->ssl, impl_->options);
}

WebSocket::~WebSocket() {
  // Pending operations hold the state; closing the socket ends them.
  impl_->abort();
}

asio::awaitable<WebSocketResult> WebSocket::connect(std::string url, Headers headers, std::chrono::milliseconds timeout,
                                                    std::chrono::milliseconds idle_timeout) {
  return do_connect(impl_, std::move(url), std::move(headers), timeout, idle_timeout);
}

asio::awaitable<WebSocketMessage> WebSocket::read() { return do_read(impl_); }

asio::awaitable<WebSocketResult> WebSocket::write(std::string text, std::chrono::milliseconds timeout) {
  return do_write(impl_, std::move(text), timeout, false);
}

asio::awaitable<WebSocketResult> WebSocket::ping(std::chrono::milliseconds timeout) {
  return do_write(impl_, {}, timeout, true);
}

asio::awaitable<void> WebSocket::close(std::chrono::milliseconds timeout) { return do_close(impl_, timeout); }

void WebSocket::cancel() { impl_->abort(); }

bool WebSocket::is_open() const { return impl_->open; }

std::size_t WebSocket::pongs() const { return impl_->pongs; }

}  // namespace relance::net
