// Detection that costs what changed: a pass examines only the learners whose
// `detect_at` has come (new, changed, a threshold reached, a case ended, the
// policies changed), and the service runs it in slices.
#include "test_support.hpp"

#include "bot/app/zone.hpp"
#include "store/repositories.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using relance::test::utc;

namespace {

std::string config_with_days(int days) {
  return std::string(test::staff_and_task_plan_toml) + R"(
[[policy]]
id = "001"
cohorts = ["permis-b"]
sources = ["lesson", "lms"]
days = )" + std::to_string(days) +
         R"(
plan = "ladder"
)";
}

Learner learner(std::string id, std::string cohort, Timestamp last_lesson) {
  Learner l;
  l.id = std::move(id);
  l.first_name = "Élodie";
  l.last_name = "Test";
  l.cohort = std::move(cohort);
  l.activity.observe(Source::lesson, last_lesson);
  return l;
}

void add(test::Fixture& f, Learner l, Timestamp now) {
  store::WriteTransaction tx(*f.db);
  f.engine->upsert_learner(l, now);
  tx.commit();
}

// Activity reported through the API, at `at`.
void activity(test::Fixture& f, const std::string& id, Source source, Timestamp at) {
  auto l = store::LearnerRepo(*f.db).find(id);
  REQUIRE(l);
  store::WriteTransaction tx(*f.db);
  f.engine->record_activity(l->key, source, at, at, "api");
  tx.commit();
}

std::optional<std::int64_t> detect_at(test::Fixture& f, const std::string& id) {
  SQLite::Statement q(f.db->sql(), "SELECT detect_at FROM learner WHERE id = ?");
  q.bind(1, id);
  REQUIRE(q.executeStep());
  if (q.getColumn(0).isNull()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

}  // namespace

TEST_CASE("a pass when nothing changed examines nobody, a threshold reached brings the learner back", "[engine][detection]") {
  test::Fixture f(config_with_days(90));
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  add(f, learner("L1", "permis-b", now - std::chrono::days(91)), now);
  add(f, learner("L2", "permis-b", now - std::chrono::days(10)), now);
  add(f, learner("L3", "autre", now - std::chrono::days(400)), now);

  auto first = f.engine->scan(now);
  CHECK(first.learners_examined == 3);
  REQUIRE(first.opened.size() == 1);
  CHECK(first.opened[0].learner_id == "L1");
  // L1 has a case, L3 no policy: neither is looked at again until something
  // changes; L2 when its 90 days are up (midnight-based, in Paris).
  CHECK_FALSE(detect_at(f, "L1"));
  CHECK_FALSE(detect_at(f, "L3"));
  const auto l2_due = detect_at(f, "L2");
  REQUIRE(l2_due);
  CHECK(*l2_due > to_unix(now + std::chrono::days(79)));
  CHECK(*l2_due <= to_unix(now + std::chrono::days(80)));

  auto idle = f.engine->scan(now + std::chrono::hours(1));
  CHECK(idle.learners_examined == 0);
  CHECK(idle.opened.empty());

  auto later = f.engine->scan(from_unix(*l2_due));
  CHECK(later.learners_examined == 1);
  REQUIRE(later.opened.size() == 1);
  CHECK(later.opened[0].learner_id == "L2");
}

TEST_CASE("whatever writes what detection reads marks the learner due, and nothing else does", "[engine][detection]") {
  test::Fixture f(config_with_days(90));
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  add(f, learner("L2", "permis-b", now - std::chrono::days(10)), now);
  add(f, learner("L3", "autre", now - std::chrono::days(400)), now);
  f.engine->scan(now);
  REQUIRE(detect_at(f, "L2") > to_unix(now));
  REQUIRE_FALSE(detect_at(f, "L3"));

  SECTION("a name or an email address does not matter to detection") {
    f.db->sql().exec("UPDATE learner SET first_name = 'Autre', email = 'x@example.org' WHERE id = 'L2'");
    CHECK(detect_at(f, "L2") > to_unix(now));
    CHECK(f.engine->scan(now).learners_examined == 0);
  }
  SECTION("another process moving the learner to a cohort with a policy") {
    // Plain SQL, as another relance process or an administrator would:
    // the trigger catches it, not the engine's code.
    f.db->sql().exec("UPDATE learner SET cohort = 'permis-b' WHERE id = 'L3'");
    CHECK(detect_at(f, "L3") == 0);
    auto rep = f.engine->scan(now);
    CHECK(rep.learners_examined == 1);
    REQUIRE(rep.opened.size() == 1);
    CHECK(rep.opened[0].learner_id == "L3");
  }
  SECTION("activity through the engine, then a learner who stops again") {
    activity(f, "L2", Source::lms, now);
    CHECK(detect_at(f, "L2") == 0);
    CHECK(f.engine->scan(now).learners_examined == 1);
    const auto due = detect_at(f, "L2");
    REQUIRE(due);
    CHECK(*due > to_unix(now + std::chrono::days(89)));
  }
}

TEST_CASE("a case that ends puts its learner back in detection for a new episode", "[engine][detection]") {
  test::Fixture f(config_with_days(90));
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  add(f, learner("L1", "permis-b", now - std::chrono::days(91)), now);
  REQUIRE(f.engine->scan(now).opened.size() == 1);
  REQUIRE_FALSE(detect_at(f, "L1"));

  // A lesson two days later: the case closes as resumed, the learner is due.
  const Timestamp back = now + std::chrono::days(2);
  activity(f, "L1", Source::lesson, back);
  REQUIRE(store::CaseRepo(*f.db).get(1)->state == CaseState::resumed);
  CHECK(detect_at(f, "L1") == 0);
  auto rep = f.engine->scan(back);
  CHECK(rep.learners_examined == 1);
  CHECK(rep.opened.empty());
  // Ninety days without a lesson again: a second case.
  const auto due = detect_at(f, "L1");
  REQUIRE(due);
  auto again = f.engine->scan(from_unix(*due));
  REQUIRE(again.opened.size() == 1);
  CHECK(again.opened[0].learner_id == "L1");
}

TEST_CASE("changing the policies makes every learner be examined again", "[engine][detection]") {
  test::Fixture f(config_with_days(90));
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  add(f, learner("L1", "permis-b", now - std::chrono::days(10)), now);
  add(f, learner("L2", "permis-b", now - std::chrono::days(3)), now);
  CHECK(f.engine->scan(now).opened.empty());
  CHECK(f.engine->scan(now).learners_examined == 0);

  // The same store, the threshold lowered to 7 days: L1 (10 days) crosses.
  const app::Config lowered = app::parse_config(config_with_days(7), "lowered.toml");
  app::Engine engine(lowered, *f.db, *f.zone, f.catalog);
  auto rep = engine.scan(now);
  CHECK(rep.learners_examined == 2);
  REQUIRE(rep.opened.size() == 1);
  CHECK(rep.opened[0].learner_id == "L1");
  CHECK(engine.scan(now).learners_examined == 0);
}

TEST_CASE("a pass in slices does what a pass in one go does", "[engine][detection]") {
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  auto fill = [&](test::Fixture& f) {
    store::WriteTransaction tx(*f.db);
    for (int i = 0; i < 700; ++i) {
      Learner l = learner("L" + std::to_string(i), i % 2 ? "permis-b" : "autre",
                          now - std::chrono::days(i % 7 == 0 ? 120 : 20));
      f.engine->upsert_learner(l, now);
    }
    tx.commit();
  };
  test::Fixture whole(config_with_days(90));
  fill(whole);
  const auto expected = whole.engine->scan(now);

  test::Fixture sliced(config_with_days(90));
  fill(sliced);
  app::Pass pass = sliced.engine->begin_pass(now);
  int calls = 1;
  // A budget of nothing: each call still does one unit of work.
  while (!sliced.engine->run_pass(pass, std::chrono::microseconds(0))) ++calls;
  CHECK(calls > 3);
  CHECK(pass.report.learners_examined == expected.learners_examined);
  CHECK(pass.report.opened.size() == expected.opened.size());
  CHECK(pass.report.steps.size() == expected.steps.size());
  CHECK(pass.report.next_wake == expected.next_wake);
  CHECK(sliced.db->sql().execAndGet("SELECT COUNT(*) FROM learner_case").getInt() == int(expected.opened.size()));
  CHECK(sliced.engine->scan(now).learners_examined == 0);
}
