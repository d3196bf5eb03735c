#include "adapters/common/pacer.hpp"

#include "adapters/common/retry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace relance::net {

namespace {

using std::chrono::milliseconds;

// Longer waits than this are not a rate limit but a broken or hostile value:
// cap them (a day) rather than overflow a duration.
constexpr long long max_wait_ms = 24LL * 3600 * 1000;

// A whole, non-negative number with nothing else but spaces around it
// ("10", " 10 "); anything else ("10abc", "-1", "1.5", "") is ignored.
std::optional<long> header_long(const HttpResult& r, std::string_view name) {
  auto v = r.header(name);
  if (!v) return std::nullopt;
  const char* b = v->data();
  const char* e = b + v->size();
  while (b < e && (*b == ' ' || *b == '\t')) ++b;
  while (e > b && (e[-1] == ' ' || e[-1] == '\t')) --e;
  long x = 0;
  auto [p, ec] = std::from_chars(b, e, x);
  if (ec != std::errc{} || p == b || p != e || x < 0) return std::nullopt;
  return x;
}

// Matrix: {"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":2000}. Any
// non-negative number (Synapse sends an integer; a float is tolerated).
std::optional<milliseconds> body_retry_after_ms(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("retry_after_ms");
  if (it == j.end() || !it->is_number()) return std::nullopt;
  const double ms = it->get<double>();
  if (!(ms >= 0)) return std::nullopt;  // negative or NaN
  return milliseconds(static_cast<long long>(std::min<double>(ms, double(max_wait_ms))));
}

}  // namespace

RateSignal rate_signal(const HttpResult& r, std::chrono::system_clock::time_point now) {
  RateSignal s;
  s.status = r.status;
  s.limit = header_long(r, "X-Ratelimit-Limit");
  s.remaining = header_long(r, "X-Ratelimit-Remaining");
  if (auto reset = header_long(r, "X-Ratelimit-Reset")) s.reset_in = milliseconds(std::min<long long>(*reset, max_wait_ms / 1000) * 1000);
  if (auto ra = r.header("Retry-After"))
    if (auto secs = parse_retry_after(*ra, now))
      s.retry_after = milliseconds(std::min<long long>(secs->count(), max_wait_ms / 1000) * 1000);
  // The body's milliseconds beat the header's whole seconds (Synapse rounds
  // the header up: 1 s for a 50 ms wait).
  if (r.status == 429)
    if (auto ms = body_retry_after_ms(r.body)) s.retry_after = *ms;
  return s;
}

boost::asio::awaitable<void> Pacer::wait_turn() {
  using clock = RateGate::clock;
  // Several coroutines may wait at once (one per destination queue): each
  // re-checks after its sleep, since another may have taken the slot
  // meanwhile, or an answer (on_answer wakes every sleeper) moved the gate.
  for (;;) {
    const auto now = clock::now();
    const auto at = gate_.next_send(now);
    if (at <= now) {
      gate_.on_sent(now);
      co_return;
    }
    boost::asio::steady_timer t(ex_, at);
    waiting_.push_back(&t);
    auto [ec] = co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)ec;  // operation_aborted: woken by on_answer; either way, look again
    std::erase(waiting_, &t);
  }
}

void Pacer::on_answer(const HttpResult& r) {
  if (r.answered())
    gate_.on_answer(rate_signal(r, std::chrono::system_clock::now()), RateGate::clock::now());
  else
    gate_.on_no_answer();
  wake_all();
}

void Pacer::wake_all() {
  for (auto* t : waiting_) t->cancel();
}

}  // namespace relance::net
