// POST /api/v1/learners with a Matrix id: stored when valid, 422 naming the
// entry and the field when not, and never blanked by an update without it.
#include "http_api_harness.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using relance::test::ApiHarness;
using relance::test::api_config;

TEST_CASE("a learner's matrix_id is stored, and kept by an update without it", "[http][api][learners][matrix]") {
  ApiHarness h(api_config());
  auto r = h.post("/api/v1/learners",
                  R"({"learners":[{"id":"M-1","first_name":"Léa","matrix_id":" @lea:matrix.example.org "},
                                   {"id":"M-2","first_name":"Tom","matrix_id":""}]})");
  REQUIRE(r.status == 200);
  CHECK(ApiHarness::json_of(r)["inserted"] == 2);
  REQUIRE(h.learner("M-1"));
  CHECK(h.learner("M-1")->matrix_id == "@lea:matrix.example.org");
  CHECK(h.learner("M-2")->matrix_id.empty());

  auto update = h.post("/api/v1/learners", R"({"learners":[{"id":"M-1","email":"lea@example.org"}]})");
  REQUIRE(update.status == 200);
  CHECK(h.learner("M-1")->matrix_id == "@lea:matrix.example.org");

  auto moved = h.post("/api/v1/learners", R"({"learners":[{"id":"M-1","matrix_id":"@lea:other.example.org:8448"}]})");
  REQUIRE(moved.status == 200);
  CHECK(h.learner("M-1")->matrix_id == "@lea:other.example.org:8448");
}

TEST_CASE("a bad matrix_id gets 422 with its index and field, and nothing is applied", "[http][api][learners][matrix]") {
  ApiHarness h(api_config());
  for (const char* bad : {R"("lea@example.org")", R"("@lea")", R"("@lé a:example.org")", R"("#room:example.org")",
                          R"(42)"}) {
    INFO(bad);
    auto r = h.post("/api/v1/learners",
                    std::string(R"({"learners":[{"id":"A","first_name":"Ana"},{"id":"B","matrix_id":)") + bad + "}]}");
    CHECK(r.status == 422);
    auto j = ApiHarness::json_of(r);
    CHECK(j["index"] == 1);
    CHECK(j["field"] == "matrix_id");
    CHECK_THAT(j["detail"].get<std::string>(), Catch::Contains("@lea:matrix.example.org"));
  }
  CHECK_FALSE(h.learner("A"));
  CHECK(h.changes == 0);
}
