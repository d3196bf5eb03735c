// The activity and learner feeds when they succeed: applied in one
// transaction, deduplicated by event id, signs of life closing cases.
#include "http_api_harness.hpp"

#include "bot/app/config.hpp"
#include "store/repositories.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using relance::test::ApiHarness;
using relance::test::api_config;
using relance::test::utc;

namespace {

const std::string policy_toml = std::string(test::staff_and_task_plan_toml) + R"(
[[policy]]
id = "001"
cohorts = ["permis-b"]
sources = ["lesson", "lms", "visit", "call"]
days = 30
plan = "ladder"
)";

std::int64_t last(const Learner& l, Source s) { return l.activity.last[std::size_t(s)]; }

}  // namespace

TEST_CASE("activity events apply, with ISO or Unix times", "[http][api][activity]") {
  ApiHarness h(api_config());
  h.add_learner("L1");
  h.add_learner("L2");
  auto r = h.post("/api/v1/activity", R"({"events":[
      {"learner":"L1","source":"lesson","at":"2026-11-20T14:00:00Z"},
      {"learner":"L1","source":"lesson","at":"2026-11-19T14:00:00Z"},
      {"learner":"L2","source":"booking","at":1795424400},
      {"learner":"L2","source":"call","at":"1795424400"},
      {"learner":"L2","source":"visit","at":"2026-11-22T10:00:00+01:00"}]})");
  REQUIRE(r.status == 200);
  auto j = ApiHarness::json_of(r);
  CHECK(j["applied"] == 5);
  CHECK(j["duplicates"] == 0);
  CHECK(j["advanced"] == 4);  // the older lesson moves nothing
  CHECK(last(*h.learner("L1"), Source::lesson) == to_unix(utc("2026-11-20T14:00:00Z")));
  CHECK(last(*h.learner("L2"), Source::booking) == 1795424400);
  CHECK(last(*h.learner("L2"), Source::call) == 1795424400);
  CHECK(last(*h.learner("L2"), Source::visit) == to_unix(utc("2026-11-22T09:00:00Z")));
  CHECK(h.changes == 1);

  auto empty = h.post("/api/v1/activity", R"({"events":[]})");
  CHECK(empty.status == 200);
  CHECK(h.changes == 1);
}

TEST_CASE("a repeated event id is acknowledged once and applied once", "[http][api][activity]") {
  ApiHarness h(api_config());
  h.add_learner("L1");
  const std::string body = R"({"events":[{"learner":"L1","source":"message","at":"2026-11-23T08:00:00Z","id":"sms-123"}]})";
  auto first = h.post("/api/v1/activity", body);
  REQUIRE(first.status == 200);
  CHECK(ApiHarness::json_of(first)["applied"] == 1);
  CHECK(ApiHarness::json_of(first)["duplicates"] == 0);

  auto again = h.post("/api/v1/activity", body);
  REQUIRE(again.status == 200);
  CHECK(ApiHarness::json_of(again)["applied"] == 0);
  CHECK(ApiHarness::json_of(again)["duplicates"] == 1);

  // The same id twice in one batch counts once too.
  auto twice = h.post("/api/v1/activity", R"({"events":[
      {"learner":"L1","source":"visit","at":"2026-11-23T08:30:00Z","id":"v-9"},
      {"learner":"L1","source":"visit","at":"2026-11-23T08:30:00Z","id":"v-9"}]})");
  CHECK(ApiHarness::json_of(twice)["applied"] == 1);
  CHECK(ApiHarness::json_of(twice)["duplicates"] == 1);
  CHECK(h.count("SELECT COUNT(*) FROM inbound_seen WHERE source = 'api'") == 2);
}

TEST_CASE("an activity event closes an open case as resumed", "[http][api][activity]") {
  ApiHarness h(api_config(test::api_token, policy_toml));
  h.add_learner("L1", "permis-b", h.now - std::chrono::days(40));
  auto scan = h.fixture.engine->scan(h.now);
  REQUIRE(scan.opened.size() == 1);
  store::CaseRepo cases(*h.fixture.db);
  REQUIRE(cases.active().size() == 1);
  const auto case_id = cases.active()[0].id;

  h.now += std::chrono::hours(2);
  auto r = h.post("/api/v1/activity",
                  R"({"events":[{"learner":"L1","source":"visit","at":")" + format_utc(h.now - std::chrono::hours(1)) +
                      R"(","id":"desk-1"}]})");
  REQUIRE(r.status == 200);
  CHECK(ApiHarness::json_of(r)["advanced"] == 1);
  CHECK(cases.get(case_id)->state == CaseState::resumed);
  CHECK(cases.active().empty());
  CHECK(h.changes == 1);
}

TEST_CASE("learners are upserted in one batch, phones normalised", "[http][api][learners]") {
  ApiHarness h(api_config());
  auto r = h.post("/api/v1/learners", R"({"learners":[
      {"id":"F-001","first_name":"Camille","last_name":"Martin","email":"camille@example.org",
       "phone":"06 12 34 56 78","cohort":"permis-b","start_date":"2026-09-01"},
      {"id":"F-002","first_name":"Lucas","last_name":"Petit","phone":"+33 6 98 76 54 32"}]})");
  REQUIRE(r.status == 200);
  auto j = ApiHarness::json_of(r);
  CHECK(j["inserted"] == 2);
  CHECK(j["updated"] == 0);
  auto camille = h.learner("F-001");
  REQUIRE(camille);
  CHECK(camille->phone == "+33612345678");
  CHECK(camille->cohort == "permis-b");
  REQUIRE(camille->start_date);
  CHECK(format_date(*camille->start_date) == "2026-09-01");
  CHECK(h.learner("F-002")->phone == "+33698765432");
  CHECK(h.changes == 1);

  auto again = h.post("/api/v1/learners", R"({"learners":[
      {"id":"F-001","first_name":"Camille","last_name":"Martin","email":"camille@example.org",
       "phone":"06 12 34 56 78","cohort":"permis-b","start_date":"2026-09-01"},
      {"id":"F-002","email":"lucas@example.org"}]})");
  REQUIRE(again.status == 200);
  CHECK(ApiHarness::json_of(again)["unchanged"] == 1);
  CHECK(ApiHarness::json_of(again)["updated"] == 1);
  CHECK(h.learner("F-002")->email == "lucas@example.org");
  CHECK(h.learner("F-002")->phone == "+33698765432");  // not cleared by an absent field
  CHECK(h.learner("F-002")->language == "fr");           // the default for a new learner
}

TEST_CASE("a learner update without a language keeps the stored one", "[http][api][learners]") {
  ApiHarness h(api_config());
  auto first = h.post("/api/v1/learners", R"({"learners":[{"id":"E-1","first_name":"Emma","language":"EN"}]})");
  REQUIRE(first.status == 200);
  CHECK(h.learner("E-1")->language == "en");
  auto update = h.post("/api/v1/learners", R"({"learners":[{"id":"E-1","email":"emma@example.org"}]})");
  REQUIRE(update.status == 200);
  CHECK(h.learner("E-1")->language == "en");
  auto bad = h.post("/api/v1/learners", R"({"learners":[{"id":"E-1","language":"english"}]})");
  CHECK(bad.status == 422);
  CHECK(ApiHarness::json_of(bad)["field"] == "language");
}
