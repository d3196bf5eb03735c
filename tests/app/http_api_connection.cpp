// Connection handling of the HTTP port, with a raw socket: keep-alive, a
// request that is not HTTP, graceful stop.
#include "http_api_harness.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <vector>

using namespace relance;
using relance::test::ApiHarness;
using relance::test::api_config;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<tcp::socket> connect(std::uint16_t port) {
  tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
  co_return s;
}

// One response: head up to the blank line, then Content-Length bytes.
asio::awaitable<std::string> read_response(tcp::socket& s, std::string& buffer) {
  auto [ec, head_len] = co_await asio::async_read_until(s, asio::dynamic_buffer(buffer), "\r\n\r\n", use_tuple);
  if (ec) co_return std::string{};
  std::string head = buffer.substr(0, head_len);
  std::size_t length = 0;
  if (auto p = head.find("Content-Length: "); p != std::string::npos) length = std::stoul(head.substr(p + 16));
  if (buffer.size() < head_len + length) {
    auto missing = head_len + length - buffer.size();
    std::string more(missing, '\0');
    co_await asio::async_read(s, asio::buffer(more), asio::use_awaitable);
    buffer += more;
  }
  std::string response = buffer.substr(0, head_len + length);
  buffer.erase(0, head_len + length);
  co_return response;
}

// True when the peer closed the connection (EOF or reset), with nothing more to read.
asio::awaitable<bool> closed_by_peer(tcp::socket& s) {
  char c;
  auto [ec, n] = co_await s.async_read_some(asio::buffer(&c, 1), use_tuple);
  co_return ec && n == 0;
}

const std::string healthz_keep_alive = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
const std::string healthz_close = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

}  // namespace

TEST_CASE("http port keeps a connection alive across requests", "[http][connection]") {
  ApiHarness h(api_config());
  auto exchange = [&]() -> asio::awaitable<std::vector<std::string>> {
    auto s = co_await connect(h.server->port());
    // Pipelined: two on one connection, the second asking to close.
    co_await asio::async_write(s, asio::buffer(healthz_keep_alive + healthz_close), asio::use_awaitable);
    std::string buffer;
    std::vector<std::string> out;
    out.push_back(co_await read_response(s, buffer));
    out.push_back(co_await read_response(s, buffer));
    out.push_back((co_await closed_by_peer(s)) ? "closed" : "open");
    co_return out;
  };
  auto got = test::run_awaitable(h.io, exchange());
  REQUIRE(got.size() == 3);
  CHECK_THAT(got[0], Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(got[0], Catch::Contains("\"status\":\"ok\""));
  CHECK_THAT(got[1], Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(got[1], Catch::Contains("Connection: close"));
  CHECK(got[2] == "closed");
}

TEST_CASE("http port answers 400 to what is not HTTP, then closes", "[http][connection]") {
  ApiHarness h(api_config());
  auto exchange = [&]() -> asio::awaitable<std::vector<std::string>> {
    auto s = co_await connect(h.server->port());
    co_await asio::async_write(s, asio::buffer(std::string("HELLO THERE\r\n\r\n")), asio::use_awaitable);
    std::string buffer;
    std::vector<std::string> out;
    out.push_back(co_await read_response(s, buffer));
    out.push_back((co_await closed_by_peer(s)) ? "closed" : "open");
    co_return out;
  };
  auto got = test::run_awaitable(h.io, exchange());
  CHECK_THAT(got[0], Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(got[0], Catch::Contains("\"error\":\"bad_request\""));
  CHECK(got[1] == "closed");
}

TEST_CASE("http port stops gracefully: idle connections close, new ones are refused", "[http][connection]") {
  ApiHarness h(api_config());
  const auto port = h.server->port();
  auto exchange = [&]() -> asio::awaitable<std::vector<std::string>> {
    auto s = co_await connect(port);
    co_await asio::async_write(s, asio::buffer(healthz_keep_alive), asio::use_awaitable);
    std::string buffer;
    std::vector<std::string> out;
    out.push_back(co_await read_response(s, buffer));
    // The connection is idle, kept alive: stop the server now.
    h.server->stop();
    out.push_back((co_await closed_by_peer(s)) ? "closed" : "open");
    tcp::socket again(co_await asio::this_coro::executor);
    auto [ec] = co_await again.async_connect({asio::ip::make_address("127.0.0.1"), port}, use_tuple);
    out.push_back(ec ? "refused" : "accepted");
    co_return out;
  };
  auto got = test::run_awaitable(h.io, exchange());
  CHECK_THAT(got[0], Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(got[0], !Catch::Contains("Connection: close"));
  CHECK(got[1] == "closed");
  CHECK(got[2] == "refused");
}

namespace {

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace

TEST_CASE("http port: 300 requests, each on a connection the client leaves open, hold few descriptors",
          "[http][connection]") {
  // What Mattermost did with slash commands: a new connection per command,
  // never reused nor closed by the client. The server must let them go.
  constexpr int requests = 300;
  ApiHarness h(api_config());
  const auto before = open_descriptors();
  std::vector<tcp::socket> clients;
  auto exchange = [&]() -> asio::awaitable<int> {
    int ok = 0;
    for (int i = 0; i < requests; ++i) {
      auto s = co_await connect(h.server->port());
      co_await asio::async_write(s, asio::buffer(healthz_keep_alive), asio::use_awaitable);
      std::string buffer;
      if ((co_await read_response(s, buffer)).rfind("HTTP/1.1 200", 0) == 0) ++ok;
      clients.push_back(std::move(s));  // kept open, like the client did
    }
    co_return ok;
  };
  CHECK(test::run_awaitable(h.io, exchange(), std::chrono::seconds{30}) == requests);
  // Let the server's side of the closed connections go.
  test::run_io_until(h.io, [] { return false; }, std::chrono::milliseconds{200});
  const auto after = open_descriptors();
  // Our own `requests` client sockets are in this process too.
  const auto server_side = after - before - clients.size();
  INFO("descriptors before " << before << ", after " << after << " with " << clients.size() << " client sockets");
  CHECK(server_side <= 20);
}

TEST_CASE("http port: an idle kept-alive connection is closed after a few seconds", "[http][connection]") {
  ApiHarness h(api_config());
  auto exchange = [&]() -> asio::awaitable<std::chrono::milliseconds> {
    auto s = co_await connect(h.server->port());
    co_await asio::async_write(s, asio::buffer(healthz_keep_alive), asio::use_awaitable);
    std::string buffer;
    co_await read_response(s, buffer);
    const auto t0 = std::chrono::steady_clock::now();
    co_await closed_by_peer(s);
    co_return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  };
  // Before: kept 30 s. The deadline fails the test well before that.
  const auto idle = test::run_awaitable(h.io, exchange(), std::chrono::seconds{12});
  CHECK(idle >= std::chrono::seconds{4});
  CHECK(idle <= std::chrono::seconds{8});
}
