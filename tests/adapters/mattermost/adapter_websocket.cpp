// net::WebSocket (adapters/common) against the fake Mattermost's event
// stream: upgrade refusals, TLS with a private CA, pings, and the idle
// watchdog (pongs count as life; silence does not).
#include "adapters/common/websocket.hpp"
#include "test_support.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/fake_mattermost.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace relance;
using namespace std::chrono_literals;
using nlohmann::json;
namespace asio = boost::asio;

namespace {

net::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

}  // namespace

TEST_CASE("websocket client: connect, read, refusals", "[mattermost][adapter][ws]") {
  test::FakeMattermost mm;
  asio::io_context io;

  net::WebSocket refused(io.get_executor());
  auto r = test::run_awaitable(io, refused.connect(mm.websocket_url(), bearer("wrongtokenwrongtokenwrongt"), 5s), 10s);
  CHECK(r.failure == net::Failure::connect);
  CHECK(r.status == 401);
  CHECK_FALSE(refused.is_open());

  net::WebSocket nowhere(io.get_executor());
  auto n = test::run_awaitable(io, nowhere.connect("ws://127.0.0.1:1/api/v4/websocket", {}, 2s), 10s);
  CHECK(n.failure == net::Failure::connect);
  net::WebSocket bad(io.get_executor());
  CHECK(test::run_awaitable(io, bad.connect("ftp://x/", {}, 2s), 10s).failure == net::Failure::bad_url);

  net::WebSocket ws(io.get_executor());
  auto ok = test::run_awaitable(io, ws.connect(mm.websocket_url(), bearer(mm.options().bot_token), 5s), 10s);
  REQUIRE(ok.ok());
  CHECK(ok.status == 101);
  auto hello = test::run_awaitable(io, ws.read(), 10s);
  REQUIRE(hello.ok());
  CHECK(json::parse(hello.text)["event"] == "hello");
  auto sent = test::run_awaitable(io, ws.write(json{{"seq", 1}, {"action", "get_statuses"}}.dump(), 5s), 10s);
  CHECK(sent.ok());
  auto reply = test::run_awaitable(io, ws.read(), 10s);
  REQUIRE(reply.ok());
  CHECK(json::parse(reply.text)["seq_reply"] == 1);

  mm.close_websockets();
  auto end = test::run_awaitable(io, ws.read(), 10s);
  CHECK_FALSE(end.ok());
  CHECK(end.closed);
  CHECK_FALSE(ws.is_open());
}

TEST_CASE("websocket client: wss with a private CA", "[mattermost][adapter][ws]") {
  test::TempDir dir;
  test::FakeMattermost::Options o;
  o.tls = test::make_test_certificate("DNS:localhost,IP:127.0.0.1");
  test::write_file(dir / "ca.pem", o.tls->cert_pem);
  test::FakeMattermost mm(o);
  asio::io_context io;

  net::WebSocket untrusted(io.get_executor(), net::ClientOptions{});
  auto no = test::run_awaitable(io, untrusted.connect(mm.websocket_url(), bearer(o.bot_token), 5s), 10s);
  CHECK(no.failure == net::Failure::tls);

  net::ClientOptions copts;
  copts.ca_files = {dir / "ca.pem"};
  net::WebSocket ws(io.get_executor(), copts);
  REQUIRE(test::run_awaitable(io, ws.connect(mm.websocket_url(), bearer(o.bot_token), 5s), 10s).ok());
  auto hello = test::run_awaitable(io, ws.read(), 10s);
  REQUIRE(hello.ok());
  CHECK(json::parse(hello.text)["event"] == "hello");
  CHECK(test::run_awaitable(io, ws.ping(5s), 10s).ok());
}

TEST_CASE("websocket client: pongs keep a quiet connection alive, silence ends it", "[mattermost][adapter][ws]") {
  test::FakeMattermost mm;
  asio::io_context io;
  net::WebSocket ws(io.get_executor());
  REQUIRE(test::run_awaitable(io, ws.connect(mm.websocket_url(), bearer(mm.options().bot_token), 5s, 400ms), 10s).ok());
  REQUIRE(test::run_awaitable(io, ws.read(), 10s).ok());  // hello

  // A reader waiting on a quiet stream while we ping every 60 ms: well past
  // the 400 ms idle deadline, the connection is still up.
  bool read_done = false;
  net::WebSocketMessage last;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    last = co_await ws.read();
    read_done = true;
  }, asio::detached);
  auto pinger = [&]() -> asio::awaitable<int> {
    asio::steady_timer t(io);
    int n = 0;
    for (int i = 0; i < 15; ++i) {
      t.expires_after(60ms);
      co_await t.async_wait(asio::use_awaitable);
      if ((co_await ws.ping(2s)).ok()) ++n;
    }
    co_return n;
  };
  CHECK(test::run_awaitable(io, pinger(), 10s) == 15);
  CHECK_FALSE(read_done);
  CHECK(ws.is_open());
  CHECK(ws.pongs() >= 10);

  // No more pings: nothing arrives, the watchdog ends the read.
  REQUIRE(test::run_io_until(io, [&] { return read_done; }, 5s));
  CHECK(last.failure == net::Failure::timeout);
  CHECK_FALSE(ws.is_open());
}
