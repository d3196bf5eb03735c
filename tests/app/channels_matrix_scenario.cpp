// Relaunches to learners in Matrix direct rooms, end to end: the real service
// against the fake homeserver. The bot opens a DM with the learner (recorded
// in its m.direct), sends the relaunch as m.text; the learner's answer in
// that room is stored, is a sign of life, and is posted to staff in the
// case's thread of the staff room.
#include "channels_harness.hpp"

#include "tests/support/fake_matrix.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace relance;
using namespace relance::test::channels_scn;
using nlohmann::json;
using test::FakeMatrix;
using test::utc;
using test::wait_until;

namespace {

struct Rig {
  Rig()
      : bot(hs.add_user("relance", "secret")),
        alice(hs.add_user("alice", "pw")),
        lea(hs.add_user("lea", "pw")),
        room(hs.create_room(alice, {.name = "Accueil", .members = {bot}})),
        clock(utc("2026-11-23T09:00:00Z")),  // Monday 10:00 Paris
        f(config_text()) {}

  std::string config_text() const {
    return R"(
[organisation]
name = "Organisme test"
timezone = "Europe/Paris"
platform_url = "https://formation.example.org/cours"

[http]
listen = "127.0.0.1"
port = 0

[roles]
secretariat = "Secrétariat"

[[staff]]
id = "alice"
name = "Alice Martin"
roles = ["secretariat"]
matrix = ")" + alice + R"("

[[plan]]
id = "dm"
on_exhausted = "keep_open"
  [[plan.step]]
  action = "message"
  means = "matrix"
  role = "secretariat"
  template = "ladder_1"
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "secretariat"
  template = "ladder_3"
  after_days = 7

[[policy]]
id = "001"
cohorts = ["permis-b"]
sources = ["lesson", "message"]
days = 90
plan = "dm"

[matrix]
homeserver = ")" + hs.url() + R"("
user_id = ")" + bot + R"("
password = "secret"
device_id = "RELANCE"
default_room = ")" + room + "\"\n";
  }

  std::vector<FakeMatrix::SentEvent> bot_messages(const std::string& room_id) const {
    std::vector<FakeMatrix::SentEvent> out;
    for (auto& e : hs.sent_events())
      if (e.room_id == room_id && e.sender == bot && e.type == "m.room.message") out.push_back(e);
    return out;
  }
  // The case's alert in the staff room: the bot's post that starts a thread.
  std::optional<FakeMatrix::SentEvent> alert(int case_id) const {
    const std::string needle = "Dossier #" + std::to_string(case_id) + " ";
    for (auto& e : bot_messages(room))
      if (!e.content.contains("m.relates_to") && e.content.value("body", "").find(needle) != std::string::npos)
        return e;
    return std::nullopt;
  }
  // The bot's post in the thread of `root` whose body has `text`.
  std::optional<FakeMatrix::SentEvent> in_thread(const std::string& root, const std::string& text) const {
    for (auto& e : bot_messages(room)) {
      const auto& rel = e.content.value("m.relates_to", json::object());
      if (rel.value("rel_type", "") == "m.thread" && rel.value("event_id", "") == root &&
          e.content.value("body", "").find(text) != std::string::npos)
        return e;
    }
    return std::nullopt;
  }

  FakeMatrix hs;
  std::string bot, alice, lea, room;
  TestClock clock;
  test::Fixture f;
};

}  // namespace

TEST_CASE("matrix learners: the relaunch in a DM the bot opens, the learner's answer back to staff",
          "[learner][matrix][scenario]") {
  Rig rig;
  Learner l;
  l.id = "M-1";
  l.first_name = "Léa";
  l.last_name = "Rousseau";
  l.matrix_id = rig.lea;
  l.cohort = "permis-b";
  l.activity.observe(Source::lesson, rig.clock() - std::chrono::days(100));
  // A second learner whose Matrix id has no account on the server.
  Learner ghost = l;
  ghost.id = "M-2";
  ghost.first_name = "Gaspard";
  ghost.matrix_id = "@gaspard:fake.test";
  add_learners(*rig.f.engine, {l, ghost}, rig.clock());

  Service svc(*rig.f.engine, rig.clock);
  View v(rig.f);

  // ----- the direct room: made by the bot, the learner invited as a DM -----
  std::string dm;
  REQUIRE(wait_until([&] {
    auto rooms = rig.hs.rooms_of(rig.lea, "invite");
    if (rooms.empty()) return false;
    dm = rooms.front();
    return !rig.bot_messages(dm).empty();
  }, 20s));
  CHECK(dm != rig.room);
  CHECK(rig.hs.membership(dm, rig.bot) == "join");
  CHECK_FALSE(rig.hs.is_encrypted(dm));
  bool invited_direct = false;
  for (const auto& e : rig.hs.room_events(dm))
    if (e.value("type", "") == "m.room.member" && e.value("state_key", "") == rig.lea &&
        e["content"].value("membership", "") == "invite")
      invited_direct = e["content"].value("is_direct", false) && e.value("sender", "") == rig.bot;
  CHECK(invited_direct);
  // Recorded in the bot's m.direct, so any client shows it as a DM.
  REQUIRE(wait_until([&] {
    auto direct = rig.hs.account_data(rig.bot, "m.direct");
    return direct && direct->value(rig.lea, json::array()) == json::array({dm});
  }));

  // ----- the relaunch: one m.text, txnId = the outbox row -----
  const auto rows = v.learner_rows("matrix", "M-1");
  REQUIRE(rows.size() == 1);
  REQUIRE(wait_until([&] { return v.outbox(rows[0].id)->status == "sent"; }));
  const auto row = *v.outbox(rows[0].id);
  auto msgs = rig.bot_messages(dm);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].content["msgtype"] == "m.text");
  CHECK(msgs[0].txn_id == "relance." + std::to_string(row.id));
  CHECK(msgs[0].content["body"] == v.engine.render_learner(row).body);
  CHECK_THAT(msgs[0].content["body"].get<std::string>(), Catch::StartsWith("Bonjour Léa,"));
  CHECK(row.provider == "matrix");
  CHECK(row.remote_id == msgs[0].event_id);
  CHECK(row.recipient == rig.lea);

  // The staff room has the case's alert (its thread gets the answer below).
  const int case1 = v.count("SELECT c.id FROM learner_case c JOIN learner l ON l.key = c.learner_key WHERE l.id = 'M-1'");
  const int case2 = v.count("SELECT c.id FROM learner_case c JOIN learner l ON l.key = c.learner_key WHERE l.id = 'M-2'");
  REQUIRE(wait_until([&] { return rig.alert(case1).has_value() && rig.alert(case2).has_value(); }, 20s));
  const std::string root = rig.alert(case1)->event_id;

  // ----- the unknown Matrix id: no room, the row failed, staff told in its thread -----
  const auto ghost_row = v.learner_rows("matrix", "M-2").at(0).id;
  REQUIRE(wait_until([&] { return v.outbox(ghost_row)->status == "failed"; }, 20s));
  CHECK(rig.hs.rooms_of("@gaspard:fake.test", "invite").empty());
  CHECK(wait_until([&] { return rig.in_thread(rig.alert(case2)->event_id, "n'a pas été envoyé").has_value(); }, 20s));

  // ----- Léa joins and answers -----
  rig.hs.accept_invite(rig.lea, dm);
  const std::string answer = "Bonjour ! J'ai été malade, je reprends jeudi « promis » **merci**";
  const std::string event_id = rig.hs.send_text(dm, rig.lea, answer);

  REQUIRE(wait_until([&] { return v.count("SELECT COUNT(*) FROM inbound_message") == 1; }, 20s));
  CHECK(v.text("SELECT channel FROM inbound_message") == "matrix");
  CHECK(v.text("SELECT provider_id FROM inbound_message") == event_id);
  CHECK(v.text("SELECT sender FROM inbound_message") == rig.lea);
  CHECK(v.text("SELECT body FROM inbound_message") == answer);
  CHECK(v.text("SELECT l.id FROM inbound_message i JOIN learner l ON l.key = i.learner_key") == "M-1");
  // A sign of life: the case closes as resumed.
  REQUIRE(wait_until([&] {
    return v.text("SELECT state FROM learner_case WHERE id = " + std::to_string(case1)) == "resumed";
  }));
  CHECK(v.count("SELECT last_message FROM learner WHERE id = 'M-1'") > 0);
  // Staff read it in the case's thread, quoted, the learner's markup defused.
  std::optional<FakeMatrix::SentEvent> told;
  REQUIRE(wait_until([&] { return (told = rig.in_thread(root, "J'ai été malade, je reprends jeudi")).has_value(); }, 20s));
  CHECK_THAT(told->content["body"].get<std::string>(), Catch::Contains("a répondu"));
  CHECK_THAT(told->content.value("formatted_body", ""), !Catch::Contains("<strong>merci"));
  CHECK(wait_until([&] { return rig.in_thread(root, "signe de vie").has_value(); }, 20s));
  // The learner's room is not a command room: the bot said nothing more there.
  CHECK(rig.bot_messages(dm).size() == 1);
  CHECK(svc.running());
}
