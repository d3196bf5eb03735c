// The pacing state machine against a simulated token bucket, on a fake clock.
#include "adapters/common/rate_gate.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

using namespace relance::net;
using namespace std::chrono_literals;
using clk = RateGate::clock;

namespace {

// A token bucket like a chat server's limiter: `rate` tokens per second, at
// most `burst`. `headers` says whether answers carry X-Ratelimit-* (Mattermost)
// or only refusals say anything (Matrix).
struct Bucket {
  double rate;
  double burst;
  bool headers;
  double tokens;
  clk::time_point last;

  Bucket(double r, double b, bool h, clk::time_point t0) : rate(r), burst(b), headers(h), tokens(b), last(t0) {}

  RateSignal request(clk::time_point now) {
    tokens = std::min(burst, tokens + rate * std::chrono::duration<double>(now - last).count());
    last = now;
    RateSignal s;
    if (tokens >= 1.0) {
      tokens -= 1.0;
      s.status = 201;
    } else {
      s.status = 429;
      // Time until one more token.
      s.retry_after = std::chrono::milliseconds(long(std::ceil((1.0 - tokens) / rate * 1000)));
    }
    if (headers) {
      s.limit = long(burst);
      s.remaining = long(std::floor(tokens));
      s.reset_in = std::chrono::milliseconds(long(std::ceil((burst - tokens) / rate * 1000)));
      if (s.status == 429) s.retry_after = s.reset_in;  // Mattermost sends the reset as Retry-After
    }
    return s;
  }
};

struct Run {
  int refused = 0;
  double seconds = 0;
};

Run send_all(Bucket& bucket, RateGate& gate, int n, clk::time_point t0) {
  Run r;
  clk::time_point now = t0;
  int sent = 0;
  while (sent < n) {
    now = gate.next_send(now);
    gate.on_sent(now);
    const RateSignal s = bucket.request(now);
    gate.on_answer(s, now);
    if (s.status == 429) ++r.refused;
    else ++sent;
  }
  r.seconds = std::chrono::duration<double>(now - t0).count();
  return r;
}

}  // namespace

TEST_CASE("rate gate with Mattermost headers: 10,000 posts at 10/s burst 100, never refused", "[net][rate]") {
  const clk::time_point t0{};
  Bucket bucket(10, 100, true, t0);
  RateGate gate;
  const Run r = send_all(bucket, gate, 10000, t0);
  CHECK(r.refused == 0);
  // (10,000 - 100 burst) / 10 per second = 990 s at the limit rate; allow 2 %.
  CHECK(r.seconds >= 990 * 0.99);
  CHECK(r.seconds <= 990 * 1.02);
}

TEST_CASE("rate gate with refusals only (Matrix): one 429 teaches the pace", "[net][rate]") {
  const clk::time_point t0{};
  Bucket bucket(10, 100, false, t0);
  RateGate gate;
  const Run r = send_all(bucket, gate, 10000, t0);
  // The first refusal, then only the rare probe while the spacing shrinks.
  CHECK(r.refused >= 1);
  CHECK(r.refused <= 60);
  CHECK(r.seconds <= 990 * 1.05);
  CHECK(gate.spacing() >= 90ms);
  CHECK(gate.spacing() <= 110ms);
}

TEST_CASE("rate gate: a stock Synapse limit (0.2/s, burst 10) is honoured", "[net][rate]") {
  const clk::time_point t0{};
  Bucket bucket(0.2, 10, false, t0);
  RateGate gate;
  const Run r = send_all(bucket, gate, 100, t0);
  CHECK(r.refused <= 5);
  CHECK(r.seconds <= (100 - 10) / 0.2 * 1.05);
}

TEST_CASE("rate gate: a long Retry-After is waited out once, not used as the pace", "[net][rate]") {
  const clk::time_point t0{};
  RateGate gate;
  gate.on_sent(t0);
  gate.on_answer(RateSignal{429, 30s, {}, {}, {}}, t0);
  CHECK(gate.next_send(t0) == t0 + 30s);
  CHECK(gate.spacing() == 0ms);
  gate.on_sent(t0 + 30s);
  gate.on_answer(RateSignal{200, {}, {}, {}, {}}, t0 + 30s);
  CHECK(gate.next_send(t0 + 30s) == t0 + 30s);
}

TEST_CASE("rate gate: Remaining 0 blocks until the reset, even on a success", "[net][rate]") {
  const clk::time_point t0{};
  RateGate gate;
  gate.on_sent(t0);
  gate.on_answer(RateSignal{201, {}, 100, 0, 2000ms}, t0);
  CHECK(gate.next_send(t0) == t0 + 2000ms);
  gate.on_answer(RateSignal{201, {}, 100, 5, 1500ms}, t0 + 2000ms);
  CHECK(gate.next_send(t0 + 2000ms) == t0 + 2000ms);
}

TEST_CASE("rate gate: sends still in flight count against Remaining", "[net][rate]") {
  const clk::time_point t0{};
  RateGate gate;
  for (int i = 0; i < 3; ++i) gate.on_sent(t0);
  // The first answer says 2 left; the two others in flight will take them.
  gate.on_answer(RateSignal{201, {}, 5, 2, 1000ms}, t0 + 10ms);
  CHECK(gate.next_send(t0 + 10ms) == t0 + 1010ms);
  // Their answers bring better news: the bucket refilled meanwhile.
  gate.on_answer(RateSignal{201, {}, 5, 3, 1000ms}, t0 + 20ms);
  CHECK(gate.next_send(t0 + 20ms) == t0 + 20ms);
  gate.on_no_answer();
  // Once the bucket is full again, the budget is its depth.
  RateGate empty;
  empty.on_sent(t0);
  empty.on_answer(RateSignal{201, {}, 5, 0, 1000ms}, t0);
  CHECK(empty.next_send(t0) == t0 + 1000ms);
  for (int i = 0; i < 5; ++i) {
    CHECK(empty.next_send(t0 + 1000ms) == t0 + 1000ms);
    empty.on_sent(t0 + 1000ms);
  }
  CHECK(empty.next_send(t0 + 1000ms) == t0 + 2000ms);
}

TEST_CASE("rate gate: refusals to one blind window widen the spacing once", "[net][rate]") {
  const clk::time_point t0{};
  RateGate gate;
  for (int i = 0; i < 8; ++i) gate.on_sent(t0);
  // Five pass, three are refused, all answered before the wait is over.
  for (int i = 0; i < 5; ++i) gate.on_answer(RateSignal{200, {}, {}, {}, {}}, t0 + 5ms);
  for (int i = 0; i < 3; ++i) gate.on_answer(RateSignal{429, 50ms, {}, {}, {}}, t0 + 6ms);
  CHECK(gate.spacing() == 50ms);
}
