// The one HTTP(S) client every adapter uses (Moodle now; Mattermost, Matrix,
// SMS gateways next). Expected failures come back as values: a caller looks at
// `failure` (the request never got an answer) and then `status`.
//
// Connections are kept alive (HTTP/1.1) and reused: a small pool of idle
// connections per destination (scheme, host, port), TLS ones included. A chat
// server paced at 10 requests/s is then one connection, not 10 TCP and TLS
// handshakes a second. The per-destination ordered queues of the chat
// adapters sit above this, in the adapters (with net::Pacer).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::net {

namespace detail {
struct ClientState;
}

enum class Method : std::uint8_t { get, head, post, put, patch, delete_ };
std::string_view to_string(Method m);

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// Case-insensitive lookup (HTTP field names are).
std::optional<std::string_view> find_header(const Headers& headers, std::string_view name);

// Why no HTTP answer came back.
enum class Failure : std::uint8_t {
  none,
  bad_url,    // not http(s)://host[:port]/...
  resolve,    // DNS
  connect,    // refused, unreachable
  tls,        // handshake, certificate not trusted, wrong host name
  timeout,    // the request's deadline passed (any step)
  send,       // connection lost while writing
  receive,    // connection lost or garbage while reading
  too_large,  // the response body is over ClientOptions::max_response_bytes
};
std::string_view to_string(Failure f);

struct HttpResult {
  Failure failure = Failure::none;
  std::string error;  // detail for a failure, e.g. "connect 127.0.0.1:9: Connection refused"
  int status = 0;     // 0 when failure != none
  Headers headers;
  std::string body;

  // An HTTP answer arrived (whatever its status).
  bool answered() const { return failure == Failure::none; }
  bool ok() const { return answered() && status >= 200 && status < 300; }
  std::optional<std::string_view> header(std::string_view name) const { return find_header(headers, name); }
};

struct ClientOptions {
  // Trust the system CAs (/etc/ssl/certs) ...
  bool system_cas = true;
  // ... plus these PEM files (self-hosted servers with a private CA).
  // An unreadable file is a configuration error: the constructor throws.
  std::vector<std::filesystem::path> ca_files;
  std::string user_agent = "relance";
  std::size_t max_response_bytes = 64u << 20;
  // Keep-alive: idle connections kept per destination, and how long one may
  // sit idle before it is closed instead of reused (servers close idle
  // connections on their own clock: nginx after 75 s, Go's net/http after
  // its IdleTimeout; 30 s stays under the usual ones). `keep_alive = false`
  // sends `Connection: close` and never reuses a connection.
  // Idle connections past their age are closed at the next request (to any
  // destination) or with the client.
  bool keep_alive = true;
  std::size_t max_idle_per_destination = 4;
  std::chrono::milliseconds max_idle_age{std::chrono::seconds{30}};
  // A reused connection that had been idle at least this long and turns out
  // closed before a byte of the answer is the server's idle timeout racing
  // our request: the request is sent once more on a new connection (never a
  // POST or PATCH: those are reported). One that was busy a moment ago and
  // fails so is a server or proxy dying: reported.
  // Idle timeouts are seconds long (HAProxy 1 s and more, Apache and Node 5 s,
  // nginx 75 s).
  std::chrono::milliseconds idle_close_retry_after{std::chrono::seconds{1}};
};

// Counters since the client was made (logs, tests, benchmarks).
struct ClientStats {
  std::uint64_t connections_opened = 0;  // TCP connects that succeeded
  std::uint64_t reused = 0;              // requests sent on a pooled connection
  std::uint64_t retried = 0;             // reused connection found closed mid-request, retried on a new one
};

class HttpClient {
public:
  // Sockets are created on `ex`; callers co_await from coroutines on it.
  explicit HttpClient(boost::asio::any_io_executor ex, ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One request. `timeout` bounds the whole exchange (DNS, connect, TLS,
  // write, read): every step gets what is left of it. `body` is sent as is;
  // set Content-Type in `headers`. Never throws for network or TLS trouble.
  // The client may be destroyed while a request is in flight: that request
  // keeps what it needs alive and ends on its own deadline (its connection is
  // then closed, not pooled). Idle connections close with the client.
  boost::asio::awaitable<HttpResult> async_request(Method method, std::string url, Headers headers, std::string body,
                                                   std::chrono::milliseconds timeout);

  const ClientOptions& options() const;
  ClientStats stats() const;
  // Idle connections currently pooled, over all destinations.
  std::size_t idle_connections() const;

private:
  std::shared_ptr<detail::ClientState> impl_;
};

}  // namespace relance::net
