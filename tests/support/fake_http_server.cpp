// The fakes' only Beast translation unit (G2: keep Beast in few TUs).
#include "fake_http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <thread>

namespace relance::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

}  // namespace

std::string FakeRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return {};
}

struct FakeHttpServer::Impl {
  explicit Impl(Handler h) : handler(std::move(h)), acceptor(io) {}

  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::uint16_t port = 0;
  std::thread thread;
  mutable std::mutex mutex;
  std::vector<FakeRequest> requests;
  std::size_t connections = 0;
  bool stopped = false;
};

namespace {

asio::awaitable<void> serve_connection(FakeHttpServer::Impl* impl, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    // A test never waits this long; it only frees a connection left open.
    stream.expires_after(std::chrono::seconds{30});
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    (void)n;
    if (ec) break;
    auto req = parser.release();

    FakeRequest rec;
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    auto q = rec.target.find('?');
    rec.path = rec.target.substr(0, q);
    rec.query = q == std::string::npos ? std::string{} : rec.target.substr(q + 1);
    for (const auto& f : req) rec.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    rec.body = req.body();
    {
      std::lock_guard lock(impl->mutex);
      impl->requests.push_back(rec);
    }
    FakeResponse out = impl->handler(rec);

    if (out.hang) {
      // Hold the connection without answering until the server stops.
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours{1});
      co_await t.async_wait(use_tuple);
      break;
    }
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(out.status), req.version()};
    res.set(bhttp::field::server, "relance-fake");
    if (!out.content_type.empty()) res.set(bhttp::field::content_type, out.content_type);
    for (const auto& [name, value] : out.headers) res.set(name, value);
    res.body() = std::move(out.body);
    res.keep_alive(req.keep_alive() && !out.close);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds{30});
    auto [wec, w] = co_await bhttp::async_write(stream, res, use_tuple);
    (void)w;
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> accept_loop(FakeHttpServer::Impl* impl) {
  for (;;) {
    auto [ec, socket] = co_await impl->acceptor.async_accept(use_tuple);
    if (ec) co_return;
    {
      std::lock_guard lock(impl->mutex);
      ++impl->connections;
    }
    asio::co_spawn(impl->io, serve_connection(impl, std::move(socket)), asio::detached);
  }
}

}  // namespace

// Coroutines hold a plain Impl*: the io_context lives in Impl, is stopped and
// its thread joined before Impl goes, and destroying it destroys their frames.
FakeHttpServer::FakeHttpServer(Handler handler) : impl_(std::make_unique<Impl>(std::move(handler))) {
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, accept_loop(impl_.get()), asio::detached);
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

FakeHttpServer::~FakeHttpServer() { stop(); }

void FakeHttpServer::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  // Abandons every coroutine (hanging ones included); their frames and
  // sockets go when the io_context does.
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Refuse new connections now, like a server that went away (otherwise the
  // kernel keeps accepting into the backlog and clients wait for nothing).
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
}

std::uint16_t FakeHttpServer::port() const { return impl_->port; }

std::string FakeHttpServer::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

std::vector<FakeRequest> FakeHttpServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

std::size_t FakeHttpServer::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests.size();
}

std::size_t FakeHttpServer::connection_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections;
}

namespace detail {

void run_io_until(asio::io_context& io, const bool& done, std::chrono::milliseconds deadline) {
  relance::test::run_io_until(io, [&done] { return done; }, deadline);
}

}  // namespace detail

bool run_io_until(asio::io_context& io, const std::function<bool()>& cond, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    if (io.stopped()) io.restart();
    // Bounded slices: `cond` may also change on another thread (a fake
    // server counting requests) while nothing is ready here.
    if (io.run_one_for(std::chrono::milliseconds{20}) == 0) std::this_thread::yield();
  }
  return true;
}

}  // namespace relance::test
