// What the HTTP port refuses, and how: status, JSON error, and nothing applied.
#include "http_api_harness.hpp"

#include "store/database.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using relance::test::ApiHarness;
using relance::test::api_config;
using net::Method;

TEST_CASE("GET /healthz answers ok with the schema version", "[http][api]") {
  ApiHarness h(api_config());
  auto r = h.request(Method::get, "/healthz", {}, std::nullopt);
  REQUIRE(r.status == 200);
  CHECK_THAT(std::string(r.header("Content-Type").value_or("")), Catch::StartsWith("application/json"));
  auto j = ApiHarness::json_of(r);
  CHECK(j["status"] == "ok");
  CHECK(j["schema"] == store::latest_schema_version());

  auto post = h.request(Method::post, "/healthz", "{}", std::nullopt);
  CHECK(post.status == 405);
  CHECK(post.header("Allow") == "GET");
}

TEST_CASE("the API refuses a missing or wrong bearer token with 401", "[http][api]") {
  ApiHarness h(api_config());
  h.add_learner("L1");
  const std::string body = R"({"events":[{"learner":"L1","source":"visit","at":"2026-11-23T08:00:00Z"}]})";

  auto missing = h.post("/api/v1/activity", body, std::nullopt);
  CHECK(missing.status == 401);
  CHECK(missing.header("WWW-Authenticate") == "Bearer");
  CHECK(ApiHarness::json_of(missing)["error"] == "unauthorized");

  for (std::string wrong : {"nope", "s3cret-token-for-test", "s3cret-token-for-tests-and-more", ""}) {
    INFO(wrong);
    auto r = h.post("/api/v1/activity", body, wrong);
    CHECK(r.status == 401);
    CHECK_THAT(std::string(r.header("WWW-Authenticate").value_or("")), Catch::StartsWith("Bearer"));
  }
  auto basic = h.request(Method::post, "/api/v1/learners", R"({"learners":[]})", std::nullopt,
                         {{"Authorization", "Basic czNjcmV0"}});
  CHECK(basic.status == 401);
  // The scheme is case-insensitive (RFC 6750 / RFC 9110 §11.1).
  auto lower = h.request(Method::post, "/api/v1/learners", R"({"learners":[]})", std::nullopt,
                         {{"Authorization", std::string("bearer ") + test::api_token}});
  CHECK(lower.status == 200);

  CHECK(h.learner("L1")->activity.last[std::size_t(Source::visit)] == 0);
  CHECK(h.changes == 0);
}

TEST_CASE("with no token configured the API is disabled (403)", "[http][api]") {
  ApiHarness h(api_config(""));
  auto r = h.post("/api/v1/activity", R"({"events":[]})", std::string(""));
  CHECK(r.status == 403);
  CHECK(ApiHarness::json_of(r)["error"] == "api_disabled");
  CHECK(h.request(Method::get, "/healthz", {}, std::nullopt).status == 200);
}

TEST_CASE("a body over max_body_bytes gets 413", "[http][api]") {
  ApiHarness h(api_config());
  std::string big = R"({"events":[)";
  while (big.size() < 4096) big += R"({"learner":"L1","source":"lms","at":1},)";
  big.back() = ']';
  big += "}";
  auto r = h.post("/api/v1/activity", big);
  REQUIRE(r.answered());
  CHECK(r.status == 413);
  CHECK(ApiHarness::json_of(r)["error"] == "too_large");
  // The server is still there for the next client.
  CHECK(h.request(Method::get, "/healthz", {}, std::nullopt).status == 200);
}

TEST_CASE("malformed JSON gets 400 with the parser's reason", "[http][api]") {
  ApiHarness h(api_config());
  auto r = h.post("/api/v1/activity", R"({"events": [{"learner": "L1",)");
  CHECK(r.status == 400);
  auto j = ApiHarness::json_of(r);
  CHECK(j["error"] == "bad_json");
  CHECK_THAT(j["detail"].get<std::string>(), Catch::Contains("parse error"));
  CHECK(j["byte"].get<int>() > 0);

  auto learners = h.post("/api/v1/learners", "{'single': 'quotes'}");
  CHECK(learners.status == 400);
  CHECK_THAT(ApiHarness::json_of(learners)["detail"].get<std::string>(), Catch::Contains("line 1, column 2"));
}

TEST_CASE("an activity batch with one bad event gets 422 naming it, and nothing is applied", "[http][api]") {
  ApiHarness h(api_config());
  h.add_learner("L1");
  h.add_learner("L2");

  struct Case {
    const char* second_event;
    const char* error;
    const char* field;
  };
  const Case cases[] = {
      {R"({"learner":"ghost","source":"lms","at":"2026-11-23T08:00:00Z"})", "unknown_learner", "learner"},
      {R"({"source":"lms","at":"2026-11-23T08:00:00Z"})", "bad_field", "learner"},
      {R"({"learner":"L2","source":"telepathy","at":"2026-11-23T08:00:00Z"})", "bad_source", "source"},
      {R"({"learner":"L2","at":"2026-11-23T08:00:00Z"})", "bad_source", "source"},
      {R"({"learner":"L2","source":"call","at":"yesterday"})", "bad_time", "at"},
      {R"({"learner":"L2","source":"call","at":-5})", "bad_time", "at"},
      {R"({"learner":"L2","source":"call","at":"2031-01-01T00:00:00Z"})", "bad_time", "at"},
      {R"({"learner":"L2","source":"call"})", "bad_time", "at"},
      {R"({"learner":"L2","source":"call","at":1795424400,"id":{"x":1}})", "bad_field", "id"},
  };
  for (const auto& c : cases) {
    INFO(c.second_event);
    const std::string body = std::string(R"({"events":[{"learner":"L1","source":"visit","at":"2026-11-23T08:00:00Z","id":"e-1"},)") +
                             c.second_event + "]}";
    auto r = h.post("/api/v1/activity", body);
    CHECK(r.status == 422);
    auto j = ApiHarness::json_of(r);
    CHECK(j["error"] == c.error);
    CHECK(j["index"] == 1);
    CHECK(j["field"] == c.field);
    CHECK_THAT(j["detail"].get<std::string>(), Catch::StartsWith(std::string("events[1].") + c.field));
  }
  // The first, valid event was not applied, and its id was not remembered.
  CHECK(h.learner("L1")->activity.last[std::size_t(Source::visit)] == 0);
  CHECK(h.count("SELECT COUNT(*) FROM inbound_seen") == 0);
  CHECK(h.changes == 0);

  auto shape = h.post("/api/v1/activity", R"({"event":[]})");
  CHECK(shape.status == 422);
  CHECK(h.post("/api/v1/activity", R"([1,2])").status == 422);
}

TEST_CASE("a learner batch with one bad entry gets 422 naming it, and nothing is applied", "[http][api]") {
  ApiHarness h(api_config());
  struct Case {
    const char* second;
    const char* field;
  };
  const Case cases[] = {
      {R"({"first_name":"No","last_name":"Id"})", "id"},
      {R"({"id":"  "})", "id"},
      {R"({"id":"B","phone":"12"})", "phone"},
      {R"({"id":"B","email":"not-an-email"})", "email"},
      {R"({"id":"B","start_date":"23/11/2026"})", "start_date"},
      {R"({"id":"B","cohort":42})", "cohort"},
  };
  for (const auto& c : cases) {
    INFO(c.second);
    auto r = h.post("/api/v1/learners", std::string(R"({"learners":[{"id":"A","first_name":"Ana"},)") + c.second + "]}");
    CHECK(r.status == 422);
    auto j = ApiHarness::json_of(r);
    CHECK(j["index"] == 1);
    CHECK(j["field"] == c.field);
  }
  CHECK_FALSE(h.learner("A"));
  CHECK(h.changes == 0);
}

TEST_CASE("wrong method gets 405, unknown path 404, both as JSON", "[http][api]") {
  ApiHarness h(api_config());
  for (const char* path : {"/api/v1/activity", "/api/v1/learners"}) {
    auto r = h.request(Method::get, path);
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "POST");
    CHECK(ApiHarness::json_of(r)["error"] == "method_not_allowed");
  }
  auto missing = h.request(Method::get, "/api/v2/activity");
  CHECK(missing.status == 404);
  CHECK(ApiHarness::json_of(missing)["error"] == "not_found");
  CHECK(h.request(Method::post, "/", "{}").status == 404);
}

// Issue 16 item 7: a NUL inside a name was stored (SQLite read it back cut
// there) and a 900 KB learner id was stored.
TEST_CASE("a learner field with a control character or over its length gets 422 naming it", "[http][api][limits]") {
  ApiHarness h("[http]\nlisten = \"127.0.0.1\"\nport = 0\nmax_body_bytes = 1000000\napi_token = \"" +
               std::string(test::api_token) + "\"\n");
  struct Case {
    std::string second;
    const char* field;
    const char* detail;
  };
  const Case cases[] = {
      {R"({"id":"B","first_name":"Zo\u0000e"})", "first_name", "control character U+0000"},
      {R"({"id":"B","last_name":"Martin\nSIGNED: the director"})", "last_name", "control character U+000A"},
      {R"({"id":"B\tC"})", "id", "control character U+0009"},
      {R"({"id":"B","cohort":"permis\u0085b"})", "cohort", "control character U+0085"},
      {R"({"id":"B","email":"b\u0000@example.org"})", "email", "control character U+0000"},
      {R"({"id":"B","phone":"+33 6 12 34 56 78\u0000"})", "phone", "control character U+0000"},
      {R"({"id":")" + std::string(900'000, 'x') + R"("})", "id", "900000 bytes, at most 254"},
      {R"({"id":"B","first_name":")" + std::string(201, 'a') + R"("})", "first_name", "at most 200"},
      {R"({"id":"B","last_name":")" + std::string(201, 'a') + R"("})", "last_name", "at most 200"},
      {R"({"id":"B","email":")" + std::string(250, 'b') + R"(@example.org"})", "email", "at most 254"},
      {R"({"id":"B","phone":"+33 6 12 34 56 78)" + std::string(20, ' ') + R"(9"})", "phone", "at most 32"},
      {R"({"id":"B","cohort":")" + std::string(129, 'c') + R"("})", "cohort", "at most 128"},
  };
  for (const auto& c : cases) {
    INFO(c.second.substr(0, 80));
    auto r = h.post("/api/v1/learners", R"({"learners":[{"id":"A","first_name":"Ana"},)" + c.second + "]}");
    CHECK(r.status == 422);
    auto j = ApiHarness::json_of(r);
    CHECK(j["error"] == "bad_field");
    CHECK(j["index"] == 1);
    CHECK(j["field"] == c.field);
    CHECK_THAT(j["detail"].get<std::string>(), Catch::Contains(c.detail));
    // The refusal does not echo a huge value back.
    CHECK(r.body.size() < 1000);
  }
  CHECK_FALSE(h.learner("A"));
  CHECK_FALSE(h.learner("B"));
  CHECK(h.changes == 0);

  // At the limits, with accents and a tab-free name, everything is kept whole.
  const std::string name(200, 'e');
  auto ok = h.post("/api/v1/learners",
                   R"({"learners":[{"id":")" + std::string(254, 'i') + R"(","first_name":")" + name +
                       R"(","last_name":"Zoé Müller","cohort":")" + std::string(128, 'c') + R"("}]})");
  CHECK(ok.status == 200);
  auto stored = h.learner(std::string(254, 'i'));
  REQUIRE(stored);
  CHECK(stored->first_name == name);
  CHECK(stored->last_name == "Zoé Müller");
}

TEST_CASE("an activity event whose learner id is over its length or holds a control character gets 422",
          "[http][api][limits]") {
  ApiHarness h("[http]\nlisten = \"127.0.0.1\"\nport = 0\nmax_body_bytes = 1000000\napi_token = \"" +
               std::string(test::api_token) + "\"\n");
  h.add_learner("L1");
  for (const std::string& learner : {std::string(300'000, 'x'), std::string("L1\\u0000")}) {
    auto r = h.post("/api/v1/activity",
                    R"({"events":[{"learner":")" + learner + R"(","source":"visit","at":"2026-11-23T08:00:00Z"}]})");
    CHECK(r.status == 422);
    auto j = ApiHarness::json_of(r);
    CHECK(j["error"] == "bad_field");
    CHECK(j["field"] == "learner");
    CHECK(r.body.size() < 1000);
  }
  auto long_event_id = h.post("/api/v1/activity", R"({"events":[{"learner":"L1","source":"visit","at":"2026-11-23T08:00:00Z","id":")" +
                                                       std::string(300'000, 'e') + R"("}]})");
  CHECK(long_event_id.status == 422);
  CHECK(ApiHarness::json_of(long_event_id)["field"] == "id");
  CHECK(h.learner("L1")->activity.last[std::size_t(Source::visit)] == 0);
}
