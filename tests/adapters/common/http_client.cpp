// The shared HTTP client against a fake server on 127.0.0.1: answers,
// failures as values, deadlines.
#include "adapters/common/http_client.hpp"
#include "test_support.hpp"
#include "tests/support/fake_http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <fstream>

using namespace relance;
using namespace relance::net;
using namespace std::chrono_literals;
using relance::test::FakeHttpServer;
using relance::test::FakeRequest;
using relance::test::FakeResponse;

namespace {

HttpResult request(boost::asio::io_context& io, HttpClient& client, Method m, std::string url, Headers headers = {},
                   std::string body = {}, std::chrono::milliseconds timeout = 5s) {
  return test::run_awaitable(io, client.async_request(m, std::move(url), std::move(headers), std::move(body), timeout));
}

}  // namespace

TEST_CASE("http client sends the request and returns the answer", "[common][http]") {
  FakeHttpServer server([](const FakeRequest& r) {
    FakeResponse res;
    res.status = r.method == "POST" ? 201 : 200;
    res.headers = {{"X-Echo-Path", r.target}, {"Retry-After", "7"}};
    res.body = r.body.empty() ? "{\"empty\":true}" : r.body;
    return res;
  });
  boost::asio::io_context io;
  HttpClient client(io.get_executor());

  auto get = request(io, client, Method::get, server.url() + "/a/b?x=1&y=%20");
  REQUIRE(get.answered());
  CHECK(get.ok());
  CHECK(get.status == 200);
  CHECK(get.body == "{\"empty\":true}");
  CHECK(get.header("x-echo-path") == "/a/b?x=1&y=%20");
  CHECK(get.header("RETRY-AFTER") == "7");

  auto post = request(io, client, Method::post, server.url(), {{"Content-Type", "application/json"}, {"X-Custom", "1"}},
                      "{\"a\":1}");
  CHECK(post.status == 201);
  CHECK(post.body == "{\"a\":1}");

  const auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].path == "/a/b");
  CHECK(seen[0].header("Host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(seen[0].header("User-Agent") == "relance");
  CHECK(seen[1].target == "/");
  CHECK(seen[1].header("content-type") == "application/json");
  CHECK(seen[1].header("x-custom") == "1");
  CHECK(seen[1].header("content-length") == "7");
}

TEST_CASE("http client reports an error status as an answer, not a failure", "[common][http]") {
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse{429, "text/plain", {{"Retry-After", "3"}}, "slow down"}; });
  boost::asio::io_context io;
  HttpClient client(io.get_executor());
  auto r = request(io, client, Method::get, server.url() + "/x");
  CHECK(r.answered());
  CHECK_FALSE(r.ok());
  CHECK(r.status == 429);
  CHECK(r.header("Retry-After") == "3");
}

TEST_CASE("http client failures come back as values", "[common][http]") {
  boost::asio::io_context io;
  HttpClient client(io.get_executor());

  SECTION("bad urls") {
    for (const char* url : {"not a url", "ftp://example.org/", "http://", "http://127.0.0.1:99999/"}) {
      INFO(url);
      auto r = request(io, client, Method::get, url);
      CHECK(r.failure == Failure::bad_url);
      CHECK_FALSE(r.error.empty());
    }
  }
  SECTION("connection refused") {
    // A port that was free a moment ago: bind, note it, close.
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = a.local_endpoint().port();
    a.close();
    auto r = request(io, client, Method::get, "http://127.0.0.1:" + std::to_string(port) + "/");
    CHECK(r.failure == Failure::connect);
    CHECK_THAT(r.error, Catch::Contains("127.0.0.1"));
  }
  SECTION("a server that never answers hits the deadline") {
    FakeHttpServer server([](const FakeRequest&) {
      FakeResponse res;
      res.hang = true;
      return res;
    });
    const auto start = std::chrono::steady_clock::now();
    auto r = request(io, client, Method::get, server.url() + "/slow", {}, {}, 300ms);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(r.failure == Failure::timeout);
    CHECK(took >= 250ms);
    CHECK(took < 3s);
  }
  SECTION("a body over the limit") {
    FakeHttpServer server([](const FakeRequest&) { return FakeResponse{200, "text/plain", {}, std::string(4096, 'x')}; });
    ClientOptions options;
    options.max_response_bytes = 1024;
    HttpClient small(io.get_executor(), options);
    auto r = request(io, small, Method::get, server.url());
    CHECK(r.failure == Failure::too_large);
  }
  SECTION("TLS to a plain HTTP server fails the handshake") {
    FakeHttpServer server([](const FakeRequest&) { return FakeResponse{}; });
    auto r = request(io, client, Method::get, "https://127.0.0.1:" + std::to_string(server.port()) + "/");
    CHECK(r.failure == Failure::tls);
  }
}

TEST_CASE("http client refuses an unreadable CA file at construction", "[common][http]") {
  boost::asio::io_context io;
  ClientOptions options;
  options.ca_files = {"/nonexistent/ca.pem"};
  CHECK_THROWS_WITH(HttpClient(io.get_executor(), options),
                    Catch::Contains("/nonexistent/ca.pem"));
}

TEST_CASE("http client over TLS: trusts a configured CA file, checks the host name", "[common][http][tls]") {
  test::TempDir dir;
  const auto cert = test::make_test_certificate("DNS:localhost,IP:127.0.0.1");
  test::write_file(dir / "ca.pem", cert.cert_pem);
  FakeHttpServer server([](const FakeRequest& r) { return FakeResponse{200, "text/plain", {}, "secure " + r.path}; },
                        cert);
  REQUIRE_THAT(server.url(), Catch::StartsWith("https://"));
  boost::asio::io_context io;
  ClientOptions trusting;
  trusting.ca_files = {dir / "ca.pem"};
  HttpClient client(io.get_executor(), trusting);
  const auto port = std::to_string(server.port());

  SECTION("by IP address (certificate IP SAN, no SNI)") {
    auto r = request(io, client, Method::get, "https://127.0.0.1:" + port + "/a");
    INFO(r.error);
    REQUIRE(r.answered());
    CHECK(r.status == 200);
    CHECK(r.body == "secure /a");
  }
  SECTION("by name (resolver, SNI, DNS SAN)") {
    auto r = request(io, client, Method::post, "https://localhost:" + port + "/b", {}, "x");
    INFO(r.error);
    REQUIRE(r.answered());
    CHECK(r.body == "secure /b");
  }
  SECTION("an unknown CA is refused") {
    HttpClient system_only(io.get_executor());
    auto r = request(io, system_only, Method::get, "https://127.0.0.1:" + port + "/");
    CHECK(r.failure == Failure::tls);
    CHECK_THAT(r.error, Catch::Contains("certificate"));
    CHECK(server.request_count() == 0);
  }
}

TEST_CASE("http client over TLS: a certificate for another name is refused", "[common][http][tls]") {
  test::TempDir dir;
  const auto cert = test::make_test_certificate("DNS:moodle.example.org");
  test::write_file(dir / "ca.pem", cert.cert_pem);
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse{}; }, cert);
  boost::asio::io_context io;
  ClientOptions trusting;
  trusting.ca_files = {dir / "ca.pem"};
  HttpClient client(io.get_executor(), trusting);
  for (std::string host : {"127.0.0.1", "localhost"}) {
    INFO(host);
    auto r = request(io, client, Method::get, "https://" + host + ":" + std::to_string(server.port()) + "/");
    CHECK(r.failure == Failure::tls);
  }
  CHECK(server.request_count() == 0);
}
