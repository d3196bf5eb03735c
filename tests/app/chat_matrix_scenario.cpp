// Staff chat on Matrix, end to end as the staff would check it: the real
// service (scheduler, outbox dispatcher, sync loop) against the fake
// homeserver; staff invite the bot, react ✋ and type !relance commands.
#include "chat_harness.hpp"

#include "adapters/matrix/matrix_wire.hpp"
#include "tests/support/fake_matrix.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <set>

using namespace relance;
using namespace relance::test::chat_scn;
using nlohmann::json;
using test::FakeMatrix;
using test::wait_until;

namespace {

struct MxRig {
  MxRig()
      : bot(hs.add_user("relance", "secret")),
        alice(hs.add_user("alice", "pw")),
        bob(hs.add_user("bob", "pw")),
        mallory(hs.add_user("mallory", "pw")),
        room(hs.create_room(alice, {.name = "Accueil", .members = {bob, mallory}})),
        encrypted(hs.create_room(alice, {.name = "Direction", .encrypted = true, .members = {bot}})),
        port(free_port()),
        f(config_text()) {}

  std::string config_text() const {
    return base_toml(port) + R"(
[[policy]]
id = "002"
cohorts = ["cpf"]
sources = ["lesson", "lms"]
days = 30
plan = "later"

[matrix]
homeserver = ")" + hs.url() + R"("
user_id = ")" + bot + R"("
password = "secret"
device_id = "RELANCE"
default_room = ")" + room + R"("
  [[matrix.route]]
  policy = "002"
  room = ")" + encrypted + "\"\n";
  }

  // The bot's m.room.message events in a room, in order.
  std::vector<FakeMatrix::SentEvent> bot_messages(const std::string& room_id) const {
    std::vector<FakeMatrix::SentEvent> out;
    for (auto& e : hs.sent_events())
      if (e.room_id == room_id && e.sender == bot && e.type == "m.room.message") out.push_back(e);
    return out;
  }
  // Alerts: the bot's posts that start a thread (no relation) and mention
  // the role's members (not a notice about another room).
  std::vector<FakeMatrix::SentEvent> alerts() const {
    std::vector<FakeMatrix::SentEvent> out;
    for (auto& e : bot_messages(room))
      if (!e.content.contains("m.relates_to") && e.txn_id.rfind("relance.", 0) == 0 &&
          !e.content.value("m.mentions", json::object()).value("user_ids", json::array()).empty())
        out.push_back(e);
    return out;
  }
  std::optional<FakeMatrix::SentEvent> alert_of(int case_no) const {
    const std::string needle = "Dossier #" + std::to_string(case_no) + " ";
    for (auto& e : alerts())
      if (e.content.value("body", "").find(needle) != std::string::npos) return e;
    return std::nullopt;
  }
  // The bot's events in the thread of `root` (m.thread relation to it).
  std::vector<FakeMatrix::SentEvent> thread(const std::string& root) const {
    std::vector<FakeMatrix::SentEvent> out;
    for (auto& e : bot_messages(room)) {
      const auto& rel = e.content.value("m.relates_to", json::object());
      if (rel.value("rel_type", "") == "m.thread" && rel.value("event_id", "") == root) out.push_back(e);
    }
    return out;
  }
  bool thread_has(const std::string& root, const std::string& text) const {
    for (auto& e : thread(root))
      if (e.content.value("body", "").find(text) != std::string::npos) return true;
    return false;
  }
  bool room_has(const std::string& text) const {
    for (auto& e : bot_messages(room))
      if (e.content.value("body", "").find(text) != std::string::npos) return true;
    return false;
  }

  DbView db() { return DbView(f.config.database); }
  int requests_to(const std::string& path_part) {
    int n = 0;
    for (const auto& r : hs.server().requests())
      if (r.path.find(path_part) != std::string::npos) ++n;
    return n;
  }

  FakeMatrix hs;
  std::string bot, alice, bob, mallory, room, encrypted;
  std::uint16_t port;
  test::Fixture f;
  MovingClock clock;
};

std::string case_col(DbView& db, int id, const char* col) {
  return db.text("SELECT " + std::string(col) + " FROM learner_case WHERE id = " + std::to_string(id));
}

int sent_rows(DbView& db) {
  return db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.matrix' AND status = 'sent'");
}

// Every outbox row of the room exactly once as an event (txnId relance.<id>),
// in outbox order, and recorded with its event id.
void check_once_in_order(MxRig& rig, int expected) {
  std::vector<std::int64_t> ids;
  std::set<std::int64_t> seen;
  auto db = rig.db();
  for (auto& e : rig.bot_messages(rig.room)) {
    if (e.txn_id.rfind("relance.", 0) != 0) continue;
    const auto id = std::stoll(e.txn_id.substr(8));
    INFO("outbox " << id);
    CHECK(seen.insert(id).second);
    ids.push_back(id);
    CHECK(db.text("SELECT remote_id FROM outbox WHERE id = " + std::to_string(id)) == e.event_id);
  }
  CHECK(int(ids.size()) == expected);
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(sent_rows(db) == expected);
}

}  // namespace

TEST_CASE("matrix: invited by staff, alert, claim by ✋, relaunch and resumed by !relance, encrypted room refused",
          "[chat][matrix][scenario]") {
  MxRig rig;
  // A staff member invites the bot to the staff room: the service accepts.
  rig.hs.invite(rig.alice, rig.room, rig.bot);
  {
    Service svc(*rig.f.engine, rig.clock);
    REQUIRE(wait_until([&] { return rig.hs.membership(rig.room, rig.bot) == "join"; }, 20s));
  }
  // Then learners drop out of sight; the service is started again.
  add_inactive(*rig.f.engine, 2, rig.clock());
  add_inactive(*rig.f.engine, 1, rig.clock(), "cpf", "C");
  Service svc(*rig.f.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.alerts().size() == 2; }, 20s));

  // ----- the alert: a notice with HTML, mentioning the role's members -----
  auto alert = *rig.alert_of(1);
  CHECK(alert.content["msgtype"] == "m.notice");
  CHECK(alert.content["format"] == "org.matrix.custom.html");
  CHECK_THAT(alert.content["formatted_body"].get<std::string>(), Catch::Contains("Apprenant L1"));
  CHECK(alert.content["m.mentions"]["user_ids"] == json::array({rig.alice, rig.bob}));
  CHECK_THAT(alert.content["body"].get<std::string>(), Catch::Contains("✋"));

  // ----- a stranger's ✋ changes nothing -----
  rig.hs.react(rig.room, rig.mallory, alert.event_id, "✋");
  // ----- ✋ from alice claims it -----
  rig.hs.react(rig.room, rig.alice, alert.event_id, "✋");
  CHECK(wait_until([&] { return rig.thread_has(alert.event_id, "pris en charge par Alice Martin"); }, 15s));
  // The alert itself is edited (m.replace) to show who holds it.
  CHECK(wait_until([&] {
    for (auto& e : rig.bot_messages(rig.room)) {
      const auto& rel = e.content.value("m.relates_to", json::object());
      if (rel.value("rel_type", "") == "m.replace" && rel.value("event_id", "") == alert.event_id &&
          e.content.value("m.new_content", json::object()).value("body", "").find("Alice Martin") != std::string::npos)
        return true;
    }
    return false;
  }, 15s));
  {
    auto db = rig.db();
    CHECK(case_col(db, 1, "assignee") == "alice");
    CHECK(case_col(db, 1, "state") == "claimed");
    CHECK(db.count("SELECT COUNT(*) FROM journal WHERE action = 'case.claimed'") == 1);
  }

  // ----- the relaunch, typed in the room -----
  rig.hs.send_text(rig.room, rig.alice, "!relance relance 1 tel joint \"rappel lundi\"");
  CHECK(wait_until([&] { return rig.room_has("Relance notée sur le dossier #1"); }, 15s));
  CHECK(wait_until([&] { return rig.thread_has(alert.event_id, "relance notée par Alice Martin"); }, 15s));
  {
    auto db = rig.db();
    CHECK(db.count("SELECT COUNT(*) FROM relaunch WHERE case_id = 1 AND actor = 'alice'") == 1);
    CHECK(db.text("SELECT comment FROM relaunch WHERE case_id = 1") == "rappel lundi");
  }

  // ----- resumed -----
  rig.hs.send_text(rig.room, rig.alice, "!relance repris 1");
  CHECK(wait_until([&] { return rig.thread_has(alert.event_id, "a repris"); }, 15s));
  {
    auto db = rig.db();
    CHECK(case_col(db, 1, "state") == "resumed");
  }
  // Every notice in the thread is a notice with HTML.
  for (auto& e : rig.thread(alert.event_id)) {
    CHECK(e.content["msgtype"] == "m.notice");
    CHECK(e.content.contains("formatted_body"));
  }
  CHECK(rig.alerts().size() == 2);

  // ----- the encrypted room: nothing in clear, a notice says why, the row
  // kept pending, and the staff room told which case waits for it -----
  auto db = rig.db();
  REQUIRE(wait_until([&] { return rig.room_has("#3") && rig.room_has(rig.encrypted); }, 15s));
  CHECK(db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.matrix' AND recipient = '" + rig.encrypted +
                 "' AND status = 'pending'") == 1);
  CHECK(db.count("SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == 0);
  CHECK_THAT(db.text("SELECT last_error FROM outbox WHERE recipient = '" + rig.encrypted + "'"),
             Catch::Contains("encrypted"));
  auto in_enc = rig.bot_messages(rig.encrypted);
  REQUIRE(in_enc.size() == 1);
  CHECK_THAT(in_enc[0].content["body"].get<std::string>(), Catch::Contains("chiffré"));
  CHECK_THAT(in_enc[0].content.dump(), !Catch::Contains("Apprenant"));
  // Told once, however often the room is tried again.
  int told = 0;
  for (auto& e : rig.bot_messages(rig.room))
    if (e.content.value("body", "").find(rig.encrypted) != std::string::npos) ++told;
  CHECK(told == 1);
}

TEST_CASE("matrix: killed in the middle and restarted, txnIds make retries idempotent", "[chat][matrix][scenario]") {
  constexpr int cases = 40;
  MxRig rig;
  rig.hs.join(rig.bot, rig.room);
  add_inactive(*rig.f.engine, cases, rig.clock());
  {
    Service svc(*rig.f.engine, rig.clock);
    REQUIRE(wait_until([&] { return rig.alerts().size() >= 12; }, 20s));
  }
  const auto before = rig.alerts().size();
  REQUIRE(before < std::size_t(cases));

  // The next sends reach the server but their answers are lost (three times:
  // every inline attempt); the service is killed while the row waits.
  rig.hs.fail_next(3, FakeMatrix::Fault::drop_after_processing, "/send/m.room.message/");
  {
    auto db = rig.db();
    const auto next = db.db.sql().execAndGet(
        "SELECT MIN(id) FROM outbox WHERE channel = 'staff.matrix' AND status = 'pending'").getInt64();
    Restarted again(rig.f);
    Service svc(again.engine, rig.clock);
    // Either the row waits for its next attempt (answers lost), or a
    // retransmission inside send() was answered from the txn cache.
    REQUIRE(wait_until([&] {
      return db.text("SELECT last_error FROM outbox WHERE id = " + std::to_string(next)) != "" ||
             db.text("SELECT status FROM outbox WHERE id = " + std::to_string(next)) == "sent";
    }, 20s));
  }
  Restarted third(rig.f);
  Service svc(third.engine, rig.clock);
  auto db = rig.db();
  REQUIRE(wait_until([&] { return sent_rows(db) == cases; }, 30s));
  svc.stop();
  std::cout << "matrix restart: " << before << " alerts before the kill, " << rig.hs.retransmissions()
            << " retransmissions answered from the txn cache\n";
  check_once_in_order(rig, cases);
}

TEST_CASE("matrix: a rate-limited burst of 500 alerts, none lost or doubled", "[chat][matrix][scenario]") {
  constexpr int cases = 500;
  MxRig rig;
  rig.hs.join(rig.bot, rig.room);
  rig.hs.set_rate_limit(FakeMatrix::RateLimit{150, 20, false});
  // Sends here go at the pace of the SQLite commits (two per post), below
  // the bucket on most machines: a few refusals are forced whatever the pace.
  // Their short retry_after_ms keeps the pace the adapter learns from them
  // above that rate (the RateGate keeps a refusal's wait as its spacing).
  rig.hs.limit_next(3, 10ms, "/send/");
  add_inactive(*rig.f.engine, cases, rig.clock());
  const auto t0 = std::chrono::steady_clock::now();
  Service svc(*rig.f.engine, rig.clock);
  auto db = rig.db();
  const bool all = wait_until([&] { return sent_rows(db) == cases; }, 45s);
  INFO("sent " << sent_rows(db) << ", events " << rig.bot_messages(rig.room).size() << ", 429s "
       << rig.hs.rate_limited_count() << ", first pending: "
       << db.text("SELECT coalesce(group_concat(id || ' started ' || started || ' attempts ' || attempts || ' ' || last_error, ' | '), '') "
                  "FROM (SELECT * FROM outbox WHERE channel = 'staff.matrix' AND status = 'pending' ORDER BY id LIMIT 2)"));
  REQUIRE(all);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  svc.stop();
  std::cout << "matrix burst: " << cases << " alerts in " << took.count() << " ms, " << rig.hs.rate_limited_count()
            << " answered 429 M_LIMIT_EXCEEDED\n";
  CHECK(rig.hs.rate_limited_count() >= 3);
  check_once_in_order(rig, cases);
}

TEST_CASE("matrix: alerts due while the bot's invite is pending reach the room once it joins", "[chat][matrix][scenario]") {
  // The usual first start: a staff member has just invited the bot, and the
  // first scan finds inactive learners before the first /sync accepted it.
  MxRig rig;
  rig.hs.invite(rig.alice, rig.room, rig.bot);
  add_inactive(*rig.f.engine, 3, rig.clock());
  Service svc(*rig.f.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.hs.membership(rig.room, rig.bot) == "join"; }, 20s));
  auto db = rig.db();
  CHECK(wait_until([&] { return sent_rows(db) == 3; }, 20s));
  INFO(db.text("SELECT group_concat(status || ': ' || last_error, ' | ') FROM outbox WHERE channel = 'staff.matrix'"));
  CHECK(db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.matrix' AND status = 'failed'") == 0);
  CHECK(rig.alerts().size() == 3);
}

// ------------------------------------------- answers, rate limits, outages

namespace {

// The bot's events answering `event_id` (m.in_reply_to it, in a thread or not).
int answers_to(const MxRig& rig, const std::string& event_id) {
  int n = 0;
  for (auto& e : rig.bot_messages(rig.room)) {
    const auto rel = e.content.value("m.relates_to", json::object());
    if (rel.value("m.in_reply_to", json::object()).value("event_id", "") == event_id) ++n;
  }
  return n;
}

// The alerts (thread roots) were each sent once, in outbox order.
void check_alerts_once_in_order(MxRig& rig, int expected) {
  std::vector<std::int64_t> ids;
  for (auto& e : rig.alerts()) ids.push_back(std::stoll(e.txn_id.substr(8)));
  CHECK(int(ids.size()) == expected);
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::set<std::int64_t>(ids.begin(), ids.end()).size() == ids.size());
}

// A command and its answer, so that everything the sync had before is done.
// (A first start ignores the history its initial sync brings: wait for it.)
void round_trip(MxRig& rig, const std::string& text = "!relance aide") {
  auto db = rig.db();
  REQUIRE(wait_until([&] { return db.count("SELECT COUNT(*) FROM kv WHERE key = 'matrix.next_batch'") == 1; }, 20s));
  const auto probe = rig.hs.send_text(rig.room, rig.alice, text);
  REQUIRE(wait_until([&] { return answers_to(rig, probe) == 1; }, 20s));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("matrix: a command run just before a crash is answered once after the restart", "[chat][matrix][scenario]") {
  MxRig rig;
  rig.hs.join(rig.bot, rig.room);
  add_inactive(*rig.f.engine, 1, rig.clock());
  std::string cmd;
  {
    Service svc(*rig.f.engine, rig.clock);
    REQUIRE(wait_until([&] { return rig.alerts().size() == 1; }, 20s));
    // From now on nothing the bot sends gets through; it is killed once the
    // command has been seen and run, before any answer could go out.
    rig.hs.fail_next(1'000'000, FakeMatrix::Fault::drop, "/send/");
    cmd = rig.hs.send_text(rig.room, rig.alice, "!relance relance 1 tel joint \"rappel lundi\"");
    auto db = rig.db();
    REQUIRE(wait_until([&] { return db.count("SELECT COUNT(*) FROM relaunch WHERE case_id = 1") == 1; }, 15s));
  }
  CHECK(answers_to(rig, cmd) == 0);
  rig.hs.clear_faults();
  Restarted again(rig.f);
  Service svc(again.engine, rig.clock);
  REQUIRE(wait_until([&] { return answers_to(rig, cmd) == 1; }, 20s));
  round_trip(rig);  // anything replayed after the restart has been handled by now
  CHECK(answers_to(rig, cmd) == 1);
  auto db = rig.db();
  CHECK(db.count("SELECT COUNT(*) FROM relaunch WHERE case_id = 1") == 1);
  CHECK(rig.room_has("Relance notée sur le dossier #1"));
}

TEST_CASE("matrix: under Synapse's stock rate limit a command is answered before the queued alerts",
          "[chat][matrix][scenario]") {
  constexpr int cases = 40;
  MxRig rig;
  rig.hs.join(rig.bot, rig.room);
  // Synapse's stock rc_message (0.2 message/s, burst 10), ten times faster:
  // a post every 0.5 s once the burst is spent (the real one: every 5 s).
  rig.hs.set_rate_limit(FakeMatrix::RateLimit{2.0, 10, false});
  add_inactive(*rig.f.engine, cases, rig.clock());
  Service svc(*rig.f.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.alerts().size() >= 12; }, 20s));
  const auto t0 = std::chrono::steady_clock::now();
  const auto cmd = rig.hs.send_text(rig.room, rig.alice, "!relance aide");
  REQUIRE(wait_until([&] { return answers_to(rig, cmd) == 1; }, 60s));
  const double took = seconds_since(t0);
  const auto alerts_then = rig.alerts().size();
  std::cout << "matrix rate limit: answered in " << took << " s with " << cases - int(alerts_then)
            << " alerts still queued, " << rig.hs.rate_limited_count() << " 429s so far\n";
  // A few tokens at most (the one the current alert waits for, then its
  // own), not the 28 alerts queued (14 s here, 140 s at the real limit).
  CHECK(took < 3.0);
  CHECK(int(alerts_then) <= cases - 20);
  auto db = rig.db();
  REQUIRE(wait_until([&] { return rig.alerts().size() == cases; }, 60s));
  check_alerts_once_in_order(rig, cases);
}

TEST_CASE("matrix: rejecting a stranger's invite, stuck on the homeserver, does not hold the staff's commands",
          "[chat][matrix][scenario]") {
  MxRig rig;
  rig.hs.join(rig.bot, rig.room);
  Service svc(*rig.f.engine, rig.clock);
  round_trip(rig);
  // The leave that rejects the invite gets no answer (until the client's
  // 30 s timeout): a rate-limited or stuck call, as slow as they come.
  rig.hs.fail_next(3, FakeMatrix::Fault::hang, "/leave");
  const auto stranger_room = rig.hs.invite_to_new_room(rig.mallory, rig.bot);
  REQUIRE(wait_until([&] { return rig.requests_to("/leave") >= 1; }, 10s));
  const auto t0 = std::chrono::steady_clock::now();
  const auto cmd = rig.hs.send_text(rig.room, rig.alice, "!relance aide");
  REQUIRE(wait_until([&] { return answers_to(rig, cmd) == 1; }, 40s));
  const double took = seconds_since(t0);
  std::cout << "matrix stuck leave: command answered in " << took << " s\n";
  CHECK(took < 2.0);
  CHECK(rig.hs.membership(stranger_room, rig.bot) == "invite");  // the leave is still stuck
}

TEST_CASE("matrix: a command in the part of a limited timeline the sync skipped is back-filled and answered once",
          "[chat][matrix][scenario]") {
  MxRig rig;
  rig.hs.join(rig.bot, rig.room);
  {
    Service svc(*rig.f.engine, rig.clock);
    round_trip(rig);
  }
  // While relance is away: a command, then more chatter than a timeline
  // holds (the filter's limit is 50): the next /sync is `limited`.
  const auto cmd = rig.hs.send_text(rig.room, rig.alice, "!relance aide");
  for (int i = 0; i < 60; ++i) rig.hs.send_text(rig.room, rig.bob, "bavardage " + std::to_string(i));
  LogCapture logs;
  Restarted again(rig.f);
  Service svc(again.engine, rig.clock);
  REQUIRE(wait_until([&] { return answers_to(rig, cmd) == 1; }, 20s));
  round_trip(rig);
  CHECK(answers_to(rig, cmd) == 1);
  svc.stop();
  // Nothing was missed: no warning about it.
  INFO(logs.dump());
  CHECK(logs.count(spdlog::level::warn, "limited") == 0);
}

TEST_CASE("matrix: after an outage the queued alerts go out as soon as the homeserver answers, logged once",
          "[chat][matrix][scenario]") {
  constexpr int cases = 5;
  MxRig rig;
  rig.hs.join(rig.bot, rig.room);
  {
    // A first run logs in and keeps its token, as a running service has.
    Service svc(*rig.f.engine, rig.clock);
    round_trip(rig);
  }
  add_inactive(*rig.f.engine, cases, rig.clock());
  rig.hs.set_down(FakeMatrix::Fault::bad_gateway);
  LogCapture logs;
  {
    Restarted again(rig.f);
    Service svc(again.engine, rig.clock);
    auto db = rig.db();
    // The alerts are queued and tried; the homeserver stays down 6 s.
    REQUIRE(wait_until([&] { return db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.matrix' AND started > 0") >= 1; }, 20s));
    const auto down_until = std::chrono::steady_clock::now() + 6s;
    wait_until([&] { return std::chrono::steady_clock::now() >= down_until; }, 10s);
    rig.hs.set_down(std::nullopt);
    const auto t0 = std::chrono::steady_clock::now();
    // The alerts (the first run's answer is a sent row too, without a case).
    const bool all = wait_until([&] {
      return db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.matrix' AND status = 'sent' AND case_id IS NOT NULL") == cases;
    }, 60s);
    INFO(db.text("SELECT coalesce(group_concat(id || ' ' || status || ' started ' || started || ' attempts ' || attempts "
                 "|| ' next ' || next_attempt || ' ' || last_error, ' | '), '') FROM outbox WHERE channel = 'staff.matrix'"));
    INFO(logs.dump());
    REQUIRE(all);
    const double took = seconds_since(t0);
    std::cout << "matrix outage: the " << cases << " alerts went out " << took << " s after the homeserver was back\n";
    CHECK(took < 2.5);
    round_trip(rig);
  }
  INFO(logs.dump());
  // One line when it started, one when it ended: not one per post or retry.
  CHECK(logs.count(spdlog::level::warn, "matrix: the server does not answer") == 1);
  CHECK(logs.count(spdlog::level::info, "matrix: the server answers again") == 1);
  int warnings = 0;
  for (const auto& [level, text] : logs.lines())
    if (level >= spdlog::level::warn) ++warnings;
  // The dispatcher's line, and at most one each from the login and the sync loop.
  CHECK(warnings <= 3);
  check_alerts_once_in_order(rig, cases);
}
