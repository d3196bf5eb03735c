// The engine end to end on a real SQLite file: detection opens cases, steps
// land in the outbox, staff commands move cases, signs of life close them.
#include "test_support.hpp"

#include "bot/app/runtime.hpp"
#include "bot/app/zone.hpp"
#include "store/repositories.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

using namespace relance;
using relance::test::utc;

namespace {

// Its plans message learners: SMS and email are configured (nothing is
// sent: no dispatcher runs here), else their steps would be staff tasks.
const std::string config_toml = std::string(R"(
[organisation]
name = "Organisme test"
timezone = "Europe/Paris"
platform_url = "https://lms.test"

[roles]
secretariat = "Secrétariat"
pedagogie = "Responsable pédagogique"
direction = "Direction"

[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]

[[staff]]
id = "paul"
name = "Paul"
roles = ["pedagogie"]

[[plan]]
id = "ladder"
on_exhausted = "dropout"
dropout_after_days = 7
  [[plan.step]]
  action = "message"
  means = "sms"
  role = "secretariat"
  template = "ladder_1"
  [[plan.step]]
  action = "message"
  means = "email"
  role = "pedagogie"
  template = "ladder_2"
  after_days = 7
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "direction"
  template = "ladder_3"
  after_days = 14

[[policy]]
id = "001"
cohorts = ["permis-b"]
sources = ["lesson", "lms", "visit", "call"]
days = 90
plan = "ladder"
)") + std::string(test::learner_channels_toml);

Learner learner(std::string id, std::string cohort, Timestamp last_lesson) {
  Learner l;
  l.id = std::move(id);
  l.first_name = "Élodie";
  l.last_name = "Test";
  l.phone = "+33612345678";
  l.email = "elodie@example.org";
  l.cohort = std::move(cohort);
  l.activity.observe(Source::lesson, last_lesson);
  return l;
}

void add(test::Fixture& f, Learner l, Timestamp now) {
  store::WriteTransaction tx(*f.db);
  f.engine->upsert_learner(l, now);
  tx.commit();
}

int count(test::Fixture& f, const std::string& sql) { return f.db->sql().execAndGet(sql).getInt(); }

}  // namespace

TEST_CASE("a scan opens a case, queues the SMS in quiet-hours-aware time and posts the alert", "[engine]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");  // Monday 10:00 in Paris
  add(f, learner("L1", "permis-b", now - std::chrono::days(91)), now);
  add(f, learner("L2", "permis-b", now - std::chrono::days(10)), now);
  add(f, learner("L3", "autre", now - std::chrono::days(400)), now);

  auto rep = f.engine->scan(now);
  REQUIRE(rep.opened.size() == 1);
  CHECK(rep.opened[0].learner_id == "L1");
  REQUIRE(rep.steps.size() == 1);
  CHECK(rep.steps[0].means == "sms");
  REQUIRE(rep.next_wake);
  CHECK(*rep.next_wake == now + std::chrono::days(7));

  store::OutboxRepo outbox(*f.db);
  auto sms = outbox.pending("sms");
  REQUIRE(sms.size() == 1);
  CHECK(sms[0].recipient == "+33612345678");
  CHECK(sms[0].template_key == "learner.ladder_1");
  auto staff = outbox.pending("staff");
  REQUIRE(staff.size() == 2);  // the alert, then the step notice
  const std::string alert = f.engine->render_outbox(staff[0]);
  CHECK_THAT(alert, Catch::Contains("Dossier #1"));
  CHECK_THAT(alert, Catch::Contains("Élodie Test"));
  CHECK_THAT(alert, Catch::Contains("prendre 1"));

  SECTION("a second scan at the same time changes nothing") {
    auto again = f.engine->scan(now);
    CHECK(again.opened.empty());
    CHECK(again.steps.empty());
    CHECK(count(f, "SELECT COUNT(*) FROM outbox") == 3);
    CHECK(count(f, "SELECT COUNT(*) FROM learner_case") == 1);
  }

  SECTION("the ladder runs to a declared dropout when nobody answers") {
    f.engine->scan(now + std::chrono::days(7));
    f.engine->scan(now + std::chrono::days(21));
    auto end = f.engine->scan(now + std::chrono::days(28));
    REQUIRE(end.closed.size() == 1);
    CHECK(end.closed[0].state == "dropped_out");
    CHECK(count(f, "SELECT COUNT(*) FROM relaunch WHERE case_id = 1") == 2);  // SMS + email; the call is a task
    CHECK(count(f, "SELECT COUNT(*) FROM task WHERE case_id = 1") == 1);
    CHECK(count(f, "SELECT COUNT(*) FROM learner WHERE id = 'L1' AND status = 'dropped_out'") == 1);
    CHECK(count(f, "SELECT COUNT(*) FROM journal WHERE action = 'case.dropout_declared'") == 1);
  }

  SECTION("a sign of life closes the case as resumed and the learner is not detected again") {
    auto l = store::LearnerRepo(*f.db).find("L1");
    {
      store::WriteTransaction tx(*f.db);
      CHECK(f.engine->record_activity(l->key, Source::lms, now + std::chrono::days(2), now + std::chrono::days(2), "api"));
      tx.commit();
    }
    auto c = store::CaseRepo(*f.db).get(1);
    CHECK(c->state == CaseState::resumed);
    CHECK(count(f, "SELECT COUNT(*) FROM journal WHERE action = 'case.resumed_by_activity'") == 1);
    auto later = f.engine->scan(now + std::chrono::days(30));
    CHECK(later.opened.empty());
  }

  SECTION("a dry run shows the future and changes nothing") {
    const int before = count(f, "SELECT COUNT(*) FROM outbox");
    auto dry = f.engine->scan(now + std::chrono::days(7), true);
    CHECK(dry.dry_run);
    REQUIRE(dry.steps.size() == 1);
    CHECK(dry.steps[0].means == "email");
    CHECK(count(f, "SELECT COUNT(*) FROM outbox") == before);
    CHECK(store::CaseRepo(*f.db).get(1)->next_step == 1);
  }
}

TEST_CASE("staff commands: claim, log, resume, others told who holds the case, strangers refused", "[engine][commands]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  add(f, learner("L1", "permis-b", now - std::chrono::days(100)), now);
  f.engine->scan(now);

  auto r = f.engine->handle_command("marie", "prendre 1", now);
  CHECK(r.ok);
  CHECK_THAT(r.text, Catch::Contains("à vous"));
  r = f.engine->handle_command("paul", "claim 1", now);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.text, Catch::Contains("Marie"));
  r = f.engine->handle_command("intrus", "prendre 1", now);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.text, Catch::Contains("refusée"));
  r = f.engine->handle_command("marie", "relance 1 tel", now);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.text, Catch::Contains("Usage : relance <dossier> <moyen> <résultat>"));
  r = f.engine->handle_command("marie", "relance 1 tel joint \"reprend lundi\"", now + std::chrono::hours(1));
  CHECK(r.ok);
  r = f.engine->handle_command("marie", "repris 1", now + std::chrono::hours(2));
  CHECK(r.ok);
  CHECK(store::CaseRepo(*f.db).get(1)->state == CaseState::resumed);
  r = f.engine->handle_command("marie", "abandon 1", now + std::chrono::hours(3));
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.text, Catch::Contains("déjà clos"));

  auto rel = store::RelaunchRepo(*f.db).for_case(1);
  REQUIRE(rel.size() == 2);
  CHECK(rel[1].actor == "marie");
  CHECK(rel[1].means == Means::phone);
  CHECK(rel[1].result == Result::reached);
  CHECK(rel[1].comment == "reprend lundi");
  auto j = store::Journal(*f.db).for_case(1);
  std::vector<std::string> actions;
  for (const auto& e : j) actions.push_back(e.action);
  CHECK(std::find(actions.begin(), actions.end(), "case.claimed") != actions.end());
  CHECK(std::find(actions.begin(), actions.end(), "relaunch.logged") != actions.end());
  CHECK(std::find(actions.begin(), actions.end(), "case.resumed") != actions.end());

  r = f.engine->handle_command("marie", "dossier 1", now + std::chrono::hours(4));
  CHECK_THAT(r.text, Catch::Contains("reprend lundi"));
  r = f.engine->handle_command("marie", "dossier 99", now);
  CHECK_THAT(r.text, Catch::Contains("introuvable"));
  r = f.engine->handle_command("marie", "frobnicate", now);
  CHECK_THAT(r.text, Catch::Contains("aide"));
}

TEST_CASE("two staff claiming the same case at the same moment: exactly one wins", "[engine][race]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  add(f, learner("L1", "permis-b", now - std::chrono::days(100)), now);
  f.engine->scan(now);

  // A second process on the same database file.
  store::Database db2(f.config.database);
  app::Engine other(f.config, db2, *f.zone, f.catalog);

  for (int round = 0; round < 20; ++round) {
    std::atomic<int> go{0};
    app::Reply a, b;
    std::thread t1([&] { while (!go) {} a = f.engine->handle_command("marie", "prendre 1", now); });
    std::thread t2([&] { while (!go) {} b = other.handle_command("paul", "prendre 1", now); });
    go = 1;
    t1.join();
    t2.join();
    CHECK(a.ok != b.ok);
    const auto c = store::CaseRepo(*f.db).get(1);
    const auto& loser = a.ok ? b : a;
    CHECK_THAT(loser.text, Catch::Contains(a.ok ? "Marie" : "Paul"));
    CHECK(c->assignee == (a.ok ? "marie" : "paul"));
    // Release for the next round.
    f.db->sql().exec("UPDATE learner_case SET assignee = '', state = 'open' WHERE id = 1");
  }
}

TEST_CASE("the demo cohort alerts every seed procedure at once", "[engine][demo]") {
  auto cfg = std::string(app::demo_config_text());
  test::Fixture f(cfg);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  CHECK(app::load_demo_cohort(*f.engine, now) == 10);
  auto rep = f.engine->scan(now);
  std::set<std::string> policies;
  for (const auto& o : rep.opened) policies.insert(o.policy_id);
  CHECK(policies == std::set<std::string>{"000-elearning", "001-auto-ecole", "003-jamais-connecte"});
}
