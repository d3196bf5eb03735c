// The SQLite store: migrations tracked by PRAGMA user_version, WAL mode, the
// append-only journal, the idempotent outbox, transactions that leave nothing
// behind when interrupted, and the repositories' contracts.
#include "store/database.hpp"
#include "store/repositories.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace relance;
using namespace relance::store;
namespace chr = std::chrono;
using relance::test::TempDir;

namespace {

Timestamp t0() { return from_unix(1'790'000'000); }  // 2026-09-21
Timestamp at(int minutes) { return t0() + chr::minutes{minutes}; }

struct Db {
  TempDir dir;
  Database db{dir / "relance.db"};
  Db() { db.migrate(); }
};

Learner make_learner(std::string id) {
  Learner l;
  l.id = std::move(id);
  l.first_name = "L\xC3\xA9" "a";
  l.last_name = "Martin";
  l.email = "lea.martin@exemple.fr";
  l.phone = "+33612345678";
  l.cohort = "permis-b";
  return l;
}

Plan sample_plan() {
  Plan p;
  p.id = "plan-001";
  p.on_exhausted = OnExhausted::declare_dropout;
  p.dropout_after = chr::days{7};
  Step a;
  a.name = "1re relance";
  a.action = StepAction::message_learner;
  a.means = Means::sms;
  a.role = "secretariat";
  a.template_key = "ladder_1";
  Step b;
  b.name = "3e relance (dernier appel)";
  b.action = StepAction::staff_task;
  b.means = Means::phone;
  b.role = "direction";
  b.template_key = "ladder_3";
  b.after_previous = chr::days{14};
  b.at_inactive_days = chr::days{30};
  b.optional = true;
  b.priority = true;
  p.steps = {a, b};
  return p;
}

Case make_case(std::int64_t learner_key, std::string policy = "001-auto-ecole") {
  Case c;
  c.learner_key = learner_key;
  c.policy_id = std::move(policy);
  c.plan = sample_plan();
  c.opened_at = at(0);
  c.activity_ref = at(-90 * 24 * 60);
  return c;
}

std::int64_t count(Database& db, const char* table) {
  return db.sql().execAndGet(std::string("SELECT COUNT(*) FROM ") + table).getInt64();
}

OutboxItem outbox_item(std::string dedupe, Timestamp not_before) {
  OutboxItem o;
  o.created_at = at(0);
  o.channel = "sms";
  o.recipient = "+33612345678";
  o.template_key = "ladder_1";
  o.params_json = R"({"first_name":"L\u00e9a"})";
  o.dedupe_key = std::move(dedupe);
  o.not_before = not_before;
  return o;
}

}  // namespace

// ------------------------------------------------------------------ migrations

TEST_CASE("a fresh database migrates to the latest schema version", "[store][migrations]") {
  TempDir dir;
  Database db(dir / "fresh.db");
  CHECK(db.schema_version() == 0);
  CHECK_THROWS_WITH(db.require_current_schema(), Catch::Contains("relance migrate"));

  REQUIRE(latest_schema_version() >= 1);
  REQUIRE_FALSE(migrations().empty());
  CHECK(migrations().front().version == 1);
  CHECK(migrations().front().name == "0001_init.sql");
  for (std::size_t i = 1; i < migrations().size(); ++i) CHECK(migrations()[i].version == migrations()[i - 1].version + 1);

  const std::vector<int> applied = db.migrate();
  REQUIRE(applied.size() == migrations().size());
  CHECK(applied.back() == latest_schema_version());
  CHECK(db.sql().execAndGet("PRAGMA user_version").getInt() == latest_schema_version());
  CHECK(db.schema_version() == latest_schema_version());
  CHECK_NOTHROW(db.require_current_schema());

  for (const char* table : {"learner", "learner_case", "relaunch", "task", "outbox", "journal", "inbound_seen",
                            "import_log", "kv"}) {
    INFO(table);
    SQLite::Statement q(db.sql(), "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    q.bind(1, table);
    REQUIRE(q.executeStep());
    CHECK(q.getColumn(0).getInt() == 1);
  }
}

TEST_CASE("migrating twice is a no-op, also after reopening the file", "[store][migrations]") {
  TempDir dir;
  {
    Database db(dir / "r.db");
    db.migrate();
    LearnerRepo learners(db);
    Learner l = make_learner("A-1");
    learners.upsert(l, at(0));
    CHECK(db.migrate().empty());
  }
  Database again(dir / "r.db");
  CHECK(again.schema_version() == latest_schema_version());
  CHECK(again.migrate().empty());
  CHECK(count(again, "learner") == 1);  // data untouched
}

TEST_CASE("a database from a newer relance is refused with a clear message", "[store][migrations]") {
  TempDir dir;
  {
    Database db(dir / "newer.db");
    db.migrate();
    db.sql().exec("PRAGMA user_version = " + std::to_string(latest_schema_version() + 1));
  }
  Database db(dir / "newer.db");
  const std::string newer = std::to_string(latest_schema_version() + 1);
  CHECK_THROWS_AS(db.migrate(), std::runtime_error);
  CHECK_THROWS_WITH(db.migrate(), Catch::Contains("newer.db") && Catch::Contains("schema version " + newer) &&
                                      Catch::Contains("newer than this relance") && Catch::Contains("upgrade relance"));
  CHECK_THROWS_WITH(db.require_current_schema(), Catch::Contains("expected " + std::to_string(latest_schema_version())));
  CHECK(db.schema_version() == latest_schema_version() + 1);  // left as it was
}

TEST_CASE("the database is in WAL mode with foreign keys on", "[store][database]") {
  Db d;
  CHECK(d.db.sql().execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK(d.db.sql().execAndGet("PRAGMA foreign_keys").getInt() == 1);
  CHECK(d.db.sql().execAndGet("PRAGMA synchronous").getInt() == 2);  // FULL
  d.db.set_synchronous_full(false);
  CHECK(d.db.sql().execAndGet("PRAGMA synchronous").getInt() == 1);  // NORMAL
  // A case for a learner that does not exist is refused.
  CaseRepo cases(d.db);
  Case c = make_case(4242);
  CHECK_THROWS_AS(cases.insert(c), SQLite::Exception);
}

TEST_CASE("a read-only handle reads but cannot write", "[store][database]") {
  Db d;
  LearnerRepo learners(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  Database ro(d.dir / "relance.db", Database::Mode::read_only);
  CHECK(ro.schema_version() == latest_schema_version());
  CHECK(count(ro, "learner") == 1);
  CHECK_THROWS_AS(ro.sql().exec("DELETE FROM learner"), SQLite::Exception);
}

// ------------------------------------------------------------------ journal

TEST_CASE("the journal is append-only: UPDATE and DELETE are refused", "[store][journal]") {
  Db d;
  Journal journal(d.db);
  LearnerRepo learners(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  const auto id = journal.append({0, at(1), "marie", "case.claimed", l.key, std::nullopt, "prise en charge"});
  journal.append({0, at(2), "relance", "step.sent", l.key, std::nullopt, "step 1 sms"});
  CHECK(journal.count() == 2);

  CHECK_THROWS_WITH(d.db.sql().exec("UPDATE journal SET detail = 'rewritten' WHERE id = " + std::to_string(id)),
                    Catch::Contains("append-only"));
  CHECK_THROWS_WITH(d.db.sql().exec("DELETE FROM journal WHERE id = " + std::to_string(id)),
                    Catch::Contains("append-only"));
  CHECK_THROWS_WITH(d.db.sql().exec("DELETE FROM journal"), Catch::Contains("append-only"));
  CHECK(journal.count() == 2);

  const auto rows = journal.for_learner(l.key);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].id == id);
  CHECK(rows[0].actor == "marie");
  CHECK(rows[0].action == "case.claimed");
  CHECK(rows[0].detail == "prise en charge");
  CHECK(rows[0].at == at(1));
  CHECK(rows[0].learner_key == l.key);
  CHECK_FALSE(rows[0].case_id);
  CHECK(rows[1].action == "step.sent");
}

TEST_CASE("journal entries are found by case", "[store][journal]") {
  Db d;
  LearnerRepo learners(d.db);
  CaseRepo cases(d.db);
  Journal journal(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  Case c = make_case(l.key);
  cases.insert(c);
  journal.append({0, at(0), "relance", "case.opened", l.key, c.id, "policy 001-auto-ecole"});
  journal.append({0, at(5), "marie", "case.claimed", l.key, c.id, ""});
  journal.append({0, at(6), "marie", "kv.other", std::nullopt, std::nullopt, ""});
  const auto rows = journal.for_case(c.id);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].action == "case.opened");
  CHECK(rows[1].action == "case.claimed");
  CHECK(rows[1].case_id == c.id);
}

// ------------------------------------------------------------------ outbox

TEST_CASE("outbox: enqueueing the same dedupe key twice keeps one message", "[store][outbox]") {
  Db d;
  OutboxRepo outbox(d.db);
  OutboxItem a = outbox_item("case:1:step:0", at(0));
  const auto first = outbox.enqueue(a);
  REQUIRE(first);
  CHECK(a.id == *first);
  OutboxItem b = outbox_item("case:1:step:0", at(60));
  b.template_key = "something_else";
  CHECK_FALSE(outbox.enqueue(b).has_value());
  CHECK(count(d.db, "outbox") == 1);
  const auto stored = outbox.get(*first);
  REQUIRE(stored);
  CHECK(stored->template_key == "ladder_1");  // the first one stands
  CHECK(stored->params_json == R"({"first_name":"L\u00e9a"})");
  CHECK(stored->status == "pending");
  CHECK(stored->attempts == 0);
  CHECK(stored->next_attempt == at(0));
}

TEST_CASE("outbox: ready honours not_before and delivery status", "[store][outbox]") {
  Db d;
  OutboxRepo outbox(d.db);
  OutboxItem now_item = outbox_item("a", at(0));
  OutboxItem later = outbox_item("b", at(600));  // deferred by quiet hours
  OutboxItem email = outbox_item("c", at(0));
  email.channel = "email";
  outbox.enqueue(now_item);
  outbox.enqueue(later);
  outbox.enqueue(email);

  auto ready = outbox.ready("sms", at(1), 10);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].dedupe_key == "a");
  CHECK(outbox.pending("sms").size() == 2);
  CHECK(outbox.next_ready("sms") == at(0));

  outbox.mark_retry(now_item.id, at(5), "gateway 503");
  CHECK(outbox.ready("sms", at(1), 10).empty());
  CHECK(outbox.get(now_item.id)->attempts == 1);
  CHECK(outbox.get(now_item.id)->last_error == "gateway 503");
  outbox.mark_sent(now_item.id, at(5), "kannel-77");
  CHECK(outbox.get(now_item.id)->status == "sent");
  CHECK(outbox.get(now_item.id)->sent_at == at(5));
  CHECK(outbox.get(now_item.id)->remote_id == "kannel-77");
  CHECK(outbox.next_ready("sms") == at(600));
  outbox.mark_failed(later.id, "invalid number");
  CHECK(outbox.pending("sms").empty());
  CHECK_FALSE(outbox.next_ready("sms"));
  CHECK(outbox.ready("email", at(0), 10).size() == 1);
}

// ------------------------------------------------------------------ transactions

TEST_CASE("an interrupted import leaves nothing behind", "[store][transaction][import]") {
  Db d;
  LearnerRepo learners(d.db);
  Journal journal(d.db);
  auto import = [&] {
    WriteTransaction tx(d.db);
    for (int i = 0; i < 100; ++i) {
      Learner l = make_learner("IMP-" + std::to_string(i));
      l.activity.observe(Source::lms, at(-i));
      learners.upsert(l, at(0));
    }
    journal.append({0, at(0), "import", "import.started", std::nullopt, std::nullopt, "participants.csv"});
    throw std::runtime_error("participants.csv:101: bad date");  // a bad row, mid-way
    tx.commit();
  };
  CHECK_THROWS_WITH(import(), "participants.csv:101: bad date");
  CHECK(learners.count() == 0);
  CHECK(journal.count() == 0);
  CHECK_FALSE(learners.find("IMP-0"));

  // The database is usable afterwards and the same import, completed, lands whole.
  {
    WriteTransaction tx(d.db);
    for (int i = 0; i < 100; ++i) {
      Learner l = make_learner("IMP-" + std::to_string(i));
      learners.upsert(l, at(0));
    }
    tx.commit();
  }
  CHECK(learners.count() == 100);
}

TEST_CASE("a state change and its messages commit together or not at all", "[store][transaction][outbox]") {
  Db d;
  LearnerRepo learners(d.db);
  CaseRepo cases(d.db);
  OutboxRepo outbox(d.db);
  Journal journal(d.db);
  RelaunchRepo relaunches(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  Case c = make_case(l.key);
  cases.insert(c);

  auto step = [&](bool crash) {
    WriteTransaction tx(d.db);
    c.next_step = 1;
    c.relaunches = 1;
    cases.update(c);
    OutboxItem o = outbox_item("case:" + std::to_string(c.id) + ":step:0", at(0));
    o.case_id = c.id;
    o.learner_key = l.key;
    outbox.enqueue(o);
    Relaunch r;
    r.case_id = c.id;
    r.at = at(0);
    r.actor = "relance";
    r.means = Means::sms;
    r.result = Result::sent;
    r.step = 0;
    r.automatic = true;
    relaunches.insert(r);
    journal.append({0, at(0), "relance", "step.sent", l.key, c.id, "step 1 sms"});
    if (crash) throw std::runtime_error("power cut");
    tx.commit();
  };
  CHECK_THROWS(step(true));
  CHECK(cases.get(c.id)->next_step == 0);
  CHECK(count(d.db, "outbox") == 0);
  CHECK(count(d.db, "relaunch") == 0);
  CHECK(journal.count() == 0);

  step(false);
  CHECK(cases.get(c.id)->next_step == 1);
  CHECK(outbox.for_case(c.id).size() == 1);
  const auto rs = relaunches.for_case(c.id);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].means == Means::sms);
  CHECK(rs[0].result == Result::sent);
  CHECK(rs[0].automatic);
  CHECK(journal.for_case(c.id).size() == 1);
}

TEST_CASE("another connection sees a write only once it is committed (WAL)", "[store][transaction]") {
  Db d;
  LearnerRepo learners(d.db);
  Database reader(d.dir / "relance.db");
  LearnerRepo other(reader);
  {
    WriteTransaction tx(d.db);
    Learner l = make_learner("A-1");
    learners.upsert(l, at(0));
    CHECK(other.count() == 0);  // the reader is not blocked and sees the last commit
    tx.commit();
  }
  CHECK(other.count() == 1);
}

// ------------------------------------------------------------------ learners

TEST_CASE("learner upsert inserts, merges non-empty fields, keeps the latest activity and detects no change",
          "[store][learners]") {
  Db d;
  LearnerRepo learners(d.db);
  Learner l = make_learner("A-1");
  l.start_date = chr::sys_days{chr::year{2026} / 9 / 7};
  l.activity.observe(Source::lms, at(100));
  l.activity.observe(Source::lesson, at(50));
  CHECK(learners.upsert(l, at(0)) == LearnerRepo::Upserted::inserted);
  REQUIRE(l.key > 0);
  CHECK(l.first_seen == at(0));

  SECTION("the same record again changes nothing") {
    Learner same = make_learner("A-1");
    same.start_date = chr::sys_days{chr::year{2026} / 9 / 7};
    same.activity.observe(Source::lms, at(100));
    same.activity.observe(Source::lesson, at(50));
    CHECK(learners.upsert(same, at(10)) == LearnerRepo::Upserted::unchanged);
    CHECK(same.key == l.key);
  }
  SECTION("empty fields and older activity do not erase what is stored") {
    Learner sparse;
    sparse.id = "A-1";
    sparse.activity.observe(Source::lms, at(20));  // older than stored
    CHECK(learners.upsert(sparse, at(10)) == LearnerRepo::Upserted::unchanged);
    CHECK(sparse.email == "lea.martin@exemple.fr");  // l is returned merged
    const auto stored = learners.find("A-1");
    REQUIRE(stored);
    CHECK(stored->first_name == "L\xC3\xA9" "a");
    CHECK(stored->phone == "+33612345678");
    CHECK(stored->start_date == chr::sys_days{chr::year{2026} / 9 / 7});
    CHECK(stored->activity.last[std::size_t(Source::lms)] == to_unix(at(100)));
  }
  SECTION("non-empty fields win and newer activity moves forward") {
    Learner update;
    update.id = "A-1";
    update.email = "lea@nouveau.fr";
    update.phone = "";
    update.activity.observe(Source::lms, at(300));
    update.activity.observe(Source::visit, at(200));
    CHECK(learners.upsert(update, at(400)) == LearnerRepo::Upserted::updated);
    const auto stored = learners.get(l.key);
    REQUIRE(stored);
    CHECK(stored->email == "lea@nouveau.fr");
    CHECK(stored->phone == "+33612345678");
    CHECK(stored->last_name == "Martin");
    CHECK(stored->activity.last[std::size_t(Source::lms)] == to_unix(at(300)));
    CHECK(stored->activity.last[std::size_t(Source::visit)] == to_unix(at(200)));
    CHECK(stored->activity.last[std::size_t(Source::lesson)] == to_unix(at(50)));
    CHECK(stored->first_seen == at(0));  // first_seen never moves
  }
}

// A feed that knows nothing of the language (API, Moodle) builds a fresh
// Learner whose language is empty: the stored one must stay.
TEST_CASE("a feed that does not carry the language keeps the stored one", "[store][learners]") {
  Db d;
  LearnerRepo learners(d.db);
  Learner en = make_learner("A-1");
  en.language = "en";
  learners.upsert(en, at(0));
  REQUIRE(learners.find("A-1")->language == "en");

  Learner feed;  // as a feed builds it: id, names, email, activity
  feed.id = "A-1";
  feed.email = "lea.martin@exemple.fr";
  feed.activity.observe(Source::lms, at(10));
  learners.upsert(feed, at(10));
  CHECK(learners.find("A-1")->language == "en");
}

TEST_CASE("observe moves activity forward only - status changes - active learners stream", "[store][learners]") {
  Db d;
  LearnerRepo learners(d.db);
  Learner a = make_learner("A-1");
  Learner b = make_learner("B-2");
  learners.upsert(a, at(0));
  learners.upsert(b, at(0));
  CHECK(learners.observe(a.key, Source::call, at(10), at(11)));
  CHECK_FALSE(learners.observe(a.key, Source::call, at(5), at(12)));   // older
  CHECK_FALSE(learners.observe(a.key, Source::call, at(10), at(12)));  // same
  CHECK(learners.get(a.key)->activity.last[std::size_t(Source::call)] == to_unix(at(10)));

  learners.set_status(b.key, LearnerStatus::dropped_out, at(20));
  CHECK(learners.get(b.key)->status == LearnerStatus::dropped_out);
  std::vector<std::string> active;
  learners.for_each_active([&](const Learner& l) { active.push_back(l.id); });
  CHECK(active == std::vector<std::string>{"A-1"});
  CHECK_FALSE(learners.get(999));
  CHECK_FALSE(learners.find("nobody"));
}

// ------------------------------------------------------------------ plans

TEST_CASE("a plan survives its JSON snapshot unchanged", "[store][plans]") {
  Plan p = sample_plan();
  const Plan back = plan_from_json(plan_to_json(p));
  CHECK(back.id == p.id);
  CHECK(back.on_exhausted == OnExhausted::declare_dropout);
  CHECK(back.dropout_after == chr::days{7});
  REQUIRE(back.steps.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    INFO("step " << i);
    CHECK(back.steps[i].name == p.steps[i].name);
    CHECK(back.steps[i].action == p.steps[i].action);
    CHECK(back.steps[i].means == p.steps[i].means);
    CHECK(back.steps[i].role == p.steps[i].role);
    CHECK(back.steps[i].template_key == p.steps[i].template_key);
    CHECK(back.steps[i].after_previous == p.steps[i].after_previous);
    CHECK(back.steps[i].at_inactive_days == p.steps[i].at_inactive_days);
    CHECK(back.steps[i].optional == p.steps[i].optional);
    CHECK(back.steps[i].priority == p.steps[i].priority);
  }
  CHECK_FALSE(back.steps[0].at_inactive_days);

  Plan keep;
  keep.id = "k";
  keep.on_exhausted = OnExhausted::keep_open;
  CHECK(plan_from_json(plan_to_json(keep)).on_exhausted == OnExhausted::keep_open);
  CHECK(plan_from_json(plan_to_json(keep)).steps.empty());
}

TEST_CASE("every means survives the plan snapshot", "[store][plans]") {
  for (Means m : {Means::sms, Means::email, Means::phone, Means::matrix, Means::letter, Means::visit, Means::voicemail,
                  Means::prescriber_email, Means::other}) {
    INFO(to_string(m));
    Plan p;
    p.id = "m";
    Step s;
    s.means = m;
    p.steps.push_back(s);
    CHECK(plan_from_json(plan_to_json(p)).steps[0].means == m);
  }
}

TEST_CASE("a corrupt plan snapshot is a clear error", "[store][plans]") {
  CHECK_THROWS_WITH(plan_from_json("not json"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(plan_from_json("[]"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(plan_from_json(R"({"id":"x"})"), Catch::Contains("malformed"));
  CHECK_THROWS_WITH(plan_from_json(R"({"id":"x","on_exhausted":"dropout","dropout_after_days":7,"steps":[{"name":1}]})"),
                    Catch::Contains("malformed"));
}

// ------------------------------------------------------------------ cases

TEST_CASE("a case round-trips through the store with its plan snapshot", "[store][cases]") {
  Db d;
  LearnerRepo learners(d.db);
  CaseRepo cases(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  Case c = make_case(l.key);
  c.next_due = at(7 * 24 * 60);
  c.last_step_at = at(0);
  c.relaunches = 1;
  c.next_step = 1;
  c.answered = true;
  c.outcome_note = "note";
  cases.insert(c);
  REQUIRE(c.id > 0);
  const auto back = cases.get(c.id);
  REQUIRE(back);
  CHECK(back->learner_key == l.key);
  CHECK(back->policy_id == "001-auto-ecole");
  CHECK(back->state == CaseState::open);
  CHECK(back->next_step == 1);
  CHECK(back->relaunches == 1);
  CHECK(back->answered);
  CHECK(back->opened_at == c.opened_at);
  CHECK(back->activity_ref == c.activity_ref);
  CHECK(back->last_step_at == c.last_step_at);
  CHECK(back->next_due == c.next_due);
  CHECK_FALSE(back->closed_at);
  CHECK(back->outcome_note == "note");
  CHECK(back->plan.steps.size() == 2);
  CHECK(back->plan.steps[1].at_inactive_days == chr::days{30});
  CHECK(cases.next_due() == at(7 * 24 * 60));
  CHECK(cases.active_for_learner(l.key).size() == 1);
}

TEST_CASE("update_if_assignee is a compare-and-set: of two claims, only the first wins", "[store][cases][claim]") {
  Db d;
  LearnerRepo learners(d.db);
  CaseRepo cases(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  Case c = make_case(l.key);
  cases.insert(c);

  // Two staff members loaded the case while it was unassigned.
  Case by_marie = *cases.get(c.id);
  Case by_paul = *cases.get(c.id);
  REQUIRE(claim(by_marie, "marie", at(1)).ok());
  REQUIRE(claim(by_paul, "paul", at(1)).ok());

  CHECK(cases.update_if_assignee(by_marie, ""));
  CHECK_FALSE(cases.update_if_assignee(by_paul, ""));
  const auto stored = cases.get(c.id);
  CHECK(stored->assignee == "marie");
  CHECK(stored->state == CaseState::claimed);

  // Marie can still update her own case.
  by_marie.state = CaseState::in_progress;
  CHECK(cases.update_if_assignee(by_marie, "marie"));
  CHECK(cases.get(c.id)->state == CaseState::in_progress);
}

TEST_CASE("update_if_assignee across two connections to the same file", "[store][cases][claim]") {
  Db d;
  LearnerRepo learners(d.db);
  CaseRepo cases(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  Case c = make_case(l.key);
  cases.insert(c);

  Database second(d.dir / "relance.db");
  CaseRepo cases2(second);
  Case a = *cases.get(c.id);
  Case b = *cases2.get(c.id);
  a.assignee = "marie";
  b.assignee = "paul";
  bool won_a = false, won_b = false;
  {
    WriteTransaction tx(d.db);
    won_a = cases.update_if_assignee(a, "");
    tx.commit();
  }
  {
    WriteTransaction tx(second);
    won_b = cases2.update_if_assignee(b, "");
    tx.commit();
  }
  CHECK(won_a);
  CHECK_FALSE(won_b);
  CHECK(cases2.get(c.id)->assignee == "marie");
}

TEST_CASE("coverage gives, per learner and policy, the latest reference and whether a case is active",
          "[store][cases][detection]") {
  Db d;
  LearnerRepo learners(d.db);
  CaseRepo cases(d.db);
  Learner a = make_learner("A-1");
  Learner b = make_learner("B-2");
  learners.upsert(a, at(0));
  learners.upsert(b, at(0));

  Case old_a = make_case(a.key);
  old_a.activity_ref = at(-1000);
  old_a.state = CaseState::resumed;
  old_a.closed_at = at(-10);
  cases.insert(old_a);
  Case new_a = make_case(a.key);
  new_a.activity_ref = at(-100);
  cases.insert(new_a);
  Case a_000 = make_case(a.key, "000-elearning");
  a_000.activity_ref = at(-50);
  a_000.state = CaseState::dropped_out;
  cases.insert(a_000);
  Case b_case = make_case(b.key);
  b_case.activity_ref = at(-200);
  b_case.state = CaseState::closed;
  cases.insert(b_case);

  auto cov = cases.coverage();
  std::sort(cov.begin(), cov.end(), [](const auto& x, const auto& y) {
    return std::tie(x.learner_key, x.policy_id) < std::tie(y.learner_key, y.policy_id);
  });
  REQUIRE(cov.size() == 3);
  CHECK(cov[0].learner_key == a.key);
  CHECK(cov[0].policy_id == "000-elearning");
  CHECK(cov[0].activity_ref == at(-50));
  CHECK_FALSE(cov[0].active);
  CHECK(cov[1].learner_key == a.key);
  CHECK(cov[1].policy_id == "001-auto-ecole");
  CHECK(cov[1].activity_ref == at(-100));
  CHECK(cov[1].active);
  CHECK(cov[2].learner_key == b.key);
  CHECK(cov[2].activity_ref == at(-200));
  CHECK_FALSE(cov[2].active);

  const auto act = cases.active();
  REQUIRE(act.size() == 1);
  CHECK(act[0].id == new_a.id);
}

TEST_CASE("due_ids lists the cases due at `now`, earliest first - next_due is the earliest of all",
          "[store][cases][scheduler]") {
  Db d;
  LearnerRepo learners(d.db);
  CaseRepo cases(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  auto with_due = [&](std::optional<Timestamp> due) {
    Case c = make_case(l.key);
    c.next_due = due;
    cases.insert(c);
    return c.id;
  };
  const auto late = with_due(at(30));
  const auto early = with_due(at(10));
  const auto future = with_due(at(90));
  with_due(std::nullopt);  // nothing scheduled (kept open, or closed)
  const auto exact = with_due(at(60));

  CHECK(cases.due_ids(at(0)).empty());
  CHECK(cases.due_ids(at(60)) == std::vector<std::int64_t>{early, late, exact});
  CHECK(cases.due_ids(at(1000)) == std::vector<std::int64_t>{early, late, exact, future});
  CHECK(cases.next_due() == at(10));

  // Closing a case clears its due time.
  Case c = *cases.get(early);
  REQUIRE(mark_resumed(c, "marie", "", at(11)).ok());
  cases.update(c);
  CHECK(cases.due_ids(at(60)) == std::vector<std::int64_t>{late, exact});
  CHECK(cases.next_due() == at(30));
}

TEST_CASE("in_period lists cases opened before the end and not closed before the start", "[store][cases][register]") {
  Db d;
  LearnerRepo learners(d.db);
  CaseRepo cases(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  auto mk = [&](Timestamp opened, std::optional<Timestamp> closed) {
    Case c = make_case(l.key);
    c.opened_at = opened;
    c.closed_at = closed;
    if (closed) c.state = CaseState::resumed;
    cases.insert(c);
    return c.id;
  };
  const auto before = mk(at(-100), at(-50));   // closed before the period
  const auto spans = mk(at(-100), std::nullopt);
  const auto inside = mk(at(10), at(20));
  const auto after = mk(at(200), std::nullopt);  // opened after the period
  const auto closes_in = mk(at(-100), at(5));
  (void)before;
  (void)after;
  std::vector<std::int64_t> ids;
  for (const auto& c : cases.in_period(at(0), at(100))) ids.push_back(c.id);
  CHECK(ids == std::vector<std::int64_t>{spans, inside, closes_in});
}

// ------------------------------------------------------------------ tasks

TEST_CASE("tasks: open, overdue and completed for a case", "[store][tasks]") {
  Db d;
  LearnerRepo learners(d.db);
  CaseRepo cases(d.db);
  TaskRepo tasks(d.db);
  Learner l = make_learner("A-1");
  learners.upsert(l, at(0));
  Case c = make_case(l.key);
  cases.insert(c);
  Task t;
  t.case_id = c.id;
  t.step = 2;
  t.role = "direction";
  t.means = Means::phone;
  t.template_key = "ladder_3";
  t.created_at = at(0);
  t.due = at(2 * 24 * 60);
  tasks.insert(t);
  CHECK(tasks.open_for_case(c.id).size() == 1);
  CHECK(tasks.overdue(at(2 * 24 * 60)).empty());  // due, not yet overdue
  const auto over = tasks.overdue(at(2 * 24 * 60 + 1));
  REQUIRE(over.size() == 1);
  CHECK(over[0].role == "direction");
  CHECK(over[0].means == Means::phone);
  CHECK(over[0].step == 2);
  CHECK(tasks.complete_for_case(c.id, "sophie", at(3000)) == 1);
  CHECK(tasks.open_for_case(c.id).empty());
  CHECK(tasks.overdue(at(100000)).empty());
  CHECK(tasks.complete_for_case(c.id, "sophie", at(3001)) == 0);
}

// ------------------------------------------------------------------ inbound dedupe and kv

TEST_CASE("inbound messages are seen once per source - kv stores small values", "[store][misc]") {
  Db d;
  CHECK(first_seen(d.db, "twilio", "SM123", at(0)));
  CHECK_FALSE(first_seen(d.db, "twilio", "SM123", at(1)));
  CHECK(first_seen(d.db, "kannel", "SM123", at(1)));
  CHECK_FALSE(kv_get(d.db, "scheduler.next_wake"));
  kv_set(d.db, "scheduler.next_wake", "1790000000");
  kv_set(d.db, "scheduler.next_wake", "1790000600");
  CHECK(kv_get(d.db, "scheduler.next_wake") == "1790000600");
}

// ------------------------------------------------------------------ schema on first use

namespace {

// A database left at schema `version` by an older relance.
void migrate_to(Database& db, int version) {
  for (const auto& m : migrations()) {
    if (m.version > version) break;
    db.sql().exec(m.sql);
    db.sql().exec("PRAGMA user_version=" + std::to_string(m.version));
  }
}

}  // namespace

TEST_CASE("the first verb on a new database creates its schema, a foreign file is refused untouched",
          "[store][migrations][ensure_schema]") {
  TempDir dir;
  {
    Database db(dir / "new.db");
    const auto applied = db.ensure_schema();
    CHECK(applied.size() == migrations().size());
    CHECK(db.schema_version() == latest_schema_version());
    CHECK(db.ensure_schema().empty());  // then nothing to do
  }
  {
    Database foreign(dir / "foreign.db");
    foreign.sql().exec("CREATE TABLE notes (x TEXT)");
    CHECK_THROWS_WITH(foreign.ensure_schema(), Catch::Contains("foreign.db") && Catch::Contains("not a relance database"));
    CHECK(foreign.schema_version() == 0);
    CHECK(foreign.sql().execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").getInt() == 1);
  }
}

TEST_CASE("an older database is upgraded at start, unless an upgrade is marked explicit",
          "[store][migrations][ensure_schema]") {
  // None of the shipped migrations needs an administrator: each runs in one
  // transaction, so a crash leaves the old schema.
  for (const auto& m : migrations()) CHECK(explicit_reason(m).empty());
  const Migration marked{99, "0099_x.sql", "-- Copies every journal line.\n-- explicit: copies every journal line\nSELECT 1;"};
  CHECK(explicit_reason(marked) == "copies every journal line");

  TempDir dir;
  {
    Database db(dir / "v3.db");
    migrate_to(db, 3);
    const auto applied = db.ensure_schema();
    REQUIRE_FALSE(applied.empty());
    CHECK(applied.front() == 4);
    CHECK(db.schema_version() == latest_schema_version());
  }
}

TEST_CASE("upgrading to schema 5 gives recorded bot relaunches what really became of their message",
          "[store][migrations]") {
  TempDir dir;
  Database db(dir / "v4.db");
  migrate_to(db, 4);
  auto& sql = db.sql();
  sql.exec("INSERT INTO learner (key, id, first_seen, updated_at) VALUES (1, 'L1', 0, 0)");
  // Five cases, each with step 0 "sent" by the old code, and its SMS in five states.
  struct Row { const char* status; const char* delivery; int attempts; const char* error; const char* want; };
  const Row rows[] = {{"pending", "", 0, "", "queued"},
                      {"sent", "", 1, "", "sent"},
                      {"sent", "delivered", 1, "", "delivered"},
                      {"failed", "", 3, "403 Forbidden", "failed"},
                      {"cancelled", "", 0, "opted out of SMS", "not_sent"}};
  for (int i = 0; i < 5; ++i) {
    const std::string id = std::to_string(i + 1);
    sql.exec("INSERT INTO learner_case (id, learner_key, policy_id, plan, state, opened_at, activity_ref) VALUES (" + id +
             ", 1, '001', '{}', 'open', 1000, 0)");
    sql.exec(std::string("INSERT INTO outbox (id, created_at, channel, recipient, template, params, case_id, learner_key, "
                         "dedupe_key, not_before, status, attempts, next_attempt, last_error, sent_at, delivery) VALUES (") +
             id + ", 1000, 'sms', '+33612345678', 'learner.ladder_1', '{}', " + id + ", 1, 'case:" + id +
             ":step:0:sms', 2000, '" + rows[i].status + "', " + std::to_string(rows[i].attempts) + ", 2000, '" +
             rows[i].error + "', " + (std::string(rows[i].status) == "sent" ? "2042" : "NULL") + ", '" + rows[i].delivery + "')");
    sql.exec("INSERT INTO relaunch (case_id, at, actor, means, result, step, automatic) VALUES (" + id +
             ", 2000, 'relance', 'sms', 'sent', 0, 1)");
  }
  // And one staff relaunch, untouched.
  sql.exec("INSERT INTO relaunch (case_id, at, actor, means, result, comment, step, automatic) "
           "VALUES (1, 3000, 'marie', 'phone', 'reached', 'reprend lundi', 0, 0)");

  db.ensure_schema();
  RelaunchRepo repo(db);
  for (int i = 0; i < 5; ++i) {
    const auto rs = repo.for_case(i + 1);
    const Relaunch& bot = rs.front();
    INFO(rows[i].status << " " << rows[i].delivery);
    CHECK(bot.automatic);
    CHECK(to_string(bot.result) == rows[i].want);
    CHECK(bot.outbox_id == i + 1);
    // Sent: when it left; otherwise when it was queued.
    CHECK(to_unix(bot.at) == (std::string(rows[i].status) == "sent" ? 2042 : 1000));
    CHECK(bot.comment == rows[i].error);
  }
  const auto staff = repo.for_case(1).back();
  CHECK_FALSE(staff.automatic);
  CHECK(staff.result == Result::reached);
  CHECK(staff.outbox_id == 0);
  CHECK(staff.comment == "reprend lundi");
}

TEST_CASE("a transaction opened inside another is a savepoint: durable only with the outer commit",
          "[store][transactions]") {
  Db d;
  auto count = [&] { return d.db.sql().execAndGet("SELECT COUNT(*) FROM kv").getInt(); };
  {
    WriteTransaction outer(d.db);
    kv_set(d.db, "outer", "1");
    {
      WriteTransaction inner(d.db);
      kv_set(d.db, "inner.kept", "1");
      inner.commit();
    }
    {
      WriteTransaction inner(d.db);
      kv_set(d.db, "inner.dropped", "1");
      // destroyed uncommitted (a refused command): only its own writes go
    }
    CHECK(count() == 2);
    outer.commit();
  }
  CHECK(kv_get(d.db, "outer") == "1");
  CHECK(kv_get(d.db, "inner.kept") == "1");
  CHECK_FALSE(kv_get(d.db, "inner.dropped"));
  {
    WriteTransaction outer(d.db);
    {
      WriteTransaction inner(d.db);
      kv_set(d.db, "lost", "1");
      inner.commit();
    }
    // the outer one is not committed (a crash, an exception): nothing stays
  }
  CHECK_FALSE(kv_get(d.db, "lost"));
  CHECK(count() == 2);
}

TEST_CASE("timers: one per kind and subject, re-arming moves it, a firing taken for an old generation does nothing",
          "[store][timers]") {
  Db d;
  TimerRepo timers(d.db);
  CHECK_FALSE(timers.next_due());
  const auto g1 = timers.arm("escalation", "7", at(60), R"({"role":"secretariat","level":0})");
  timers.arm("digest", "", at(30));
  CHECK(timers.next_due() == at(30));
  auto due = timers.due(at(60));
  REQUIRE(due.size() == 2);
  CHECK(due[0].kind == "digest");
  CHECK(due[1].kind == "escalation");
  CHECK(due[1].generation == g1);
  CHECK(due[1].payload == R"({"role":"secretariat","level":0})");

  // Moved (the alert was answered and re-raised) after it was read: the
  // firing taken with what was read is stale.
  const auto g2 = timers.arm("escalation", "7", at(120), R"({"role":"pedagogie","level":1})");
  CHECK(g2 == g1 + 1);
  CHECK_FALSE(timers.fire(due[1]));
  CHECK(timers.get("escalation", "7")->due == at(120));
  CHECK(timers.fire(due[0]));
  CHECK_FALSE(timers.fire(due[0]));  // taken once
  CHECK(timers.next_due() == at(120));

  timers.cancel("escalation", "7");
  CHECK_FALSE(timers.get("escalation", "7"));
  CHECK_FALSE(timers.next_due());
}

TEST_CASE("upgrading to schema 8 moves the escalation clocks onto timers, still readable as `escalation`",
          "[store][migrations][timers]") {
  TempDir dir;
  Database db(dir / "relance.db");
  migrate_to(db, 7);
  db.sql().exec("INSERT INTO learner (id, first_seen, updated_at) VALUES ('L1', 0, 0)");
  db.sql().exec("INSERT INTO learner_case (learner_key, policy_id, plan, opened_at, activity_ref, state) "
                "VALUES (1, '001', '{}', 0, 0, 'open')");
  db.sql().exec("INSERT INTO escalation (case_id, role, level, due) VALUES (1, 'pedagogie', 1, 1790003600)");
  db.migrate();
  TimerRepo timers(db);
  auto t = timers.get("escalation", "1");
  REQUIRE(t);
  CHECK(t->due == from_unix(1'790'003'600));
  CHECK(t->payload == R"({"role":"pedagogie","level":1})");
  SQLite::Statement q(db.sql(), "SELECT case_id, role, level, due FROM escalation");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getInt64() == 1);
  CHECK(q.getColumn(1).getString() == "pedagogie");
  CHECK(q.getColumn(2).getInt() == 1);
  CHECK(q.getColumn(3).getInt64() == 1'790'003'600);
}
