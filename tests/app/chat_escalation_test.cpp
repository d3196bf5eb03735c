// Escalation of unclaimed alerts along the chain, in business time, and the
// daily digest of overdue tasks: the Engine on a real SQLite file with a fake
// clock, with Mattermost and Matrix routed (not running: the outbox rows are
// what the dispatchers would post).
#include "chat_harness.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace relance;
using namespace relance::test::chat_scn;
using relance::test::utc;

namespace {

std::string config(bool digest) {
  return base_toml(0) + R"(
[[plan]]
id = "now"
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "secretariat"
  template = "ladder_3"

[[policy]]
id = "003"
cohorts = ["cpf"]
sources = ["lesson", "lms"]
days = 30
plan = "now"

[mattermost]
url = "http://127.0.0.1:9"
bot_token = "unused"
default_channel = "chan-default"
  [[mattermost.route]]
  role = "secretariat"
  channel = "chan-sec"
  [[mattermost.route]]
  role = "pedagogie"
  channel = "chan-peda"
  [[mattermost.route]]
  role = "direction"
  channel = "chan-dir"

[matrix]
homeserver = "http://127.0.0.1:9"
user_id = "@relance:fake.test"
access_token = "unused"
default_room = "!staff:fake.test"

[escalation]
chain = ["secretariat", "pedagogie", "direction"]
claim_within_hours = 4
day_start = "09:00"
day_end = "18:00"
days = ["monday", "tuesday", "wednesday", "thursday", "friday"]
)" + (digest ? "digest_at = \"08:30\"\n" : "");
}

int count(test::Fixture& f, const std::string& sql) { return f.db->sql().execAndGet(sql).getInt(); }

void add(test::Fixture& f, const std::string& id, const std::string& cohort, Timestamp now) {
  store::WriteTransaction tx(*f.db);
  Learner l = make_learner(id, cohort, now - std::chrono::days(100));
  f.engine->upsert_learner(l, now);
  tx.commit();
}

struct Row {
  std::string channel, recipient, params;
};
std::vector<Row> rows(test::Fixture& f, const std::string& template_key) {
  std::vector<Row> out;
  SQLite::Statement q(f.db->sql(), "SELECT channel, recipient, params FROM outbox WHERE template = ? ORDER BY id");
  q.bind(1, template_key);
  while (q.executeStep()) out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString()});
  return out;
}

const Timestamp friday_17h = utc("2026-11-27T16:00:00Z");  // Friday 17:00 in Paris
const Timestamp monday_12h = utc("2026-11-30T11:00:00Z");  // + 4 business hours (9:00-18:00)
const Timestamp monday_16h = utc("2026-11-30T15:00:00Z");  // + 4 more

}  // namespace

TEST_CASE("escalation: an alert unclaimed for 4 business hours goes up the chain, once per destination", "[chat][escalation]") {
  test::Fixture f(config(false));
  add(f, "L1", "permis-b", friday_17h);
  auto rep = f.engine->scan(friday_17h);
  REQUIRE(rep.opened.size() == 1);
  // Friday 17:00 + 4 h of 9:00-18:00 weekdays: Monday 12:00.
  REQUIRE(rep.next_wake);
  CHECK(*rep.next_wake == monday_12h);
  CHECK(rows(f, "alert.opened").size() == 2);  // chan-sec and the Matrix room

  CHECK(f.engine->scan(monday_12h - std::chrono::seconds(1)).escalated.empty());
  CHECK(rows(f, "alert.escalated").empty());

  rep = f.engine->scan(monday_12h);
  REQUIRE(rep.escalated.size() == 1);
  CHECK(rep.escalated[0].from_role == "secretariat");
  CHECK(rep.escalated[0].to_role == "pedagogie");
  auto esc = rows(f, "alert.escalated");
  REQUIRE(esc.size() == 2);
  CHECK(esc[0].channel == "staff.mattermost");
  CHECK(esc[0].recipient == "chan-peda");
  CHECK(esc[1].channel == "staff.matrix");
  CHECK(esc[1].recipient == "!staff:fake.test");
  for (auto& r : esc) {
    auto p = nlohmann::json::parse(r.params);
    CHECK(p["_mention"] == "1");
    CHECK(p["_role"] == "pedagogie");
    CHECK(p["_alert"] == "1");
  }
  CHECK(count(f, "SELECT COUNT(*) FROM journal WHERE action = 'case.escalated' AND detail = 'secretariat -> pedagogie'") == 1);
  {
    store::OutboxRepo outbox(*f.db);
    auto item = outbox.pending("staff.mattermost");
    REQUIRE_FALSE(item.empty());
    const std::string text = f.engine->render_outbox(item.back());
    CHECK_THAT(text, Catch::Contains("Responsable pédagogique") && Catch::Contains("4 h ouvrées") &&
                         Catch::Contains("Secrétariat"));
  }
  // The same instant again: nothing more.
  CHECK(f.engine->scan(monday_12h).escalated.empty());
  REQUIRE(rep.next_wake);
  CHECK(*rep.next_wake == monday_16h);

  // Still unclaimed 4 business hours later: direction, the chain's last role.
  rep = f.engine->scan(monday_16h);
  REQUIRE(rep.escalated.size() == 1);
  CHECK(rep.escalated[0].to_role == "direction");
  esc = rows(f, "alert.escalated");
  REQUIRE(esc.size() == 4);
  CHECK(esc[2].recipient == "chan-dir");
  CHECK(count(f, "SELECT COUNT(*) FROM journal WHERE action = 'case.escalated'") == 2);
  // ... and no further: nothing armed, nothing posted days later.
  CHECK(count(f, "SELECT COUNT(*) FROM escalation") == 0);
  CHECK(f.engine->scan(monday_16h + std::chrono::days(3)).escalated.empty());
  CHECK(rows(f, "alert.escalated").size() == 4);
}

TEST_CASE("escalation: a claim before the deadline prevents it", "[chat][escalation]") {
  test::Fixture f(config(false));
  add(f, "L1", "permis-b", friday_17h);
  REQUIRE(f.engine->scan(friday_17h).opened.size() == 1);
  auto r = f.engine->handle_command("bob", "prendre 1", monday_12h - std::chrono::hours(1));
  CHECK(r.ok);
  auto rep = f.engine->scan(monday_12h);
  CHECK(rep.escalated.empty());
  CHECK(f.engine->scan(monday_16h + std::chrono::days(2)).escalated.empty());
  CHECK(rows(f, "alert.escalated").empty());
  CHECK(count(f, "SELECT COUNT(*) FROM escalation") == 0);
  CHECK(count(f, "SELECT COUNT(*) FROM journal WHERE action = 'case.escalated'") == 0);
}

TEST_CASE("escalation: an alert already with the chain's last role is not escalated", "[chat][escalation]") {
  // A plan whose first step belongs to direction: no one above.
  const std::string toml = config(false) + R"(
[[plan]]
id = "top"
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "direction"
  template = "ladder_3"
  after_days = 7

[[policy]]
id = "004"
cohorts = ["vip"]
sources = ["lesson"]
days = 30
plan = "top"
)";
  test::Fixture f(toml);
  add(f, "V1", "vip", friday_17h);
  REQUIRE(f.engine->scan(friday_17h).opened.size() == 1);
  CHECK(count(f, "SELECT COUNT(*) FROM escalation") == 0);
  CHECK(f.engine->scan(monday_16h + std::chrono::days(1)).escalated.empty());
  CHECK(rows(f, "alert.escalated").empty());
}

TEST_CASE("digest: once a day at digest_at per role with overdue tasks, never twice the same day", "[chat][escalation][digest]") {
  test::Fixture f(config(true));
  const Timestamp monday = utc("2026-11-23T09:00:00Z");
  add(f, "C1", "cpf", monday);
  add(f, "C2", "cpf", monday);
  auto rep = f.engine->scan(monday);
  REQUIRE(rep.opened.size() == 2);
  CHECK(rep.digests == 0);  // today's 08:30 has passed: nothing overdue anyway
  CHECK(f.engine->handle_command("alice", "prendre 1", monday).ok);  // claimed: no escalation noise
  CHECK(f.engine->handle_command("alice", "prendre 2", monday).ok);

  // Thursday: the tasks (due 2 days after Monday) are overdue.
  const Timestamp thursday_0800 = utc("2026-11-26T07:00:00Z");
  const Timestamp thursday_0830 = utc("2026-11-26T07:30:00Z");
  rep = f.engine->scan(thursday_0800);
  CHECK(rep.digests == 0);
  REQUIRE(rep.next_wake);
  CHECK(*rep.next_wake <= thursday_0830);

  rep = f.engine->scan(thursday_0830);
  CHECK(rep.digests == 1);  // one role (secretariat) has overdue tasks
  auto digest = rows(f, "alert.digest");
  REQUIRE(digest.size() == 2);  // its Mattermost channel and the Matrix room
  CHECK(digest[0].recipient == "chan-sec");
  CHECK(digest[1].channel == "staff.matrix");
  auto p = nlohmann::json::parse(digest[0].params);
  CHECK(p["_mention"] == "1");
  CHECK(p["count"] == "2");
  {
    store::OutboxRepo outbox(*f.db);
    for (auto& item : outbox.pending("staff.mattermost"))
      if (item.template_key == "alert.digest")
        CHECK_THAT(f.engine->render_outbox(item), Catch::Contains("Apprenant C1") && Catch::Contains("Apprenant C2"));
  }

  // Later the same day: not again.
  CHECK(f.engine->scan(thursday_0830 + std::chrono::hours(6)).digests == 0);
  CHECK(rows(f, "alert.digest").size() == 2);
  // The next morning: again (still overdue).
  CHECK(f.engine->scan(thursday_0830 + std::chrono::days(1)).digests == 1);
  CHECK(rows(f, "alert.digest").size() == 4);
}
