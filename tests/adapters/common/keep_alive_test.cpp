// The HTTP client's keep-alive pool: reuse, the server's `Connection: close`,
// idle connections the server closed, the one retry on a reused connection
// found closed, caps on idle count and age, TLS reuse, and closing with the
// client.
#include "adapters/common/http_client.hpp"
#include "test_support.hpp"
#include "tests/support/fake_http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>

using namespace relance;
using namespace relance::net;
using namespace std::chrono_literals;
using relance::test::FakeHttpServer;
using relance::test::FakeRequest;
using relance::test::FakeResponse;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

HttpResult request(asio::io_context& io, HttpClient& client, Method m, std::string url, Headers headers = {},
                   std::string body = {}) {
  return test::run_awaitable(io, client.async_request(m, std::move(url), std::move(headers), std::move(body), 5s));
}

// Lets `d` of real time pass on `io` (the idle-age cap is about real time).
void let_time_pass(asio::io_context& io, std::chrono::milliseconds d) {
  test::run_awaitable(io, [](std::chrono::milliseconds d) -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
  }(d));
}

// A bare HTTP/1.1 server for what FakeHttpServer does not script: what
// happens to a connection after an answer. It runs on the test's own
// io_context, next to the client; connection i follows plan[i], one step per
// request, then reads until the client closes.
class ScriptedServer {
public:
  enum class Step {
    answer,             // 200, connection kept open
    answer_then_close,  // 200 without `Connection: close`, then the server closes (its idle timeout)
    close_unanswered,   // reads the request, closes without a byte of answer
    reset_unanswered,   // reads the request, resets the connection (RST)
  };
  struct Seen {
    int requests = 0;
    bool closed_by_client = false;
  };

  ScriptedServer(asio::io_context& io, std::vector<std::vector<Step>> plan)
      : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}), state_(std::make_shared<State>()) {
    state_->plan = std::move(plan);
    state_->seen.resize(state_->plan.size());
    asio::co_spawn(io, accept_loop(acceptor_, state_), asio::detached);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  std::size_t connections() const { return state_->accepted; }
  const Seen& seen(std::size_t connection) const { return state_->seen.at(connection); }

private:
  struct State {
    std::vector<std::vector<Step>> plan;
    std::vector<Seen> seen;
    std::size_t accepted = 0;
  };

  static asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::shared_ptr<State> st) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec || st->accepted >= st->plan.size()) co_return;
      const auto i = st->accepted++;
      asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), st, i), asio::detached);
    }
  }

  // Reads one request (head and Content-Length body); false at EOF.
  static asio::awaitable<bool> read_request(tcp::socket& s, std::string& buf) {
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    auto [ec, n] = co_await asio::async_read_until(s, asio::dynamic_buffer(buf), "\r\n\r\n", tuple);
    if (ec) co_return false;
    std::size_t length = 0;
    const auto head = buf.substr(0, n);
    for (const char* name : {"Content-Length: ", "content-length: "})
      if (auto at = head.find(name); at != std::string::npos) length = std::stoul(head.substr(at + std::strlen(name)));
    if (buf.size() < n + length) {
      auto [rec, m] = co_await asio::async_read(s, asio::dynamic_buffer(buf), asio::transfer_exactly(n + length - buf.size()), tuple);
      (void)m;
      if (rec) co_return false;
    }
    buf.erase(0, n + length);
    co_return true;
  }

  static asio::awaitable<void> serve(tcp::socket s, std::shared_ptr<State> st, std::size_t i) {
    std::string buf;
    for (const auto step : st->plan[i]) {
      if (!co_await read_request(s, buf)) {
        st->seen[i].closed_by_client = true;
        co_return;
      }
      ++st->seen[i].requests;
      boost::system::error_code ignored;
      if (step == Step::close_unanswered) {
        s.close(ignored);
        co_return;
      }
      if (step == Step::reset_unanswered) {
        s.set_option(tcp::socket::linger(true, 0), ignored);
        s.close(ignored);
        co_return;
      }
      static const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";
      co_await asio::async_write(s, asio::buffer(ok), asio::as_tuple(asio::use_awaitable));
      if (step == Step::answer_then_close) {
        s.shutdown(tcp::socket::shutdown_both, ignored);
        s.close(ignored);
        co_return;
      }
    }
    // Plan done: wait for the client to close (or anything else it sends).
    while (co_await read_request(s, buf)) ++st->seen[i].requests;
    st->seen[i].closed_by_client = true;
  }

  tcp::acceptor acceptor_;
  std::shared_ptr<State> state_;
};

FakeResponse echo(const FakeRequest& r) { return FakeResponse{200, "text/plain", {}, r.method + " " + r.target}; }

}  // namespace

TEST_CASE("keep-alive: sequential requests share one connection", "[common][http][keepalive]") {
  FakeHttpServer server(echo);
  asio::io_context io;
  HttpClient client(io.get_executor());
  for (int i = 0; i < 5; ++i) {
    auto r = i % 2 ? request(io, client, Method::post, server.url() + "/p" + std::to_string(i), {}, "body")
                   : request(io, client, Method::get, server.url() + "/g" + std::to_string(i));
    INFO(r.error);
    REQUIRE(r.ok());
    CHECK(r.body == (i % 2 ? "POST /p" : "GET /g") + std::to_string(i));
  }
  CHECK(server.connection_count() == 1);
  CHECK(client.stats().connections_opened == 1);
  CHECK(client.stats().reused == 4);
  CHECK(client.idle_connections() == 1);
  for (const auto& seen : server.requests()) CHECK(seen.header("Connection").empty());  // HTTP/1.1: keep-alive
}

TEST_CASE("keep-alive: the server's Connection: close is honoured", "[common][http][keepalive]") {
  FakeHttpServer server([](const FakeRequest& r) {
    auto res = echo(r);
    res.close = true;
    return res;
  });
  asio::io_context io;
  HttpClient client(io.get_executor());
  for (int i = 0; i < 3; ++i) REQUIRE(request(io, client, Method::get, server.url() + "/").ok());
  CHECK(server.connection_count() == 3);
  CHECK(client.stats().reused == 0);
  CHECK(client.idle_connections() == 0);
}

TEST_CASE("keep-alive: off by option or by the caller's Connection: close", "[common][http][keepalive]") {
  FakeHttpServer server(echo);
  asio::io_context io;
  SECTION("option") {
    ClientOptions o;
    o.keep_alive = false;
    HttpClient client(io.get_executor(), o);
    for (int i = 0; i < 2; ++i) REQUIRE(request(io, client, Method::get, server.url() + "/").ok());
    CHECK(server.connection_count() == 2);
    for (const auto& seen : server.requests()) CHECK(seen.header("Connection") == "close");
  }
  SECTION("header") {
    HttpClient client(io.get_executor());
    for (int i = 0; i < 2; ++i) REQUIRE(request(io, client, Method::get, server.url() + "/", {{"Connection", "close"}}).ok());
    CHECK(server.connection_count() == 2);
    CHECK(client.idle_connections() == 0);
  }
}

TEST_CASE("keep-alive: a connection the server closed while idle is not used", "[common][http][keepalive]") {
  asio::io_context io;
  using Step = ScriptedServer::Step;
  ScriptedServer server(io, {{Step::answer_then_close}, {Step::answer}});
  HttpClient client(io.get_executor());
  REQUIRE(request(io, client, Method::get, server.url() + "/1").ok());
  REQUIRE(request(io, client, Method::post, server.url() + "/2", {}, "x").ok());
  CHECK(server.connections() == 2);
  CHECK(server.seen(0).requests == 1);  // the second request never went to the closed connection ...
  CHECK(server.seen(1).requests == 1);  // ... but to a fresh one
}

// The idle-timeout race needs a connection idle for a while
// (ClientOptions::idle_close_retry_after); the tests do not wait a second.
ClientOptions retry_at_once() {
  ClientOptions o;
  o.idle_close_retry_after = 0ms;
  return o;
}

TEST_CASE("keep-alive: a reused connection found closed mid-request is retried once on a new one",
          "[common][http][keepalive]") {
  asio::io_context io;
  using Step = ScriptedServer::Step;
  HttpClient client(io.get_executor(), retry_at_once());
  SECTION("EOF at the first read") {
    ScriptedServer server(io, {{Step::answer, Step::close_unanswered}, {Step::answer}});
    REQUIRE(request(io, client, Method::get, server.url() + "/1").ok());
    auto r = request(io, client, Method::put, server.url() + "/2", {}, "alert");
    INFO(r.error);
    CHECK(r.ok());
    CHECK(server.connections() == 2);
    CHECK(client.stats().retried == 1);
  }
  SECTION("a POST is not replayed: the caller decides (Mattermost looks for its post first)") {
    ScriptedServer server(io, {{Step::answer, Step::close_unanswered}, {Step::answer}});
    REQUIRE(request(io, client, Method::get, server.url() + "/1").ok());
    auto r = request(io, client, Method::post, server.url() + "/2", {}, "alert");
    CHECK(r.failure == Failure::receive);
    CHECK(server.connections() == 1);
    CHECK(client.stats().retried == 0);
  }
  SECTION("reset") {
    ScriptedServer server(io, {{Step::answer, Step::reset_unanswered}, {Step::answer}});
    REQUIRE(request(io, client, Method::get, server.url() + "/1").ok());
    auto r = request(io, client, Method::get, server.url() + "/2");
    INFO(r.error);
    CHECK(r.ok());
    CHECK(client.stats().retried == 1);
  }
  SECTION("only once: a fresh connection's failure is the answer") {
    ScriptedServer server(io, {{Step::answer, Step::close_unanswered}, {Step::close_unanswered}});
    REQUIRE(request(io, client, Method::get, server.url() + "/1").ok());
    auto r = request(io, client, Method::get, server.url() + "/2");
    CHECK(r.failure == Failure::receive);
    CHECK(server.connections() == 2);
    CHECK(client.stats().retried == 1);
  }
  SECTION("a fresh connection is never retried") {
    ScriptedServer server(io, {{Step::close_unanswered}, {Step::answer}});
    auto r = request(io, client, Method::get, server.url() + "/1");
    CHECK(r.failure == Failure::receive);
    CHECK(server.connections() == 1);
    CHECK(client.stats().retried == 0);
  }
}

TEST_CASE("keep-alive: with the fake server, a dropped request on a reused connection", "[common][http][keepalive]") {
  std::atomic<int> calls{0};
  FakeHttpServer server([&calls](const FakeRequest& r) {
    FakeResponse res = echo(r);
    res.drop = ++calls == 2;  // the server drops the second request, as if it had closed the connection
    return res;
  });
  asio::io_context io;
  SECTION("idle long enough for an idle timeout: retried") {
    HttpClient client(io.get_executor(), retry_at_once());
    REQUIRE(request(io, client, Method::get, server.url() + "/1").ok());
    auto r = request(io, client, Method::get, server.url() + "/2");
    INFO(r.error);
    CHECK(r.ok());
    CHECK(r.body == "GET /2");
    CHECK(server.connection_count() == 2);
    CHECK(server.request_count() == 3);
  }
  SECTION("busy a moment ago: a server dying mid-request, reported") {
    HttpClient client(io.get_executor());  // idle_close_retry_after: 1 s
    REQUIRE(request(io, client, Method::get, server.url() + "/1").ok());
    auto r = request(io, client, Method::put, server.url() + "/2", {}, "x");
    CHECK(r.failure == Failure::receive);
    CHECK(server.request_count() == 2);
    CHECK(client.stats().retried == 0);
    // The next request takes a new connection.
    CHECK(request(io, client, Method::get, server.url() + "/3").ok());
    CHECK(server.connection_count() == 2);
  }
}

TEST_CASE("keep-alive: idle connections are capped in number and age", "[common][http][keepalive]") {
  FakeHttpServer server(echo);
  asio::io_context io;
  ClientOptions o;
  o.max_idle_per_destination = 2;
  o.max_idle_age = 150ms;
  HttpClient client(io.get_executor(), o);

  // Four requests at once: four connections, two kept.
  int done = 0;
  for (int i = 0; i < 4; ++i)
    asio::co_spawn(io, client.async_request(Method::get, server.url() + "/", {}, {}, 5s),
                   [&done](std::exception_ptr, HttpResult r) { done += r.ok(); });
  REQUIRE(test::run_io_until(io, [&] { return done == 4; }));
  CHECK(server.connection_count() == 4);
  CHECK(client.idle_connections() == 2);
  REQUIRE(request(io, client, Method::get, server.url() + "/").ok());
  CHECK(server.connection_count() == 4);

  // Past the idle age: a new connection.
  let_time_pass(io, 300ms);
  REQUIRE(request(io, client, Method::get, server.url() + "/").ok());
  CHECK(server.connection_count() == 5);
  CHECK(client.idle_connections() == 1);
}

TEST_CASE("keep-alive: destinations are pooled apart", "[common][http][keepalive]") {
  FakeHttpServer a(echo), b(echo);
  asio::io_context io;
  HttpClient client(io.get_executor());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(request(io, client, Method::get, a.url() + "/").ok());
    REQUIRE(request(io, client, Method::get, b.url() + "/").ok());
  }
  CHECK(a.connection_count() == 1);
  CHECK(b.connection_count() == 1);
  CHECK(client.idle_connections() == 2);
}

TEST_CASE("keep-alive: idle connections close with the client", "[common][http][keepalive]") {
  asio::io_context io;
  ScriptedServer server(io, {{ScriptedServer::Step::answer}});
  auto client = std::make_unique<HttpClient>(io.get_executor());
  REQUIRE(request(io, *client, Method::get, server.url() + "/").ok());
  CHECK_FALSE(server.seen(0).closed_by_client);
  client.reset();
  CHECK(test::run_io_until(io, [&] { return server.seen(0).closed_by_client; }, 3s));
}

TEST_CASE("keep-alive over TLS: one handshake for many requests, per host name", "[common][http][keepalive][tls]") {
  test::TempDir dir;
  const auto cert = test::make_test_certificate("DNS:localhost,IP:127.0.0.1");
  test::write_file(dir / "ca.pem", cert.cert_pem);
  FakeHttpServer server(echo, cert);
  asio::io_context io;
  ClientOptions trusting;
  trusting.ca_files = {dir / "ca.pem"};
  HttpClient client(io.get_executor(), trusting);
  const auto port = std::to_string(server.port());
  for (int i = 0; i < 4; ++i) {
    auto r = request(io, client, Method::post, "https://localhost:" + port + "/s" + std::to_string(i), {}, "x");
    INFO(r.error);
    REQUIRE(r.ok());
    CHECK(r.body == "POST /s" + std::to_string(i));
  }
  CHECK(server.connection_count() == 1);
  CHECK(client.stats().reused == 3);
  // Another name for the same address is another destination: its own
  // handshake, its own certificate check.
  REQUIRE(request(io, client, Method::get, "https://127.0.0.1:" + port + "/").ok());
  CHECK(server.connection_count() == 2);
}
