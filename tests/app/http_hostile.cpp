// Hostile clients on the HTTP port (issue 16, items 3 and 4): slow
// connections beyond the caps, and large bodies posted without a token. The
// attacking connections are opened by the test itself on loopback, from
// other loopback addresses (127.0.0.2...) than the normal client
// (127.0.0.1), so the per-address cap can tell them apart. Client and server
// share this process's file limit, which the tests lower (and restore) so
// that a few hundred connections reproduce what 1100 did under 1024.
#include "http_api_harness.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

using namespace relance;
using relance::test::ApiHarness;
using relance::test::api_config;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The process's soft file limit, lowered to leave `headroom` more
// descriptors than are open now, for the life of the object.
class FileLimit {
public:
  explicit FileLimit(std::size_t headroom) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    std::size_t open = 0, highest = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      ++open;
      highest = std::max<std::size_t>(highest, std::stoul(e.path().filename().string()));
    }
    rlimit lowered = saved_;
    lowered.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, std::max(highest + 1, open + headroom));
    setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~FileLimit() { setrlimit(RLIMIT_NOFILE, &saved_); }
  FileLimit(const FileLimit&) = delete;
  FileLimit& operator=(const FileLimit&) = delete;

private:
  rlimit saved_{};
};

// Log lines that contain a text, while the object lives.
class LogLines {
public:
  LogLines() : sink_(std::make_shared<Sink>()) { spdlog::default_logger()->sinks().push_back(sink_); }
  ~LogLines() { std::erase(spdlog::default_logger()->sinks(), sink_); }
  LogLines(const LogLines&) = delete;
  LogLines& operator=(const LogLines&) = delete;
  int count(const std::string& text) const {
    std::lock_guard lock(sink_->lines_mutex);
    return int(std::count_if(sink_->lines.begin(), sink_->lines.end(),
                             [&](const std::string& l) { return l.find(text) != std::string::npos; }));
  }

private:
  struct Sink : spdlog::sinks::base_sink<std::mutex> {
    std::mutex lines_mutex;
    std::vector<std::string> lines;
    void sink_it_(const spdlog::details::log_msg& msg) override {
      std::lock_guard lock(lines_mutex);
      lines.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}
  };
  std::shared_ptr<Sink> sink_;
};

// A connection from loopback address `from` (127.0.0.x) to the server; an
// empty optional when this process is out of descriptors.
asio::awaitable<std::optional<tcp::socket>> connect_from(const char* from, std::uint16_t port) {
  tcp::socket s(co_await asio::this_coro::executor);
  boost::system::error_code ec;
  s.open(tcp::v4(), ec);
  if (!ec) s.bind({asio::ip::make_address(from), 0}, ec);
  if (ec) co_return std::nullopt;
  auto [cec] = co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, use_tuple);
  if (cec) co_return std::nullopt;
  co_return std::optional<tcp::socket>(std::move(s));
}

// The status line and headers of one answer ("" if none came).
asio::awaitable<std::string> read_head(tcp::socket& s) {
  std::string buffer;
  auto [ec, n] = co_await asio::async_read_until(s, asio::dynamic_buffer(buffer), "\r\n\r\n", use_tuple);
  if (ec) co_return std::string{};
  co_return buffer.substr(0, n);
}

// GET /healthz from 127.0.0.1 on a new connection: its status line, or why it failed.
asio::awaitable<std::string> healthz(std::uint16_t port) {
  auto s = co_await connect_from("127.0.0.1", port);
  if (!s) co_return std::string("no connection");
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  auto [ec, n] = co_await asio::async_write(*s, asio::buffer(req), use_tuple);
  if (ec) co_return "write: " + ec.message();
  auto head = co_await read_head(*s);
  co_return head.substr(0, head.find("\r\n"));
}

std::size_t status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoul(line.substr(field.size() + 1));
  return 0;
}

// Resets VmHWM (the peak resident size) to the current size (Linux >= 4.0).
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace

TEST_CASE("http port: slow clients beyond the caps are refused, a normal request still gets through",
          "[http][hostile]") {
  ApiHarness h(api_config(test::api_token, "max_connections = 40\nmax_connections_per_client = 10\n"));
  const auto port = h.server->port();
  LogLines log;
  std::vector<tcp::socket> slow;
  std::size_t opened = 0;
  std::string during, after_global;
  {
    // 250 slow connections from one address: without caps the server holds
    // one descriptor for each, and client and server together run out.
    FileLimit limit(400);
    auto attack = [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 250; ++i) {
        auto s = co_await connect_from("127.0.0.2", port);
        if (!s) continue;
        // One byte of a request line, and nothing more: a slow client.
        co_await asio::async_write(*s, asio::buffer(std::string("G")), use_tuple);
        slow.push_back(std::move(*s));
      }
      opened = slow.size();
      during = co_await healthz(port);
      // From several addresses, each within its cap but together over the
      // global one: the oldest of those still sending their header make room.
      for (const char* from : {"127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"})
        for (int i = 0; i < 10; ++i) {
          auto s = co_await connect_from(from, port);
          if (!s) continue;
          co_await asio::async_write(*s, asio::buffer(std::string("G")), use_tuple);
          slow.push_back(std::move(*s));
        }
      after_global = co_await healthz(port);
    };
    test::run_awaitable(h.io, attack(), std::chrono::seconds{10});
    slow.clear();
  }
  INFO("slow connections opened: " << opened);
  CHECK(during == "HTTP/1.1 200 OK");
  CHECK(after_global == "HTTP/1.1 200 OK");
  // 240 refusals and 10 evictions, logged once per interval (10 s), not once each.
  CHECK(log.count("accept") == 0);
  CHECK(log.count("over the cap") <= 2);
}

namespace {

struct Flood {
  std::vector<std::string> answers;  // status lines
  std::string healthz_meanwhile;
};

// `n` connections from 127.0.0.2 each send `head` then `body` (one buffer
// for all: the client side does not grow with them) at once, and read the
// answer; meanwhile a normal client asks for /healthz.
asio::awaitable<Flood> flood(std::uint16_t port, const std::string& head, const std::string& body, int n) {
  Flood out;
  std::vector<tcp::socket> conns;
  for (int i = 0; i < n; ++i) {
    auto s = co_await connect_from("127.0.0.2", port);
    if (s) conns.push_back(std::move(*s));
  }
  int pending = int(conns.size());
  for (auto& s : conns)
    asio::co_spawn(
        s.get_executor(),
        [&]() -> asio::awaitable<void> {
          std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
          co_await asio::async_write(s, bufs, use_tuple);
          auto answer = co_await read_head(s);
          out.answers.push_back(answer.substr(0, answer.find("\r\n")));
          --pending;
        },
        asio::detached);
  out.healthz_meanwhile = co_await healthz(port);
  asio::steady_timer poll(co_await asio::this_coro::executor);
  while (pending > 0) {
    poll.expires_after(std::chrono::milliseconds{5});
    co_await poll.async_wait(use_tuple);
  }
  co_return out;
}

constexpr int attackers = 200;
constexpr std::size_t body_size = 1 << 20;

std::string big_body_config() {
  return std::string("[http]\nlisten = \"127.0.0.1\"\nport = 0\nmax_body_bytes = 1048576\napi_token = \"") +
         test::api_token + "\"\nmax_connections_per_client = 256\n";
}

}  // namespace

TEST_CASE("http port: large bodies posted without a token are not read, memory stays bounded",
          "[http][hostile]") {
  ApiHarness h(big_body_config());
  const std::string body(body_size, 'x');
  const std::string head = "POST /api/v1/learners HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(body_size) + "\r\n\r\n";
  const auto rss_before = status_kib("VmRSS");
  reset_peak_rss();
  const auto got = test::run_awaitable(h.io, flood(h.server->port(), head, body, attackers), std::chrono::seconds{20});
  const auto peak = status_kib("VmHWM");
  INFO("RSS before " << rss_before / 1024 << " MB, peak during " << peak / 1024 << " MB");
  CHECK(got.healthz_meanwhile == "HTTP/1.1 200 OK");
  REQUIRE(got.answers.size() == std::size_t(attackers));
  CHECK(std::count(got.answers.begin(), got.answers.end(), "HTTP/1.1 401 Unauthorized") == attackers);
  // 200 MB posted (before: a peak of 226 MB over 24); the bodies are never held.
  CHECK(peak < rss_before + 48 * 1024);
  // And the service still works for a client with the token.
  auto ok = h.post("/api/v1/learners", R"({"learners":[{"id":"L2","cohort":"permis-b"}]})");
  CHECK(ok.status == 200);
}

TEST_CASE("http port: a hook's guard refuses a request without its secret before reading the body",
          "[http][hostile]") {
  ApiHarness h(big_body_config());
  int handled = 0;
  // As the SMS hooks do: the secret in the query, checked on the header.
  h.server->add_async_hook(
      "/hooks/test", [&](app::HookRequest, std::function<void(app::HookResponse)> respond) {
        ++handled;
        respond(app::HookResponse{200, "text/plain", "ok\n"});
      },
      [](const app::HookRequest& head) -> std::optional<app::HookResponse> {
        if (head.target.find("secret=right") == std::string::npos) return app::HookResponse{403, "text/plain", "forbidden\n"};
        return std::nullopt;
      });
  const std::string body(body_size, 'x');
  const std::string head = "POST /hooks/test?secret=wrong HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                           std::to_string(body_size) + "\r\n\r\n";
  const auto rss_before = status_kib("VmRSS");
  reset_peak_rss();
  const auto got = test::run_awaitable(h.io, flood(h.server->port(), head, body, attackers), std::chrono::seconds{20});
  const auto peak = status_kib("VmHWM");
  INFO("RSS before " << rss_before / 1024 << " MB, peak during " << peak / 1024 << " MB");
  CHECK(got.healthz_meanwhile == "HTTP/1.1 200 OK");
  REQUIRE(got.answers.size() == std::size_t(attackers));
  CHECK(std::count(got.answers.begin(), got.answers.end(), "HTTP/1.1 403 Forbidden") == attackers);
  CHECK(handled == 0);
  CHECK(peak < rss_before + 48 * 1024);
  auto ok = h.request(net::Method::post, "/hooks/test?secret=right", "x", std::nullopt);
  CHECK(ok.status == 200);
  CHECK(handled == 1);
}

TEST_CASE("http port: bodies beyond the in-flight budget get 503 with Retry-After", "[http][hostile]") {
  ApiHarness h(std::string("[http]\nlisten = \"127.0.0.1\"\nport = 0\nmax_body_bytes = 32768\napi_token = \"") +
               test::api_token + "\"\nmax_body_bytes_in_flight = 65536\n");
  const auto port = h.server->port();
  const std::string held_head = std::string("POST /api/v1/learners HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ") +
                                test::api_token + "\r\nContent-Type: application/json\r\nContent-Length: 32768\r\n\r\n{";
  const std::string probe_body = R"({"learners":[{"id":"L2","cohort":"permis-b"}]})";
  const std::string probe = std::string("POST /api/v1/learners HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ") +
                            test::api_token + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                            std::to_string(probe_body.size()) + "\r\n\r\n" + probe_body;
  std::string refused, health, accepted;
  auto exchange = [&]() -> asio::awaitable<void> {
    // Two authorised uploads that stop half-way hold the whole budget.
    std::vector<tcp::socket> held;
    for (const char* from : {"127.0.0.2", "127.0.0.3"}) {
      auto s = co_await connect_from(from, port);
      co_await asio::async_write(*s, asio::buffer(held_head), use_tuple);
      held.push_back(std::move(*s));
    }
    // A round trip after them: their headers have been read by now.
    health = co_await healthz(port);
    auto s = co_await connect_from("127.0.0.4", port);
    co_await asio::async_write(*s, asio::buffer(probe), use_tuple);
    refused = co_await read_head(*s);
    // An upload ends (its client gives up): the budget is free again.
    held.pop_back();
    asio::steady_timer poll(co_await asio::this_coro::executor);
    for (int i = 0; i < 400 && accepted.rfind("HTTP/1.1 200", 0) != 0; ++i) {
      auto again = co_await connect_from("127.0.0.4", port);
      co_await asio::async_write(*again, asio::buffer(probe), use_tuple);
      accepted = co_await read_head(*again);
      poll.expires_after(std::chrono::milliseconds{5});
      co_await poll.async_wait(use_tuple);
    }
  };
  test::run_awaitable(h.io, exchange(), std::chrono::seconds{10});
  CHECK(health == "HTTP/1.1 200 OK");
  CHECK_THAT(refused, Catch::StartsWith("HTTP/1.1 503"));
  CHECK_THAT(refused, Catch::Contains("Retry-After: "));
  CHECK_THAT(accepted, Catch::StartsWith("HTTP/1.1 200"));
}
