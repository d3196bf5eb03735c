// Asynchronous pacing toward one server: a RateGate (pure) driven by a timer.
// Every adapter sending to a server shares one Pacer for it: co_await
// wait_turn() before each request, then on_answer(result) with what came
// back, exactly once per turn, failures included (the gate counts requests in
// flight). Use it from one thread (the adapters' strand); it must outlive its
// waiters.
#pragma once

#include "adapters/common/http_client.hpp"
#include "adapters/common/rate_gate.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <vector>

namespace relance::net {

// What an answer says about the server's limit: X-Ratelimit-Limit/-Remaining/
// -Reset (Mattermost), Retry-After (seconds or HTTP-date), and a Matrix
// 429 body's retry_after_ms (preferred over the whole-second header when both
// are there: it is the more precise of the two).
RateSignal rate_signal(const HttpResult& r, std::chrono::system_clock::time_point now);

class Pacer {
public:
  explicit Pacer(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
  // Waits until the gate lets one more request leave, and counts it as sent.
  boost::asio::awaitable<void> wait_turn();
  // Feeds back an answer (any status), or a failure without one. Waiters
  // look again at once: the answer may let them go sooner.
  void on_answer(const HttpResult& r);
  const RateGate& gate() const { return gate_; }
  std::size_t waiting() const { return waiting_.size(); }

private:
  void wake_all();

  boost::asio::any_io_executor ex_;
  RateGate gate_;
  std::vector<boost::asio::steady_timer*> waiting_;  // the sleeping waiters' timers
};

}  // namespace relance::net
