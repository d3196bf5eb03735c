// Pure helpers of adapters/common: backoff, Retry-After, form encoding.
#include "adapters/common/form.hpp"
#include "adapters/common/retry.hpp"

#include <catch2/catch.hpp>

using namespace relance::net;
using namespace std::chrono_literals;

TEST_CASE("backoff doubles, is capped, and jitters within the upper half", "[common][backoff]") {
  CHECK(backoff_delay(0, 1000ms, 60s, 0.0) == 500ms);
  CHECK(backoff_delay(0, 1000ms, 60s, 1.0) == 1000ms);
  CHECK(backoff_delay(3, 1000ms, 60s, 1.0) == 8000ms);
  CHECK(backoff_delay(3, 1000ms, 60s, 0.0) == 4000ms);
  CHECK(backoff_delay(10, 1000ms, 60s, 1.0) == 60s);   // capped
  CHECK(backoff_delay(500, 1000ms, 60s, 0.5) == 45s);  // no overflow far out
  CHECK(backoff_delay(-1, 1000ms, 60s, 1.0) == 1000ms);

  Backoff b(100ms, 1s);
  std::chrono::milliseconds previous_max{0};
  for (int i = 0; i < 8; ++i) {
    const auto full = std::min<std::chrono::milliseconds>(1s, 100ms * (1 << i));
    const auto d = b.next();
    CHECK(d >= full / 2);
    CHECK(d <= full);
    previous_max = full;
  }
  CHECK(previous_max == 1s);
  b.reset();
  CHECK(b.next() <= 100ms);
}

TEST_CASE("Retry-After: seconds and the three HTTP-date forms", "[common][retry-after]") {
  // 1994-11-06T08:49:37Z, RFC 9110's example date.
  const auto example = std::chrono::system_clock::time_point{std::chrono::seconds{784111777}};
  CHECK(parse_retry_after("120", example) == 120s);
  CHECK(parse_retry_after(" 0 ", example) == 0s);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", example - 30s) == 30s);
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", example - 5s) == 5s);
  CHECK(parse_retry_after("Sun Nov  6 08:49:37 1994", example - 1s) == 1s);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", example + 1h) == 0s);  // in the past
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK_FALSE(parse_retry_after("", example));
  CHECK_FALSE(parse_retry_after("-5", example));
  CHECK_FALSE(parse_retry_after("1.5", example));
  CHECK_FALSE(parse_retry_after("soon", example));
  CHECK_FALSE(parse_retry_after("Sun, 31 Feb 1994 08:49:37 GMT", example));
  CHECK_FALSE(parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", example));
}

TEST_CASE("form encoding round-trips Moodle's bracket arrays and UTF-8", "[common][form]") {
  const FormFields fields{{"wstoken", "abc"}, {"options[0][name]", "userfields"},
                          {"options[0][value]", "id,email"}, {"q", "Élève & co = 100%"}};
  const auto body = form_encode(fields);
  CHECK(body ==
        "wstoken=abc&options%5B0%5D%5Bname%5D=userfields&options%5B0%5D%5Bvalue%5D=id%2Cemail"
        "&q=%C3%89l%C3%A8ve+%26+co+%3D+100%25");
  CHECK(form_decode(body) == fields);
  CHECK(form_decode("a=1&&b&c=%zz&d=x+y") == FormFields{{"a", "1"}, {"b", ""}, {"c", "%zz"}, {"d", "x y"}});
  REQUIRE(form_find(fields, "wstoken"));
  CHECK(*form_find(fields, "wstoken") == "abc");
  CHECK(form_find(fields, "missing") == nullptr);
}
