// The one HTTP(S) client every adapter uses (Moodle now; Mattermost, Matrix,
// SMS gateways next). Expected failures come back as values: a caller looks at
// `failure` (the request never got an answer) and then `status`.
//
// Today each request opens its own connection (`Connection: close`). The
// keep-alive pool and the per-destination ordered queues of the chat adapters
// belong behind this same async_request, without changing its callers.
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
  // keeps what it needs alive and ends on its own deadline.
  boost::asio::awaitable<HttpResult> async_request(Method method, std::string url, Headers headers, std::string body,
                                                   std::chrono::milliseconds timeout);

  const ClientOptions& options() const;

private:
  std::shared_ptr<detail::ClientState> impl_;
};

}  // namespace relance::net
