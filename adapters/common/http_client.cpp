// The only translation unit of the client that includes Beast and OpenSSL
// (G2: ~45 s and 1.3 GB to compile; keep it that way).
#include "adapters/common/http_client.hpp"

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
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace relance::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

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

struct Target {
  bool tls = false;
  std::string host;         // for DNS, SNI and certificate checks (no IPv6 brackets)
  std::uint16_t port = 0;
  std::string target;       // origin-form: /path?query
  std::string host_header;  // as written in the URL, with the port if given
  bool ip_literal = false;
};

std::optional<Target> parse_target(std::string_view url, std::string& why) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    why = parsed.error().message();
    return std::nullopt;
  }
  const auto& u = *parsed;
  Target t;
  if (u.scheme_id() == boost::urls::scheme::https) {
    t.tls = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    why = "scheme must be http or https";
    return std::nullopt;
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    why = "no host";
    return std::nullopt;
  }
  t.host = u.host_address();
  t.ip_literal = u.host_type() == boost::urls::host_type::ipv4 || u.host_type() == boost::urls::host_type::ipv6;
  t.port = t.tls ? 443 : 80;
  if (u.has_port()) {
    auto p = u.port();
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || v == 0 || v > 65535) {
      why = "bad port";
      return std::nullopt;
    }
    t.port = std::uint16_t(v);
  }
  t.target = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
  if (u.has_query()) {
    t.target += '?';
    t.target += u.encoded_query();
  }
  t.host_header = std::string(u.encoded_host_and_port());
  return t;
}

std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds{0},
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

HttpResult fail(Failure f, std::string why) {
  HttpResult r;
  r.failure = f;
  r.error = std::move(why);
  return r;
}

// The resolver cannot be cancelled mid-flight (getaddrinfo runs on a helper
// thread), so it runs detached and we stop waiting for it at the deadline; a
// late answer lands in this state, kept alive by the detached coroutine.
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

asio::awaitable<HttpResult> async_resolve(const Target& t, Clock::time_point deadline,
                                          std::vector<tcp::endpoint>& out) {
  auto ex = co_await asio::this_coro::executor;
  if (t.ip_literal) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(t.host, ec);
    if (ec) co_return fail(Failure::bad_url, "bad address " + t.host);
    out.emplace_back(addr, t.port);
    co_return HttpResult{};
  }
  auto st = std::make_shared<ResolveState>(ex);
  st->timer.expires_at(deadline);
  asio::co_spawn(ex, resolve_detached(st, t.host, std::to_string(t.port)), asio::detached);
  co_await st->timer.async_wait(use_tuple);
  if (!st->done) co_return fail(Failure::timeout, "resolving " + t.host + " timed out");
  if (st->ec || st->endpoints.empty())
    co_return fail(Failure::resolve, "resolving " + t.host + ": " + (st->ec ? st->ec.message() : "no address"));
  out = std::move(st->endpoints);
  co_return HttpResult{};
}

Failure classify(const boost::system::error_code& ec, Failure otherwise) {
  return ec == beast::error::timeout ? Failure::timeout : otherwise;
}

// Write the request, read the answer; the same for plain TCP and TLS.
template <class Stream>
asio::awaitable<HttpResult> exchange(Stream& stream, bhttp::request<bhttp::string_body>& req, std::size_t max_body,
                                     Clock::time_point deadline) {
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
  if (write_ec == beast::error::timeout) co_return fail(Failure::timeout, "sending the request timed out");
  lowest.expires_after(left(deadline));
  auto [read_ec, read] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
  (void)read;
  if (write_ec && (read_ec || !parser.is_header_done()))
    co_return fail(Failure::send, "sending the request: " + write_ec.message());
  if (read_ec == bhttp::error::body_limit)
    co_return fail(Failure::too_large, "response body over " + std::to_string(max_body) + " bytes");
  if (read_ec) co_return fail(classify(read_ec, Failure::receive), "reading the response: " + read_ec.message());

  auto res = parser.release();
  HttpResult r;
  r.status = int(res.result_int());
  for (const auto& field : res) r.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  r.body = std::move(res.body());
  co_return r;
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
    if (iequals(h.name, name)) return std::string_view{h.value};
  return std::nullopt;
}

namespace detail {
struct ClientState {
  ClientState(asio::any_io_executor e, ClientOptions o) : ex(std::move(e)), options(std::move(o)) {}
  asio::any_io_executor ex;
  ClientOptions options;
  asio::ssl::context ssl{asio::ssl::context::tls_client};
};
}  // namespace detail

namespace {

asio::awaitable<HttpResult> do_request(std::shared_ptr<detail::ClientState> impl, Method method, std::string url,
                                       Headers headers, std::string body, std::chrono::milliseconds timeout);

}  // namespace

HttpClient::HttpClient(asio::any_io_executor ex, ClientOptions options)
    : impl_(std::make_shared<detail::ClientState>(std::move(ex), std::move(options))) {
  auto& ctx = impl_->ssl;
  // TLS 1.2 is the floor every server we talk to supports; older versions are broken.
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  boost::system::error_code ec;
  if (impl_->options.system_cas) {
    ctx.set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the system CA certificates: " + ec.message());
  }
  for (const auto& file : impl_->options.ca_files) {
    if (file.empty()) continue;
    ctx.load_verify_file(file.string(), ec);
    if (ec) throw std::runtime_error("CA file " + file.string() + ": " + ec.message());
  }
}

HttpClient::~HttpClient() = default;

const ClientOptions& HttpClient::options() const { return impl_->options; }

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

  std::vector<tcp::endpoint> endpoints;
  if (auto r = co_await async_resolve(*target, deadline, endpoints); !r.answered()) co_return r;

  bhttp::request<bhttp::string_body> req{to_verb(method), target->target, 11};
  req.set(bhttp::field::host, target->host_header);
  req.set(bhttp::field::user_agent, impl->options.user_agent);
  for (const auto& h : headers) req.set(h.name, h.value);
  // One connection per request for now (see the header).
  req.keep_alive(false);
  if (!body.empty() || method == Method::post || method == Method::put || method == Method::patch) {
    req.body() = std::move(body);
    req.prepare_payload();
  }

  beast::tcp_stream tcp(impl->ex);
  tcp.expires_after(left(deadline));
  auto [connect_ec, endpoint] = co_await tcp.async_connect(endpoints, use_tuple);
  (void)endpoint;
  const auto where = target->host + ":" + std::to_string(target->port);
  if (connect_ec) co_return fail(classify(connect_ec, Failure::connect), "connect " + where + ": " + connect_ec.message());

  const auto max_body = impl->options.max_response_bytes;
  if (!target->tls) {
    auto r = co_await exchange(tcp, req, max_body, deadline);
    boost::system::error_code ignored;
    tcp.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return r;
  }

  // G4: verify_peer (set on the context), SNI, and the host name checked
  // against the certificate.
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), impl->ssl);
  if (!target->ip_literal && !SSL_set_tlsext_host_name(stream.native_handle(), target->host.c_str()))
    co_return fail(Failure::tls, "cannot set SNI for " + target->host);
  stream.set_verify_callback(asio::ssl::host_name_verification(target->host));
  beast::get_lowest_layer(stream).expires_after(left(deadline));
  auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
  if (handshake_ec) {
    std::string detail = handshake_ec.message();
    if (auto v = SSL_get_verify_result(stream.native_handle()); v != X509_V_OK)
      detail += std::string(" (") + X509_verify_cert_error_string(v) + ")";
    co_return fail(classify(handshake_ec, Failure::tls), "TLS handshake with " + where + ": " + detail);
  }
  auto r = co_await exchange(stream, req, max_body, deadline);
  // No TLS close_notify exchange: the response was length-delimited and read
  // whole, and waiting for the peer's close_notify would only add a round trip
  // (G4: peers often just close, giving stream_truncated anyway).
  boost::system::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return r;
}

}  // namespace

}  // namespace relance::net
