// MatrixSync with learners' direct rooms: replies reach learner_message
// (never the command parser, never a "not staff" answer), staff commands
// still work, and a reply the app could not store comes again.
#include "direct_support.hpp"

#include "messages/render/staff.hpp"

using namespace relance;
using namespace relance::test::mx;
using chat::SendResult;
using matrix::MatrixDirect;

namespace {

int answers(const Fixture& f, const std::string& room, const std::string& text) {
  int n = 0;
  for (const auto& e : f.bot_events(room))
    if (e.content.value("body", "") == render::escape_plain(text)) ++n;
  return n;
}

}  // namespace

TEST_CASE("matrix direct: a learner's reply reaches learner_message, staff commands still work",
          "[matrix][direct][sync]") {
  DirectFixture f;
  auto session = f.dsession();
  MatrixDirect direct(session);
  const auto sent = f.run(direct.send(dm(1, f.lea, "Bonjour Léa")));
  REQUIRE(sent.status == SendResult::Status::sent);
  RunningSync s(f, session);
  REQUIRE(s.batches(1));

  f.hs.accept_invite(f.lea, sent.room_id);
  const std::string text = "Bonjour ! Je reprends lundi 😊\n<b>promis</b> & @room";
  const auto id = f.hs.send_text(sent.room_id, f.lea, text);
  REQUIRE(f.until([&] { return f.replies.size() == 1; }));
  CHECK(f.replies[0].user == f.lea);
  CHECK(f.replies[0].room == sent.room_id);
  CHECK(f.replies[0].event_id == id);
  CHECK(f.replies[0].text == text);  // exactly as typed

  // A learner typing the command prefix: still her reply, not a command.
  f.hs.send_text(sent.room_id, f.lea, "!relance liste");
  REQUIRE(f.until([&] { return f.replies.size() == 2; }));
  CHECK(f.replies[1].text == "!relance liste");
  CHECK(f.th.commands.empty());

  // Staff in the staff room: as before.
  f.hs.send_text(f.room, f.alice, "!relance liste");
  REQUIRE(f.until([&] { return answers(f, f.room, "ok : liste") == 1; }));
  REQUIRE(f.th.commands.size() == 1);
  CHECK(f.th.commands[0].user == f.alice);
  CHECK(f.th.commands[0].line == "liste");

  // Nothing was ever said to the learner but the relaunch.
  CHECK(f.bot_events(sent.room_id).size() == 1);
  CHECK(f.replies.size() == 2);
  // Her reactions are not claims (nor anything else).
  f.hs.react(sent.room_id, f.lea, sent.event_id, "✋");
  f.hs.send_text(sent.room_id, f.lea, "merci");
  REQUIRE(f.until([&] { return f.replies.size() == 3; }));
  CHECK(f.th.commands.size() == 1);

  // A stranger's invite is still refused (learners cannot pull the bot into rooms).
  const auto other = f.hs.invite_to_new_room(f.lea, f.bot, /*is_direct=*/true);
  REQUIRE(f.until([&] { return f.hs.membership(other, f.bot) == "leave"; }));
}

TEST_CASE("matrix direct: a reply the app could not store is delivered again", "[matrix][direct][sync]") {
  DirectFixture f;
  auto session = f.dsession();
  MatrixDirect direct(session);
  const auto sent = f.run(direct.send(dm(1, f.lea, "Bonjour Léa")));
  REQUIRE(sent.status == SendResult::Status::sent);
  f.hs.accept_invite(f.lea, sent.room_id);
  std::string id;
  {
    RunningSync s(f, session);
    REQUIRE(s.batches(1));
    const auto saved = f.kv("matrix.next_batch");
    REQUIRE_FALSE(saved.empty());

    f.store_ok = false;
    id = f.hs.send_text(sent.room_id, f.lea, "Je ne peux pas venir");
    // Refused, asked for again within the same run (after a backoff).
    REQUIRE(f.until([&] { return f.learner_calls >= 2; }));
    CHECK(f.replies.empty());
    // A staff command arriving meanwhile runs once, though its batch is replayed.
    f.hs.send_text(f.room, f.alice, "!relance prendre 7");
    REQUIRE(f.until([&] { return answers(f, f.room, "✋ Dossier #7 pris en charge par " + f.alice) == 1; }));
    const int calls = f.learner_calls;
    REQUIRE(f.until([&] { return f.learner_calls > calls + 1; }));
    CHECK(f.th.commands.size() == 1);
    CHECK(answers(f, f.room, "✋ Dossier #7 pris en charge par " + f.alice) == 1);
    // The cursor did not move past the refused message.
    CHECK(f.kv("matrix.next_batch") == saved);
    s.stop();
  }
  // A restart: the same event comes again, and is stored this time.
  f.store_ok = true;
  RunningSync again(f, f.dsession());
  REQUIRE(f.until([&] { return f.replies.size() == 1; }));
  CHECK(f.replies[0].event_id == id);
  CHECK(f.replies[0].text == "Je ne peux pas venir");
  // Then the cursor moves on, and nothing is delivered twice.
  REQUIRE(f.until([&] { return f.kv("matrix.next_batch") != ""; }));
  f.hs.send_text(sent.room_id, f.lea, "Finalement si");
  REQUIRE(f.until([&] { return f.replies.size() == 2; }));
  CHECK(f.replies[1].text == "Finalement si");
  CHECK(f.th.commands.size() == 1);
}

TEST_CASE("matrix direct: later replies wait behind a refused one, in order", "[matrix][direct][sync]") {
  DirectFixture f;
  auto session = f.dsession();
  MatrixDirect direct(session);
  const auto sent = f.run(direct.send(dm(1, f.lea, "Bonjour Léa")));
  REQUIRE(sent.status == SendResult::Status::sent);
  f.hs.accept_invite(f.lea, sent.room_id);
  {
    RunningSync s(f, session);
    REQUIRE(s.batches(1));
    s.stop();
  }
  // Both in the same /sync answer after the restart; the app refuses the
  // first once: the second must not be stored before it.
  f.hs.send_text(sent.room_id, f.lea, "un");
  f.hs.send_text(sent.room_id, f.lea, "deux");
  f.refuse_next = 1;
  RunningSync s(f, f.dsession());
  REQUIRE(f.until([&] { return f.replies.size() == 2; }));
  CHECK(f.replies[0].text == "un");
  CHECK(f.replies[1].text == "deux");
  CHECK(f.learner_calls == 3);  // un (refused), un, deux
}
