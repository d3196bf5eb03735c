#include "adapters/common/pacer.hpp"

#include "adapters/common/retry.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <charconv>

namespace relance::net {

namespace {

std::optional<long> header_long(const HttpResult& r, std::string_view name) {
  auto v = r.header(name);
  if (!v) return std::nullopt;
  long x = 0;
  const char* b = v->data();
  const char* e = b + v->size();
  while (b < e && *b == ' ') ++b;
  auto [p, ec] = std::from_chars(b, e, x);
  if (ec != std::errc{} || p == b) return std::nullopt;
  return x;
}

}  // namespace

RateSignal rate_signal(const HttpResult& r, std::chrono::system_clock::time_point now) {
  using std::chrono::milliseconds;
  RateSignal s;
  s.status = r.status;
  s.limit = header_long(r, "X-Ratelimit-Limit");
  s.remaining = header_long(r, "X-Ratelimit-Remaining");
  if (auto reset = header_long(r, "X-Ratelimit-Reset")) s.reset_in = milliseconds(*reset * 1000);
  if (auto ra = r.header("Retry-After"))
    if (auto secs = parse_retry_after(*ra, now)) s.retry_after = std::chrono::duration_cast<milliseconds>(*secs);
  if (r.status == 429 && !r.body.empty() && r.body.front() == '{') {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("retry_after_ms") && j["retry_after_ms"].is_number_integer())
      s.retry_after = milliseconds(j["retry_after_ms"].get<long long>());
  }
  return s;
}

boost::asio::awaitable<void> Pacer::wait_turn() {
  using clock = RateGate::clock;
  // Several coroutines may wait at once (one per destination): each re-checks
  // after its sleep, since another may have taken the slot meanwhile.
  for (;;) {
    const auto now = clock::now();
    const auto at = gate_.next_send(now);
    if (at <= now) {
      gate_.on_sent(now);
      co_return;
    }
    boost::asio::steady_timer t(ex_, at);
    co_await t.async_wait(boost::asio::use_awaitable);
  }
}

void Pacer::on_answer(const HttpResult& r) {
  if (!r.answered()) return;
  gate_.on_answer(rate_signal(r, std::chrono::system_clock::now()), RateGate::clock::now());
}

}  // namespace relance::net
