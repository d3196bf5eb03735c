// net::rate_signal on recorded answers, and net::Pacer against the fake chat
// servers' token buckets: Mattermost's X-Ratelimit-* headers, Matrix's 429.
#include "adapters/common/pacer.hpp"
#include "adapters/common/retry.hpp"
#include "tests/support/fake_matrix.hpp"
#include "tests/support/fake_mattermost.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <stdexcept>

using namespace relance;
using namespace relance::net;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

HttpResult answer(int status, Headers headers, std::string body = {}) {
  HttpResult r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{*parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT")}};

}  // namespace

TEST_CASE("rate_signal reads Mattermost's X-Ratelimit-* headers", "[common][pacer]") {
  // Go canonicalises header names; the lookup ignores case anyway.
  auto s = rate_signal(answer(201, {{"X-Ratelimit-Limit", "100"}, {"x-ratelimit-remaining", "42"}, {"X-RateLimit-Reset", "7"}}), now);
  CHECK(s.status == 201);
  CHECK(s.limit == 100);
  CHECK(s.remaining == 42);
  CHECK(s.reset_in == 7000ms);
  CHECK_FALSE(s.retry_after);

  auto none = rate_signal(answer(200, {}), now);
  CHECK_FALSE(none.limit);
  CHECK_FALSE(none.remaining);
  CHECK_FALSE(none.reset_in);
}

TEST_CASE("rate_signal reads Retry-After in seconds and as an HTTP-date", "[common][pacer]") {
  CHECK(rate_signal(answer(429, {{"Retry-After", "3"}}), now).retry_after == 3000ms);
  CHECK(rate_signal(answer(503, {{"Retry-After", " 120 "}}), now).retry_after == 120s);
  CHECK(rate_signal(answer(429, {{"Retry-After", "Wed, 21 Oct 2026 07:28:05 GMT"}}), now).retry_after == 5000ms);
  // A date in the past: go now.
  CHECK(rate_signal(answer(429, {{"Retry-After", "Wed, 21 Oct 2026 07:27:00 GMT"}}), now).retry_after == 0ms);
}

TEST_CASE("rate_signal prefers a Matrix body's retry_after_ms to the whole-second header", "[common][pacer]") {
  const std::string body = R"({"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1234})";
  CHECK(rate_signal(answer(429, {{"Retry-After", "2"}}, body), now).retry_after == 1234ms);
  CHECK(rate_signal(answer(429, {}, body), now).retry_after == 1234ms);
  CHECK(rate_signal(answer(429, {}, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":50.0})"), now).retry_after == 50ms);
  // Only a refusal's body is read.
  CHECK_FALSE(rate_signal(answer(200, {}, body), now).retry_after);
  // Mattermost's plain-text 429 body is not JSON: the header stands.
  CHECK(rate_signal(answer(429, {{"Retry-After", "1"}}, "limit exceeded\n"), now).retry_after == 1000ms);
}

TEST_CASE("rate_signal ignores garbage values", "[common][pacer]") {
  for (const char* bad : {"", "abc", "10abc", "-1", "1.5", "0x10", "99999999999999999999999"}) {
    INFO('"' << bad << '"');
    auto s = rate_signal(answer(200, {{"X-Ratelimit-Limit", bad}, {"X-Ratelimit-Remaining", bad}, {"X-Ratelimit-Reset", bad}}), now);
    CHECK_FALSE(s.limit);
    CHECK_FALSE(s.remaining);
    CHECK_FALSE(s.reset_in);
  }
  for (const char* bad : {"", "soon", "-5", "1.5", "Wed, 99 Oct 2026 07:28:05 GMT"}) {
    INFO('"' << bad << '"');
    CHECK_FALSE(rate_signal(answer(429, {{"Retry-After", bad}}), now).retry_after);
  }
  for (const char* bad : {R"({"retry_after_ms":"2000"})", R"({"retry_after_ms":-5})", R"({"retry_after_ms":null})",
                          R"([1,2])", R"({"retry_after_ms":)", "<html>Too Many Requests</html>"}) {
    INFO(bad);
    CHECK(rate_signal(answer(429, {{"Retry-After", "2"}}, bad), now).retry_after == 2000ms);
  }
  // A huge but well-formed value is capped, not overflowed.
  auto huge = rate_signal(answer(429, {{"X-Ratelimit-Reset", "999999999999"}, {"X-Ratelimit-Remaining", "0"}},
                                 R"({"retry_after_ms":1e300})"), now);
  REQUIRE(huge.reset_in);
  CHECK(*huge.reset_in > 1h);
  CHECK(*huge.reset_in <= 24h);
  REQUIRE(huge.retry_after);
  CHECK(*huge.retry_after <= 24h);
}

namespace {

// Counts of what the fake server answered.
struct Tally {
  int created = 0;
  int refused = 0;
  int refused_after_first_window = 0;  // 429s to requests sent once an answer was back
  bool answered = false;
};

// Plain functions: GCC 12 cannot compile braced initialiser lists in coroutines.
Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

std::string post_body(const std::string& channel, int i) {
  nlohmann::json j;
  j["channel_id"] = channel;
  j["message"] = "alerte " + std::to_string(i);
  return j.dump();
}

// Sends `count` posts one at a time through `pacer`, each retried until created.
asio::awaitable<void> send_posts(HttpClient& http, Pacer& pacer, Tally& tally, std::string url, std::string token,
                                 std::string channel, int count) {
  for (int i = 0; i < count; ++i) {
    for (;;) {
      co_await pacer.wait_turn();
      const bool after_first = tally.answered;
      auto r = co_await http.async_request(Method::post, url, bearer(token),
                                           post_body(channel, i), 5s);
      tally.answered = true;
      pacer.on_answer(r);
      if (r.status == 201) {
        ++tally.created;
        break;
      }
      // (No REQUIRE in a coroutine: Catch's macros do not compile there.)
      if (r.status != 429) throw std::runtime_error("unexpected answer " + std::to_string(r.status) + " " + r.error);
      ++tally.refused;
      if (after_first) ++tally.refused_after_first_window;
    }
  }
}

}  // namespace

TEST_CASE("pacer against Mattermost's headers (20/s, burst 5): no 429 at all, one at a time", "[common][pacer]") {
  test::FakeMattermost::Options o;
  o.rate_per_second = 20;
  o.rate_burst = 5;
  test::FakeMattermost mm(o);
  const auto channel = mm.add_channel("alertes").id;
  asio::io_context io;
  HttpClient http(io.get_executor());
  Pacer pacer(io.get_executor());
  Tally tally;
  // 5 from the burst, then the wait for a full bucket (a whole second: the
  // reset header's unit), 5 more: about 1 s.
  test::run_awaitable(io, send_posts(http, pacer, tally, mm.api_url() + "/posts", o.bot_token, channel, 10), 20s);
  CHECK(tally.created == 10);
  CHECK(tally.refused == 0);
  CHECK(mm.posts().size() == 10);
  CHECK(mm.server().connection_count() == 1);  // keep-alive
}

TEST_CASE("pacer against Mattermost's headers: concurrent waiters, 429 only in the first window", "[common][pacer]") {
  test::FakeMattermost::Options o;
  o.rate_per_second = 20;
  o.rate_burst = 5;
  test::FakeMattermost mm(o);
  const auto channel = mm.add_channel("alertes").id;
  asio::io_context io;
  HttpClient http(io.get_executor());
  Pacer pacer(io.get_executor());
  Tally tally;
  // Ten senders (ten destination queues) sharing the server's pacer: the
  // first window goes out blind, 10 into a bucket of 5; the five refused wait
  // together, and go when the bucket is full again, without a refusal: the
  // pacer counts the requests still in flight against Remaining.
  constexpr int senders = 10;
  int finished = 0;
  for (int s = 0; s < senders; ++s)
    asio::co_spawn(io, send_posts(http, pacer, tally, mm.api_url() + "/posts", o.bot_token, channel, 1),
                   [&finished](std::exception_ptr e) {
                     if (e) std::rethrow_exception(e);
                     ++finished;
                   });
  REQUIRE(test::run_io_until(io, [&] { return finished == senders; }, 20s));
  CHECK(tally.created == senders);
  CHECK(tally.refused <= senders - o.rate_burst);
  CHECK(tally.refused_after_first_window == 0);
  CHECK(pacer.waiting() == 0);
}

TEST_CASE("pacer against Matrix's 429 only (20/s, burst 5): learns the pace from retry_after_ms", "[common][pacer]") {
  test::FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  hs.add_access_token(bot, "DEV", "tok");
  const auto room = hs.create_room(hs.user_id("alice"), {.members = {bot}});
  hs.set_rate_limit(test::FakeMatrix::RateLimit{.per_second = 20, .burst = 5});
  asio::io_context io;
  HttpClient http(io.get_executor());
  Pacer pacer(io.get_executor());
  int refused = 0;
  auto send_all = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 25; ++i) {
      for (;;) {
        co_await pacer.wait_turn();
        auto r = co_await http.async_request(Method::put,
                                             hs.url() + "/_matrix/client/v3/rooms/" + room +
                                                 "/send/m.room.message/t" + std::to_string(i),
                                             bearer("tok"), std::string(R"({"msgtype":"m.notice","body":"x"})"),
                                             5s);
        pacer.on_answer(r);
        if (r.ok()) break;
        if (r.status != 429) throw std::runtime_error("unexpected answer " + std::to_string(r.status) + " " + r.error);
        ++refused;
      }
    }
  };
  const auto start = std::chrono::steady_clock::now();
  test::run_awaitable(io, send_all(), 20s);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(hs.sent_events().size() == 25);
  // A refusal teaches the spacing from retry_after_ms (tens of ms), not from
  // the header's whole second. The first wait may be shorter than the bucket's
  // period (the bucket was part full), so a few more refusals widen it.
  CHECK(refused >= 1);
  CHECK(refused <= 12);
  CHECK(pacer.gate().spacing() >= 5ms);
  CHECK(pacer.gate().spacing() < 500ms);
  CHECK(took < 5s);  // ~1 s at 20/s; a 1 s spacing would take 20 s
}
