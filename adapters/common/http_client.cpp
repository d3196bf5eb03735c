// The only translation unit of the client that includes Beast and OpenSSL
// (G2: ~45 s and 1.3 GB to compile; keep it that way).
#include "adapters/common/http_client.hpp"
#include "messages/text/ascii.hpp"
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
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>

namespace relance::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bhttp::verb to_verb(Method m) {
  switch (m) {
    case Method::get: return bhttp::verb::get;
    case Method::head: return bhttp::verb::head;
    case Method::post: return bhttp::verb::post;
    case Method::put: return bhttp::verb::put;
    case Method::patch: return bhttp::verb::patch;
    case Method::delete_: return bhttp::verb::delete_;
  }
  return bhttp::verb::get;
}

using Target = UrlTarget;

std::optional<Target> parse_target(std::string_view url, std::string& why) {
  return parse_url_target(url, {"http"}, {"https"}, why);
}

std::chrono::milliseconds left(Clock::time_point deadline) { return time_left(deadline); }

HttpResult fail(Failure f, std::string why) {
  HttpResult r;
  r.failure = f;
  r.error = std::move(why);
  return r;
}

asio::awaitable<HttpResult> async_resolve(const Target& t, Clock::time_point deadline,
                                          std::vector<tcp::endpoint>& out) {
  auto r = co_await resolve_within(co_await asio::this_coro::executor, t, deadline);
  if (r.failure != Failure::none) co_return fail(r.failure, r.error);
  out = std::move(r.endpoints);
  co_return HttpResult{};
}

Failure classify(const boost::system::error_code& ec, Failure otherwise) {
  return ec == beast::error::timeout ? Failure::timeout : otherwise;
}

// The ways a connection the server has closed shows up: EOF before any byte
// of an answer (Beast says end_of_stream), a reset or a broken pipe, and for
// TLS a truncated stream (the peer closed without close_notify).
bool closed_by_peer(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

struct Exchange {
  HttpResult result;
  // The answer was read whole, both sides keep the connection open, nothing
  // is left over: the connection may serve another request.
  bool reusable = false;
  // The connection turned out closed before a single byte of an answer came
  // back (see do_request: retried once when the connection was a reused one).
  bool closed_before_answer = false;
};

// Write the request, read the answer; the same for plain TCP and TLS.
template <class Stream>
asio::awaitable<Exchange> exchange(Stream& stream, bhttp::request<bhttp::string_body>& req, std::size_t max_body,
                                   Clock::time_point deadline) {
  Exchange out;
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(left(deadline));
  auto [write_ec, written] = co_await bhttp::async_write(stream, req, use_tuple);
  (void)written;

  // A server may answer before reading the whole body (413, 401) and close:
  // the write then fails, but the answer is there to read. Try it before
  // reporting a send failure.
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(max_body);
  if (req.method() == bhttp::verb::head) parser.skip(true);
  if (write_ec == beast::error::timeout) {
    out.result = fail(Failure::timeout, "sending the request timed out");
    co_return out;
  }
  lowest.expires_after(left(deadline));
  auto [read_ec, read] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
  (void)read;
  const bool nothing_back = !parser.got_some() && buffer.size() == 0;
  if (write_ec && (read_ec || !parser.is_header_done())) {
    out.closed_before_answer = nothing_back && closed_by_peer(write_ec);
    out.result = fail(Failure::send, "sending the request: " + write_ec.message());
    co_return out;
  }
  if (read_ec == bhttp::error::body_limit) {
    out.result = fail(Failure::too_large, "response body over " + std::to_string(max_body) + " bytes");
    co_return out;
  }
  if (read_ec) {
    out.closed_before_answer = nothing_back && closed_by_peer(read_ec);
    out.result = fail(classify(read_ec, Failure::receive), "reading the response: " + read_ec.message());
    co_return out;
  }

  // parser.keep_alive() is false for `Connection: close` (or HTTP/1.0
  // without keep-alive) and for a body delimited by the end of the stream.
  out.reusable = !write_ec && parser.is_done() && parser.keep_alive() && buffer.size() == 0;
  auto res = parser.release();
  HttpResult& r = out.result;
  r.status = int(res.result_int());
  for (const auto& field : res) r.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  r.body = std::move(res.body());
  co_return out;
}

// One connection to a destination, plain or TLS, which may outlive its
// request in the pool.
struct Connection {
  std::optional<beast::tcp_stream> plain;                      // http
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;  // https (owns the TCP stream)
  Clock::time_point idle_since{};

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

// An idle connection is worth reusing only if the server has not closed it
// meanwhile: a non-blocking peek must find nothing to read. EOF means the
// server closed it (its idle timeout); bytes mean something unasked for (a
// TLS close_notify, a stray answer): either way, do not reuse it.
bool still_open(tcp::socket& socket) {
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  if (ec) return false;
  char c = 0;
  socket.receive(asio::buffer(&c, 1), tcp::socket::message_peek, ec);
  const bool open = ec == asio::error::would_block;
  socket.non_blocking(false, ec);
  return open && !ec;
}

}  // namespace

namespace detail {
struct ClientState {
  ClientState(asio::any_io_executor e, ClientOptions o) : ex(std::move(e)), options(std::move(o)) {}
  asio::any_io_executor ex;
  ClientOptions options;
  asio::ssl::context ssl{asio::ssl::context::tls_client};

  // The keep-alive pool, by destination ("https://host:port"), oldest first.
  // Requests may run on several threads of one io_context: the pool is
  // shared, each connection in use belongs to one request only.
  mutable std::mutex mutex;
  bool closed = false;  // the client is gone: nothing goes back to the pool
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle;

  std::atomic<std::uint64_t> connections_opened{0};
  std::atomic<std::uint64_t> reused{0};
  std::atomic<std::uint64_t> retried{0};

  // Drops connections idle for too long (every destination: cheap, there are
  // few) and returns the newest still-open one for `key`, if any.
  std::unique_ptr<Connection> take_idle(const std::string& key) {
    std::vector<std::unique_ptr<Connection>> doomed;  // closed outside the lock
    std::unique_ptr<Connection> found;
    {
      std::lock_guard lock(mutex);
      prune(doomed);
      auto it = idle.find(key);
      while (it != idle.end() && !it->second.empty() && !found) {
        auto c = std::move(it->second.back());
        it->second.pop_back();
        if (still_open(c->lowest().socket())) found = std::move(c);
        else doomed.push_back(std::move(c));
      }
    }
    return found;
  }

  void give_back(const std::string& key, std::unique_ptr<Connection> c) {
    std::vector<std::unique_ptr<Connection>> doomed;
    {
      std::lock_guard lock(mutex);
      if (closed || options.max_idle_per_destination == 0) {
        doomed.push_back(std::move(c));
      } else {
        c->lowest().expires_never();
        c->idle_since = Clock::now();
        auto& q = idle[key];
        q.push_back(std::move(c));
        while (q.size() > options.max_idle_per_destination) {
          doomed.push_back(std::move(q.front()));
          q.pop_front();
        }
        prune(doomed);
      }
    }
  }

  void prune(std::vector<std::unique_ptr<Connection>>& doomed) {
    const auto oldest = Clock::now() - options.max_idle_age;
    for (auto it = idle.begin(); it != idle.end();) {
      auto& q = it->second;
      while (!q.empty() && q.front()->idle_since <= oldest) {
        doomed.push_back(std::move(q.front()));
        q.pop_front();
      }
      it = q.empty() ? idle.erase(it) : std::next(it);
    }
  }
};
}  // namespace detail

namespace {

// Resolves, connects and, for https, does the TLS handshake.
asio::awaitable<HttpResult> async_open(detail::ClientState& impl, const Target& target, Clock::time_point deadline,
                                       std::unique_ptr<Connection>& out) {
  std::vector<tcp::endpoint> endpoints;
  if (auto r = co_await async_resolve(target, deadline, endpoints); !r.answered()) co_return r;

  auto conn = std::make_unique<Connection>();
  conn->plain.emplace(impl.ex);
  conn->plain->expires_after(left(deadline));
  auto [connect_ec, endpoint] = co_await conn->plain->async_connect(endpoints, use_tuple);
  (void)endpoint;
  const auto where = target.host + ":" + std::to_string(target.port);
  if (connect_ec) co_return fail(classify(connect_ec, Failure::connect), "connect " + where + ": " + connect_ec.message());
  ++impl.connections_opened;
  // Requests are small and answers awaited: do not let Nagle hold a body
  // segment back until the previous one is acknowledged.
  boost::system::error_code ignored;
  conn->plain->socket().set_option(tcp::no_delay(true), ignored);

  if (target.tls) {
    // G4: verify_peer (set on the context), SNI, and the host name checked
    // against the certificate. A pooled TLS connection is only ever reused for
    // the same host name (it is part of the pool key), so it stays verified.
    conn->secure.emplace(std::move(*conn->plain), impl.ssl);
    conn->plain.reset();
    auto& stream = *conn->secure;
    if (auto err = prepare_client_handshake(stream, target); !err.empty()) co_return fail(Failure::tls, err);
    beast::get_lowest_layer(stream).expires_after(left(deadline));
    auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (handshake_ec)
      co_return fail(classify(handshake_ec, Failure::tls),
                     "TLS handshake with " + where + ": " + handshake_failure_detail(handshake_ec, stream.native_handle()));
  }
  out = std::move(conn);
  co_return HttpResult{};
}

asio::awaitable<Exchange> exchange_on(Connection& c, bhttp::request<bhttp::string_body>& req, std::size_t max_body,
                                      Clock::time_point deadline) {
  if (c.secure) co_return co_await exchange(*c.secure, req, max_body, deadline);
  co_return co_await exchange(*c.plain, req, max_body, deadline);
}

// A connection that will not be reused: close it now. No TLS close_notify
// exchange: the response was length-delimited and read whole, and waiting for
// the peer's close_notify would only add a round trip (G4: peers often just
// close, giving stream_truncated anyway).
void discard(std::unique_ptr<Connection> c) {
  if (!c) return;
  boost::system::error_code ignored;
  c->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

std::string_view to_string(Method m) {
  switch (m) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::patch: return "PATCH";
    case Method::delete_: return "DELETE";
  }
  return "GET";
}

std::string_view to_string(Failure f) {
  switch (f) {
    case Failure::none: return "none";
    case Failure::bad_url: return "bad_url";
    case Failure::resolve: return "resolve";
    case Failure::connect: return "connect";
    case Failure::tls: return "tls";
    case Failure::timeout: return "timeout";
    case Failure::send: return "send";
    case Failure::receive: return "receive";
    case Failure::too_large: return "too_large";
  }
  return "none";
}

std::optional<std::string_view> find_header(const Headers& headers, std::string_view name) {
  for (const auto& h : headers)
    if (text::iequals(h.name, name)) return std::string_view{h.value};
  return std::nullopt;
}

namespace {

asio::awaitable<HttpResult> do_request(std::shared_ptr<detail::ClientState> impl, Method method, std::string url,
                                       Headers headers, std::string body, std::chrono::milliseconds timeout);

}  // namespace

HttpClient::HttpClient(asio::any_io_executor ex, ClientOptions options)
    : impl_(std::make_shared<detail::ClientState>(std::move(ex), std::move(options))) {
  configure_client_tls(impl_->ssl, impl_->options);
}

HttpClient::~HttpClient() {
  // Requests still in flight keep the state alive; their connections close
  // when they end instead of coming back to a pool nobody will use.
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->closed = true;
    idle.swap(impl_->idle);
  }
}

const ClientOptions& HttpClient::options() const { return impl_->options; }

ClientStats HttpClient::stats() const {
  return ClientStats{impl_->connections_opened.load(), impl_->reused.load(), impl_->retried.load()};
}

std::size_t HttpClient::idle_connections() const {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& [key, q] : impl_->idle) n += q.size();
  return n;
}

asio::awaitable<HttpResult> HttpClient::async_request(Method method, std::string url, Headers headers,
                                                      std::string body, std::chrono::milliseconds timeout) {
  // Not a coroutine itself: the frame below owns a reference to impl_, so a
  // request outlives a destroyed client safely.
  return do_request(impl_, method, std::move(url), std::move(headers), std::move(body), timeout);
}

namespace {

asio::awaitable<HttpResult> do_request(std::shared_ptr<detail::ClientState> impl, Method method, std::string url,
                                       Headers headers, std::string body, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string why;
  auto target = parse_target(url, why);
  if (!target) co_return fail(Failure::bad_url, why);

  bhttp::request<bhttp::string_body> req{to_verb(method), target->target, 11};
  req.set(bhttp::field::host, target->host_header);
  req.set(bhttp::field::user_agent, impl->options.user_agent);
  for (const auto& h : headers) req.set(h.name, h.value);
  // HTTP/1.1 keeps the connection open unless a side says `Connection: close`
  // (a caller may, in `headers`).
  if (!impl->options.keep_alive) req.keep_alive(false);
  const bool keep = req.keep_alive();
  if (!body.empty() || method == Method::post || method == Method::put || method == Method::patch) {
    req.body() = std::move(body);
    req.prepare_payload();
  }
  const auto max_body = impl->options.max_response_bytes;
  const auto key = std::string(target->tls ? "https://" : "http://") + target->host + ":" + std::to_string(target->port);

  if (auto conn = keep ? impl->take_idle(key) : nullptr) {
    ++impl->reused;
    const bool long_idle = Clock::now() - conn->idle_since >= impl->options.idle_close_retry_after;
    auto ex = co_await exchange_on(*conn, req, max_body, deadline);
    if (ex.reusable) impl->give_back(key, std::move(conn));
    else discard(std::move(conn));
    // A server closes an idle connection when its keep-alive timeout says so,
    // and our request can cross its FIN on the wire: the write or the very
    // first read then meets EOF or a reset, with not one byte of an answer.
    // The server decided to close while the connection was idle, before our
    // request reached it, so it never processed it: sending it again on a
    // fresh connection cannot apply it twice, whatever the method. (Go's
    // net/http retries the same race, errServerClosedIdle, for replayable
    // requests.) A connection already seen closed is never tried
    // (still_open), and one that was busy a moment ago is not an idle
    // timeout (idle_close_retry_after): a server or proxy dying in the middle
    // of our request may have applied it, and that is the caller's to handle
    // (idempotency keys, like Matrix's txnId), so it is reported. Fresh
    // connections are never retried either.
    // POST and PATCH are not replayable: even the idle-timeout race is left
    // to the caller (Mattermost's sender looks for its post before posting
    // again), since a server dying on our request looks the same on the wire.
    const bool replayable = method != Method::post && method != Method::patch;
    if (!ex.closed_before_answer || !long_idle || !replayable) co_return std::move(ex.result);
    ++impl->retried;
  }

  std::unique_ptr<Connection> conn;
  if (auto r = co_await async_open(*impl, *target, deadline, conn); !r.answered()) co_return r;
  auto ex = co_await exchange_on(*conn, req, max_body, deadline);
  if (keep && ex.reusable) impl->give_back(key, std::move(conn));
  else discard(std::move(conn));
  co_return std::move(ex.result);
}

}  // namespace

}  // namespace relance::net
