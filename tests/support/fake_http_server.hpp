// A small HTTP/1.1 server for tests, on 127.0.0.1 port 0, running on its own
// thread: the base of every fake (Moodle now; Mattermost, Matrix, Twilio
// next). A fake is a handler from a recorded request to a response; the server
// keeps every request for assertions. Keep-alive is honoured.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relance::test {

using FakeHeaders = std::vector<std::pair<std::string, std::string>>;

struct FakeRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: /path?query
  std::string path;    // without the query
  std::string query;   // after '?', raw
  FakeHeaders headers;
  std::string body;
  // Case-insensitive; empty when absent.
  std::string header(std::string_view name) const;
};

struct FakeResponse;

// A reply that is not ready yet: a long-poll (Matrix /sync). The handler
// returns a FakeResponse whose `long_poll` is set; the server then holds that
// request without blocking its thread (other connections keep being served)
// and calls `poll` on its own thread: at once, after every notify() from any
// thread, and once `deadline` has passed (`deadline_passed` true, where poll
// must answer). A poll that answers ends the wait.
class FakeLongPoll {
public:
  using Poll = std::function<std::optional<FakeResponse>(bool deadline_passed)>;
  FakeLongPoll(std::chrono::steady_clock::time_point deadline, Poll poll)
      : deadline_(deadline), poll_(std::move(poll)) {}
  // Something changed: poll again (any thread; a no-op once answered).
  void notify();

  // The server's side.
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  std::optional<FakeResponse> poll(bool deadline_passed) const;
  void set_waker(std::function<void()> waker);

private:
  std::chrono::steady_clock::time_point deadline_;
  Poll poll_;
  mutable std::mutex mutex_;
  std::function<void()> waker_;
};

struct FakeResponse {
  int status = 200;
  std::string content_type = "application/json";
  FakeHeaders headers;
  std::string body;
  bool hang = false;   // never answer (client timeout tests); released by stop()
  bool close = false;  // close the connection after this answer
  bool drop = false;   // close the connection without answering (a proxy or server dying)
  std::shared_ptr<FakeLongPoll> long_poll = nullptr;  // answer later (see FakeLongPoll)
};

// One accepted WebSocket connection, as a fake sees it (Mattermost's event
// stream). Thread-safe: calls are posted to the server's thread; frames go
// out in call order.
class FakeWebSocket {
public:
  virtual ~FakeWebSocket() = default;
  virtual void send(std::string text) = 0;  // one text frame
  virtual void ping() = 0;                  // a ping control frame
  virtual void close() = 0;                 // a close frame (normal closure)
  virtual void drop() = 0;                  // TCP closed with no close frame
  virtual std::size_t pongs() const = 0;    // pong frames received so far
};

// Callbacks of a WebSocket fake, all called on the server's thread.
struct FakeWebSocketHandler {
  // On an upgrade request (already recorded with the others): nullopt
  // accepts it, a response refuses it (e.g. 401).
  std::function<std::optional<FakeResponse>(const FakeRequest&)> on_upgrade;
  std::function<void(const std::shared_ptr<FakeWebSocket>&, const FakeRequest&)> on_open;
  std::function<void(const std::shared_ptr<FakeWebSocket>&, const std::string&)> on_message;  // text frames
  std::function<void(const std::shared_ptr<FakeWebSocket>&)> on_close;
  // Beast's idle timeout: a ping after half of it without traffic, the
  // connection dropped after all of it without an answer.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds{100}};
};

// A self-signed certificate made in memory (EC P-256, SHA-256), for TLS
// fakes and for checking the client's certificate verification (G4).
struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
};
// `subject_alt_names` in OpenSSL's syntax: "DNS:localhost,IP:127.0.0.1".
TestCertificate make_test_certificate(const std::string& subject_alt_names = "DNS:localhost,IP:127.0.0.1");

class FakeHttpServer {
public:
  // Called on the server's thread, one request at a time.
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  // With `tls`, the server speaks HTTPS with that certificate (url() says https).
  explicit FakeHttpServer(Handler handler, std::optional<TestCertificate> tls = std::nullopt);
  ~FakeHttpServer();  // stop()
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  std::uint16_t port() const;
  std::string url() const;  // "http://127.0.0.1:<port>" (https with TLS)
  std::vector<FakeRequest> requests() const;
  std::size_t request_count() const;
  // Connections accepted so far (keep-alive tests).
  std::size_t connection_count() const;
  // Upgrade requests (Upgrade: websocket) go to this handler instead of the
  // HTTP one. Set it before any client connects.
  void set_websocket_handler(FakeWebSocketHandler handler);
  // The server thread's executor: a fake's timers run there (with its handlers).
  boost::asio::any_io_executor executor();
  void stop();

  struct Impl;  // public so the server's coroutines (free functions) can name it

private:
  std::unique_ptr<Impl> impl_;
};

// Runs `a` on `io` (the test's own context, where the code under test lives)
// until it completes or `deadline` passes; returns its value or rethrows.
// Other work on `io` (a server's accept loop) keeps running meanwhile.
namespace detail {
template <class T>
struct AwaitResult {
  std::optional<T> value;
  std::exception_ptr error;
  bool done = false;
};
template <>
struct AwaitResult<void> {
  std::exception_ptr error;
  bool done = false;
};
void run_io_until(boost::asio::io_context& io, const bool& done, std::chrono::milliseconds deadline);
}  // namespace detail

template <class T>
T run_awaitable(boost::asio::io_context& io, boost::asio::awaitable<T> a,
                std::chrono::milliseconds deadline = std::chrono::seconds{10}) {
  auto r = std::make_shared<detail::AwaitResult<T>>();
  if constexpr (std::is_void_v<T>) {
    boost::asio::co_spawn(io, std::move(a), [r](std::exception_ptr e) {
      r->error = e;
      r->done = true;
    });
  } else {
    boost::asio::co_spawn(io, std::move(a), [r](std::exception_ptr e, T v) {
      r->error = e;
      if (!e) r->value.emplace(std::move(v));
      r->done = true;
    });
  }
  detail::run_io_until(io, r->done, deadline);
  if (!r->done) throw std::runtime_error("run_awaitable: deadline passed");
  if (r->error) std::rethrow_exception(r->error);
  if constexpr (!std::is_void_v<T>) return std::move(*r->value);
}

// Runs `io` until `cond` holds or `deadline` passes; returns cond().
bool run_io_until(boost::asio::io_context& io, const std::function<bool()>& cond,
                  std::chrono::milliseconds deadline = std::chrono::seconds{10});

}  // namespace relance::test
