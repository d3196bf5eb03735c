// MatrixDirect against the fake homeserver: the learner's DM made once,
// kept, found again, replaced when the learner left; m.direct kept whole;
// rate limits, lost answers and refusals.
#include "direct_support.hpp"

using namespace relance;
using namespace relance::test::mx;
using chat::SendResult;
using matrix::MatrixDirect;
using relance::test::FakeMatrix;

namespace {

const json* member_event(const std::vector<json>& events, const std::string& user) {
  const json* out = nullptr;
  for (const auto& e : events)
    if (e["type"] == "m.room.member" && e.value("state_key", "") == user) out = &e;
  return out;
}

}  // namespace

TEST_CASE("matrix direct: the first send opens the DM, records it, the next ones reuse it", "[matrix][direct]") {
  DirectFixture f;
  // Someone else's DM the bot already has: must survive the m.direct update.
  const json others = json::parse(R"({"@ancien:fake.test": ["!vieux:fake.test"], "@x:autre.org": "pas une liste"})");
  f.hs.set_account_data(f.bot, "m.direct", others);
  MatrixDirect direct(f.dsession());

  auto r = f.run(direct.send(dm(1, f.lea, "Bonjour Léa, votre formation vous attend.",
                                "<p>Bonjour Léa, <b>votre formation</b> vous attend.</p>")));
  REQUIRE(r.status == SendResult::Status::sent);
  REQUIRE_FALSE(r.room_id.empty());
  CHECK_FALSE(r.event_id.empty());
  CHECK(f.requests_to("/createRoom") == 1);

  // The room: a DM, invite-only, not encrypted; the learner invited with is_direct.
  CHECK(f.hs.membership(r.room_id, f.bot) == "join");
  CHECK(f.hs.membership(r.room_id, f.lea) == "invite");
  CHECK_FALSE(f.hs.is_encrypted(r.room_id));
  const auto events = f.hs.room_events(r.room_id);
  const auto* invite = member_event(events, f.lea);
  REQUIRE(invite);
  CHECK((*invite)["content"]["is_direct"] == true);
  for (const auto& e : events)
    if (e["type"] == "m.room.join_rules") CHECK(e["content"]["join_rule"] == "invite");

  // The message: m.text for a person, with its HTML, txnId from the outbox id.
  const auto sent = f.bot_events(r.room_id);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].event_id == r.event_id);
  CHECK(sent[0].txn_id == "relance.1");
  CHECK(sent[0].content["msgtype"] == "m.text");
  CHECK(sent[0].content["body"] == "Bonjour Léa, votre formation vous attend.");
  CHECK(sent[0].content["format"] == "org.matrix.custom.html");
  CHECK(sent[0].content["formatted_body"] == "<p>Bonjour Léa, <b>votre formation</b> vous attend.</p>");

  // Recorded: m.direct (others kept as they were) and the store, both ways.
  auto direct_data = f.hs.account_data(f.bot, "m.direct");
  REQUIRE(direct_data);
  CHECK((*direct_data)["@ancien:fake.test"] == others["@ancien:fake.test"]);
  CHECK((*direct_data)["@x:autre.org"] == "pas une liste");
  CHECK(f.direct_of(f.lea) == std::vector<std::string>{r.room_id});
  CHECK(f.kv("matrix.dm." + f.lea) == r.room_id);
  CHECK(f.kv("matrix.dm_room." + r.room_id) == f.lea);
  CHECK(f.kv("matrix.dm_creating." + f.lea).empty());
  CHECK(f.kv("matrix.dm_unrecorded." + f.lea).empty());
  CHECK(matrix::is_direct_room(f.th.hooks(), r.room_id));
  CHECK_FALSE(matrix::is_direct_room(f.th.hooks(), f.room));

  // A second relaunch: the same room, no second createRoom. Plain text only: no HTML.
  auto second = f.run(direct.send(dm(2, f.lea, "Deuxième relance")));
  REQUIRE(second.status == SendResult::Status::sent);
  CHECK(second.room_id == r.room_id);
  CHECK(f.bot_events(r.room_id).back().content.contains("formatted_body") == false);

  // The same outbox row again (a retry after a lost answer): the first event back.
  auto again = f.run(direct.send(dm(2, f.lea, "Deuxième relance")));
  REQUIRE(again.status == SendResult::Status::sent);
  CHECK(again.event_id == second.event_id);
  CHECK(f.hs.retransmissions() == 1);

  // Once she joined, and after a restart (a new object, same store): still the same room.
  f.hs.accept_invite(f.lea, r.room_id);
  MatrixDirect restarted(f.dsession());
  auto third = f.run(restarted.send(dm(3, f.lea, "Troisième relance")));
  REQUIRE(third.status == SendResult::Status::sent);
  CHECK(third.room_id == r.room_id);
  CHECK(f.requests_to("/createRoom") == 1);
  CHECK(f.bot_events(r.room_id).size() == 3);

  // Another learner: a room of their own, both listed in m.direct.
  auto other = f.run(direct.send(dm(4, f.paul, "Bonjour Paul")));
  REQUIRE(other.status == SendResult::Status::sent);
  CHECK(other.room_id != r.room_id);
  CHECK(f.direct_of(f.lea) == std::vector<std::string>{r.room_id});
  CHECK(f.direct_of(f.paul) == std::vector<std::string>{other.room_id});
  CHECK(f.hs.account_data(f.bot, "m.direct")->contains("@ancien:fake.test"));
}

TEST_CASE("matrix direct: a DM already in m.direct is used without a saved mapping", "[matrix][direct]") {
  DirectFixture f;
  // Made earlier by the bot (recorded in its m.direct by the fake, as a
  // client does); then a newer one Léa left, listed after it.
  const auto good = f.hs.invite_to_new_room(f.bot, f.lea, /*is_direct=*/true);
  f.hs.accept_invite(f.lea, good);
  const auto left = f.hs.invite_to_new_room(f.bot, f.lea, /*is_direct=*/true);
  f.hs.leave(f.lea, left);
  REQUIRE(f.direct_of(f.lea) == std::vector<std::string>{good, left});

  MatrixDirect direct(f.dsession());
  auto r = f.run(direct.send(dm(1, f.lea, "Bonjour")));
  REQUIRE(r.status == SendResult::Status::sent);
  CHECK(r.room_id == good);
  CHECK(f.requests_to("/createRoom") == 0);
  CHECK(f.kv("matrix.dm." + f.lea) == good);
  CHECK(f.kv("matrix.dm_room." + good) == f.lea);
  CHECK(f.bot_events(good).size() == 1);
}

TEST_CASE("matrix direct: a learner who left gets a new room, the old one is dropped", "[matrix][direct]") {
  DirectFixture f;
  MatrixDirect direct(f.dsession());
  auto first = f.run(direct.send(dm(1, f.lea, "Bonjour")));
  REQUIRE(first.status == SendResult::Status::sent);
  f.hs.accept_invite(f.lea, first.room_id);
  f.hs.leave(f.lea, first.room_id);

  auto second = f.run(direct.send(dm(2, f.lea, "Vous nous manquez")));
  REQUIRE(second.status == SendResult::Status::sent);
  CHECK(second.room_id != first.room_id);
  CHECK(f.requests_to("/createRoom") == 2);
  CHECK(f.hs.membership(second.room_id, f.lea) == "invite");
  CHECK(f.bot_events(second.room_id).size() == 1);
  // The old mapping is gone everywhere, and the bot left the empty room.
  CHECK(f.kv("matrix.dm." + f.lea) == second.room_id);
  CHECK(f.kv("matrix.dm_room." + first.room_id).empty());
  CHECK(f.direct_of(f.lea) == std::vector<std::string>{second.room_id});
  CHECK(f.hs.membership(first.room_id, f.bot) == "leave");

  // An invite she rejected (leave without ever joining): the same.
  f.hs.leave(f.lea, second.room_id);
  auto third = f.run(direct.send(dm(3, f.lea, "Encore nous")));
  REQUIRE(third.status == SendResult::Status::sent);
  CHECK(third.room_id != second.room_id);
  CHECK(f.requests_to("/createRoom") == 3);

  // The bot kicked out of the room (Léa has the power to): a new room too.
  f.hs.accept_invite(f.lea, third.room_id);
  f.hs.send_state(third.room_id, f.lea, "m.room.member", f.bot, json{{"membership", "leave"}});
  auto fourth = f.run(direct.send(dm(4, f.lea, "Toujours là ?")));
  REQUIRE(fourth.status == SendResult::Status::sent);
  CHECK(fourth.room_id != third.room_id);

  // Encryption turned on by her: relance cannot use it, a new room again.
  f.hs.accept_invite(f.lea, fourth.room_id);
  f.hs.enable_encryption(fourth.room_id, f.lea);
  auto fifth = f.run(direct.send(dm(5, f.lea, "En clair")));
  REQUIRE(fifth.status == SendResult::Status::sent);
  CHECK(fifth.room_id != fourth.room_id);
  CHECK_FALSE(f.hs.is_encrypted(fifth.room_id));
  CHECK(f.bot_events(fourth.room_id).size() == 1);  // nothing more went there
  CHECK(f.direct_of(f.lea) == std::vector<std::string>{fifth.room_id});
}

TEST_CASE("matrix direct: 429 is waited out when short, else handed back with retry_after", "[matrix][direct]") {
  DirectFixture f;
  {
    MatrixDirect direct(f.dsession());
    f.hs.limit_next(1, 300ms, "/createRoom");
    const auto t0 = std::chrono::steady_clock::now();
    auto r = f.run(direct.send(dm(1, f.lea, "Bonjour")));
    REQUIRE(r.status == SendResult::Status::sent);
    CHECK(std::chrono::steady_clock::now() - t0 >= 290ms);
    CHECK(f.requests_to("/createRoom") == 2);
    CHECK(f.hs.rooms_of(f.lea, "invite").size() == 1);
  }
  f.options.max_inline_wait = 100ms;
  {
    MatrixDirect impatient(f.dsession());
    f.hs.limit_next(1, 2500ms, "/createRoom");
    auto r = f.run(impatient.send(dm(2, f.paul, "Bonjour Paul")));
    CHECK(r.status == SendResult::Status::retry);
    REQUIRE(r.retry_after.has_value());
    CHECK(*r.retry_after == 2500ms);
    CHECK(r.error.find("M_LIMIT_EXCEEDED") != std::string::npos);
    CHECK(f.hs.rooms_of(f.paul, "invite").empty());
    CHECK(f.kv("matrix.dm_creating." + f.paul).empty());  // nothing was made: no scan needed
  }
  {
    // The dispatcher tries again later (a new session: its Pacer is not
    // holding the old limit): one room.
    MatrixDirect later(f.dsession());
    auto r = f.run(later.send(dm(2, f.paul, "Bonjour Paul")));
    REQUIRE(r.status == SendResult::Status::sent);
    CHECK(f.hs.rooms_of(f.paul, "invite").size() == 1);

    // The message itself rate limited: retry, and the room is known.
    f.hs.limit_next(1, 2500ms, "/send/");
    auto s = f.run(later.send(dm(3, f.paul, "Relance")));
    CHECK(s.status == SendResult::Status::retry);
    CHECK(s.room_id == r.room_id);
    REQUIRE(s.retry_after.has_value());
    CHECK(*s.retry_after == 2500ms);
  }
}

TEST_CASE("matrix direct: a lost createRoom answer does not make a second room", "[matrix][direct]") {
  DirectFixture f;
  MatrixDirect direct(f.dsession());
  // The room is made, the answer never comes back.
  f.hs.fail_next(1, FakeMatrix::Fault::drop_after_processing, "/createRoom");
  auto r = f.run(direct.send(dm(1, f.lea, "Bonjour")));
  REQUIRE(r.status == SendResult::Status::sent);
  CHECK(f.requests_to("/createRoom") == 1);  // found by the scan, not made again
  REQUIRE(f.hs.rooms_of(f.lea, "invite").size() == 1);
  CHECK(r.room_id == f.hs.rooms_of(f.lea, "invite")[0]);
  CHECK(f.direct_of(f.lea) == std::vector<std::string>{r.room_id});
  CHECK(f.kv("matrix.dm." + f.lea) == r.room_id);
  CHECK(f.kv("matrix.dm_creating." + f.lea).empty());

  // A crash right after createRoom went out: the marker is in the store, the
  // room exists (Paul invited, is_direct) but was never saved nor recorded.
  const auto orphan = f.hs.create_room(f.bot, {});
  f.hs.invite(f.bot, orphan, f.paul, /*is_direct=*/true);
  f.th.kv["matrix.dm_creating." + f.paul] = "1";
  MatrixDirect restarted(f.dsession());
  auto p = f.run(restarted.send(dm(2, f.paul, "Bonjour Paul")));
  REQUIRE(p.status == SendResult::Status::sent);
  CHECK(p.room_id == orphan);
  CHECK(f.requests_to("/createRoom") == 1);
  CHECK(f.direct_of(f.paul) == std::vector<std::string>{orphan});
  CHECK(f.kv("matrix.dm_room." + orphan) == f.paul);
  CHECK(f.kv("matrix.dm_creating." + f.paul).empty());

  // Could not look (the room list does not answer): retry, never a blind createRoom.
  f.th.kv.erase("matrix.dm." + f.paul);
  f.th.kv["matrix.dm_creating." + f.paul] = "1";
  f.hs.fail_next(1, FakeMatrix::Fault::bad_gateway, "/joined_rooms");
  auto blind = f.run(restarted.send(dm(3, f.paul, "Relance")));
  CHECK(blind.status == SendResult::Status::retry);
  CHECK(f.requests_to("/createRoom") == 1);
}

TEST_CASE("matrix direct: an m.direct update that failed is done on the next send", "[matrix][direct]") {
  DirectFixture f;
  MatrixDirect direct(f.dsession());
  f.hs.fail_next(1, FakeMatrix::Fault::bad_gateway, "/account_data/m.direct", "PUT");
  auto r = f.run(direct.send(dm(1, f.lea, "Bonjour")));
  REQUIRE(r.status == SendResult::Status::sent);  // the message does not wait for it
  CHECK(f.direct_of(f.lea).empty());
  CHECK(f.kv("matrix.dm_unrecorded." + f.lea) == r.room_id);

  auto next = f.run(direct.send(dm(2, f.lea, "Relance")));
  REQUIRE(next.status == SendResult::Status::sent);
  CHECK(next.room_id == r.room_id);
  CHECK(f.direct_of(f.lea) == std::vector<std::string>{r.room_id});
  CHECK(f.kv("matrix.dm_unrecorded." + f.lea).empty());
  CHECK(f.requests_to("/createRoom") == 1);
}

TEST_CASE("matrix direct: unknown user, refused invite, bad id: failed with a clear error", "[matrix][direct]") {
  DirectFixture f;
  MatrixDirect direct(f.dsession());
  auto nobody = f.run(direct.send(dm(1, "@personne:fake.test", "Bonjour")));
  CHECK(nobody.status == SendResult::Status::failed);
  CHECK(nobody.error.find("@personne:fake.test") != std::string::npos);
  CHECK(nobody.error.find("M_NOT_FOUND") != std::string::npos);

  f.hs.refuse_invites(f.paul);
  auto refused = f.run(direct.send(dm(2, f.paul, "Bonjour")));
  CHECK(refused.status == SendResult::Status::failed);
  CHECK(refused.error.find("403 M_FORBIDDEN") != std::string::npos);
  CHECK(f.kv("matrix.dm_creating." + f.paul).empty());
  CHECK(f.kv("matrix.dm." + f.paul).empty());

  for (const char* bad : {"lea", "@lea", "@:fake.test", "@le a:fake.test", ""}) {
    auto r = f.run(direct.send(dm(3, bad, "Bonjour")));
    CHECK(r.status == SendResult::Status::failed);
    CHECK(r.error.find("not a Matrix user id") != std::string::npos);
  }
  auto self = f.run(direct.send(dm(4, f.bot, "Bonjour")));
  CHECK(self.status == SendResult::Status::failed);
  CHECK(f.hs.room_ids().size() == 1);  // only the staff room: nothing was made
}

TEST_CASE("matrix direct: two sends to one learner at once make one room", "[matrix][direct]") {
  DirectFixture f;
  MatrixDirect direct(f.dsession());
  std::optional<matrix::DirectResult> a, b;
  boost::asio::co_spawn(f.io, direct.send(dm(1, f.lea, "un")), [&](std::exception_ptr, matrix::DirectResult r) { a = r; });
  boost::asio::co_spawn(f.io, direct.send(dm(2, f.lea, "deux")), [&](std::exception_ptr, matrix::DirectResult r) { b = r; });
  REQUIRE(f.until([&] { return a && b; }));
  REQUIRE(a->status == SendResult::Status::sent);
  REQUIRE(b->status == SendResult::Status::sent);
  CHECK(a->room_id == b->room_id);
  CHECK(f.requests_to("/createRoom") == 1);
}
