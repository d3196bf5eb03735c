// MatrixSync against the fake homeserver: invites, commands, reactions,
// dedupe, own echoes, next_batch resume, encrypted rooms, failures and stop.
#include "adapter_support.hpp"

#include "messages/render/staff.hpp"

using namespace relance;
using namespace relance::test::mx;
using chat::SendResult;
using matrix::MatrixSender;
using relance::test::FakeMatrix;

namespace {

// The bot's notices in `room` whose body is `text`.
int answers(const Fixture& f, const std::string& room, const std::string& text) {
  int n = 0;
  for (const auto& e : f.bot_events(room))
    if (e.content.value("body", "") == render::escape_plain(text)) ++n;
  return n;
}

}  // namespace

TEST_CASE("matrix sync: invites from staff are joined, from strangers rejected", "[matrix][adapter][sync]") {
  Fixture f;
  // Pending from before the first start: handled by the initial sync.
  const auto early = f.hs.invite_to_new_room(f.alice, f.bot);
  RunningSync s(f, f.session());
  REQUIRE(s.batches(1));
  // Joined beside the sync loop (a join may wait on the rate limit).
  CHECK(f.until([&] { return f.hs.membership(early, f.bot) == "join"; }));

  const auto from_staff = f.hs.invite_to_new_room(f.alice, f.bot, /*is_direct=*/true);
  const auto from_stranger = f.hs.invite_to_new_room(f.mallory, f.bot);
  REQUIRE(f.until([&] {
    return f.hs.membership(from_staff, f.bot) == "join" && f.hs.membership(from_stranger, f.bot) == "leave";
  }));
  // A routed room is joined whoever invites to it.
  const auto routed = f.hs.create_room(f.mallory, {.name = "Pédagogie"});
  auto c = f.config();
  c.routes.push_back(chat::ChatRoute{"", "pedagogie", routed});
  s.stop();
  RunningSync s2(f, f.session(c));
  f.hs.invite(f.mallory, routed, f.bot);
  REQUIRE(f.until([&] { return f.hs.membership(routed, f.bot) == "join"; }));
  CHECK(f.hs.membership(from_stranger, f.bot) == "leave");
}

TEST_CASE("matrix sync: a command is run and answered in the room, or in its thread", "[matrix][adapter][sync]") {
  Fixture f;
  RunningSync s(f, f.session());
  REQUIRE(s.batches(1));
  // The filter was made once and kept.
  CHECK(f.hs.filters(f.bot).size() == 1);
  CHECK(f.th.kv.count("matrix.filter"));

  const auto cmd = f.hs.send_text(f.room, f.alice, "!relance prendre 42");
  f.hs.send_text(f.room, f.alice, "!relancer n'est pas la commande");
  f.hs.send_text(f.room, f.alice, "bonjour");
  REQUIRE(f.until([&] { return answers(f, f.room, "✋ Dossier #42 pris en charge par " + f.alice) == 1; }));
  REQUIRE(f.th.commands.size() == 1);
  CHECK(f.th.commands[0].user == f.alice);
  CHECK(f.th.commands[0].line == "prendre 42");
  const auto reply = f.bot_events(f.room).back().content;
  CHECK(reply["msgtype"] == "m.notice");
  CHECK(reply["m.relates_to"]["m.in_reply_to"]["event_id"] == cmd);
  CHECK_FALSE(reply["m.relates_to"].contains("rel_type"));

  // In a thread: the answer goes to the same thread.
  const auto root = f.hs.send_text(f.room, f.alice, "Dossier Léa");
  const auto in_thread = f.hs.reply_in_thread(f.room, f.alice, root, "!relance note 42 \"appel\"");
  REQUIRE(f.until([&] { return answers(f, f.room, "ok : note 42 \"appel\"") == 1; }));
  const auto threaded = f.bot_events(f.room).back().content["m.relates_to"];
  CHECK(threaded["rel_type"] == "m.thread");
  CHECK(threaded["event_id"] == root);
  CHECK(threaded["m.in_reply_to"]["event_id"] == in_thread);

  // An edit of a command is not a new command.
  f.hs.send_event(f.room, f.alice, "m.room.message",
                  json{{"msgtype", "m.text"},
                       {"body", "* !relance prendre 43"},
                       {"m.new_content", {{"msgtype", "m.text"}, {"body", "!relance prendre 43"}}},
                       {"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", cmd}}}});
  f.hs.send_text(f.room, f.alice, "!relance aide");
  REQUIRE(f.until([&] { return answers(f, f.room, "ok : aide") == 1; }));
  CHECK(f.th.commands.size() == 3);
}

TEST_CASE("matrix sync: the bot's own events and replayed events are not acted upon", "[matrix][adapter][sync]") {
  Fixture f;
  auto session = f.session();
  RunningSync s(f, session);
  REQUIRE(s.batches(1));
  const auto before = f.th.kv.at("matrix.next_batch");
  // The bot's own post that looks like a command (its echo comes back in /sync).
  MatrixSender sender(session);
  REQUIRE(f.run(sender.send(post(1, f.room, "!relance prendre 1"))).status == SendResult::Status::sent);
  f.hs.send_text(f.room, f.alice, "!relance prendre 2");
  REQUIRE(f.until([&] { return f.th.commands.size() == 1 && answers(f, f.room, "✋ Dossier #2 pris en charge par " + f.alice) == 1; }));
  CHECK(f.th.commands[0].line == "prendre 2");
  s.stop();

  // A crash before next_batch was saved: the same events come again.
  f.th.kv["matrix.next_batch"] = before;
  RunningSync replay(f, f.session());
  f.hs.send_text(f.room, f.alice, "!relance prendre 3");
  REQUIRE(f.until([&] { return f.th.commands.size() == 2; }));
  CHECK(f.th.commands[1].line == "prendre 3");
  CHECK(answers(f, f.room, "✋ Dossier #2 pris en charge par " + f.alice) == 1);
}

TEST_CASE("matrix sync: next_batch is saved and resumed, a first start ignores old history",
          "[matrix][adapter][sync]") {
  Fixture f;
  f.hs.send_text(f.room, f.alice, "!relance prendre 1");  // before the bot ever ran
  {
    RunningSync s(f, f.session());
    REQUIRE(s.batches(1));
    f.hs.send_text(f.room, f.alice, "!relance prendre 2");
    REQUIRE(f.until([&] { return f.th.commands.size() == 1; }));
    CHECK(f.th.commands[0].line == "prendre 2");
    s.stop();
  }
  REQUIRE(f.th.kv.count("matrix.next_batch"));
  f.hs.send_text(f.room, f.alice, "!relance prendre 3");  // while relance is down
  // Restart with an empty dedupe table: only the resume point keeps 2 from running again.
  f.th.seen.clear();
  RunningSync resumed(f, f.session());
  REQUIRE(f.until([&] { return f.th.commands.size() == 2; }));
  CHECK(f.th.commands[1].line == "prendre 3");
  REQUIRE(resumed.batches(1));
  CHECK(f.th.commands.size() == 2);
  // No new login and no new filter on a restart.
  CHECK(f.requests_to("/login") == 1);
  CHECK(f.hs.filters(f.bot).size() == 1);
}

TEST_CASE("matrix sync: ✋ on an alert claims the case, answered in its thread", "[matrix][adapter][sync]") {
  Fixture f;
  auto session = f.session();
  MatrixSender sender(session);
  auto alert = post(1, f.room, "Alerte : dossier #42");
  alert.alert = true;
  alert.case_id = 42;
  auto sent = f.run(sender.send(alert));
  REQUIRE(sent.status == SendResult::Status::sent);
  f.th.case_posts[sent.remote_id] = 42;
  const auto other = f.hs.send_text(f.room, f.alice, "un message quelconque");

  RunningSync s(f, session);
  REQUIRE(s.batches(1));
  f.hs.react(f.room, f.alice, other, "✋");              // not an alert
  f.hs.react(f.room, f.alice, sent.remote_id, "👍");     // not a claim
  f.hs.react(f.room, f.alice, sent.remote_id, "✋\xEF\xB8\x8F");  // ✋ with U+FE0F
  REQUIRE(f.until([&] { return f.th.claimed_by.count(42) == 1; }));
  CHECK(f.th.claimed_by[42] == f.alice);
  REQUIRE(f.th.commands.size() == 1);
  CHECK(f.th.commands[0].line == "prendre 42");
  CHECK_FALSE(f.th.commands[0].typed);  // a reaction is a command, never text parsed again
  // The answer in the case's thread, then the alert edited with its status.
  REQUIRE(f.until([&] { return f.bot_events(f.room).size() == 3; }));
  const auto events = f.bot_events(f.room);
  CHECK(events[1].content["m.relates_to"]["rel_type"] == "m.thread");
  CHECK(events[1].content["m.relates_to"]["event_id"] == sent.remote_id);
  CHECK(events[2].content["m.relates_to"]["rel_type"] == "m.replace");
  CHECK(events[2].content["m.relates_to"]["event_id"] == sent.remote_id);
  CHECK(events[2].content["m.new_content"]["body"].get<std::string>().rfind("Dossier #42 — pris par " + f.alice, 0) == 0);

  // ✅ works too; the same command line goes to the app again (it decides).
  f.hs.react(f.room, f.alice, sent.remote_id, "✅");
  REQUIRE(f.until([&] { return f.th.commands.size() == 2; }));
}

TEST_CASE("matrix sync: encrypted rooms are reported once, never silently", "[matrix][adapter][sync]") {
  Fixture f;
  const auto enc = f.hs.create_room(f.alice, {.name = "Chiffré", .encrypted = true, .members = {f.bot}});
  RunningSync s(f, f.session());
  REQUIRE(s.batches(1));
  // Known from the initial sync's state: one notice.
  REQUIRE(f.until([&] { return f.bot_events(enc).size() == 1; }));
  CHECK(f.bot_events(enc)[0].content["body"] == render::escape_plain(f.th.render("matrix.e2ee_unsupported")));

  // A room that turns encryption on later, and what the bot cannot read.
  f.hs.enable_encryption(f.room, f.alice);
  f.hs.send_encrypted(f.room, f.alice);
  f.hs.send_encrypted(enc, f.alice);
  REQUIRE(f.until([&] { return f.bot_events(f.room).size() == 1; }));
  CHECK(f.bot_events(f.room)[0].content["body"] == render::escape_plain(f.th.render("matrix.e2ee_unsupported")));
  const int handled = s.sync.batches();
  REQUIRE(s.batches(handled + 1));  // later batches post nothing more
  f.hs.send_encrypted(f.room, f.alice);
  REQUIRE(s.batches(s.sync.batches() + 1));
  CHECK(f.bot_events(f.room).size() == 1);
  CHECK(f.bot_events(enc).size() == 1);

  // Invited by staff to an encrypted room: joined, and told once.
  const auto dm = f.hs.invite_to_new_room(f.alice, f.bot, /*is_direct=*/true, /*encrypted=*/true);
  REQUIRE(f.until([&] { return f.hs.membership(dm, f.bot) == "join" && f.bot_events(dm).size() == 1; }));
  CHECK(f.bot_events(dm)[0].content["body"] == render::escape_plain(f.th.render("matrix.e2ee_unsupported")));

  // The sender agrees: no learner data there.
  MatrixSender sender(s.session);
  CHECK(f.run(sender.send(post(5, f.room, "Léa"))).room_unusable);
  CHECK(f.bot_events(f.room).size() == 1);
}

TEST_CASE("matrix sync: 502 and dropped connections are retried, stop() ends the long-poll",
          "[matrix][adapter][sync]") {
  Fixture f;
  f.hs.fail_next(1, FakeMatrix::Fault::bad_gateway, "/sync");
  f.hs.fail_next(1, FakeMatrix::Fault::drop, "/sync");
  RunningSync s(f, f.session());
  REQUIRE(s.batches(1));
  f.hs.send_text(f.room, f.alice, "!relance aide");
  REQUIRE(f.until([&] { return answers(f, f.room, "ok : aide") == 1; }));
  // A long-poll is waiting now; stop() does not wait for its 30 s.
  REQUIRE(f.until([&] { return f.hs.waiting_syncs() >= 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  s.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(s.result.empty());
  CHECK_FALSE(s.error);
}

TEST_CASE("matrix sync: a login an administrator must fix ends run() with the reason", "[matrix][adapter][sync]") {
  Fixture f;
  auto c = f.config();
  c.password = "wrong";
  RunningSync s(f, f.session(c));
  REQUIRE(f.until([&] { return s.done; }));
  CHECK(s.result.find("403 M_FORBIDDEN") != std::string::npos);
  CHECK(s.result.find("wrong") == std::string::npos);  // never the password
}

TEST_CASE("matrix sync: a token revoked later, with no password, ends run() with a clear error",
          "[matrix][adapter][sync]") {
  Fixture f;
  f.hs.add_access_token(f.bot, "RELANCE", "tok-admin");
  auto c = f.config();
  c.access_token = "tok-admin";
  c.password.clear();
  RunningSync s(f, f.session(c));
  REQUIRE(s.batches(1));
  f.hs.revoke_token("tok-admin");
  f.hs.send_text(f.room, f.alice, "bonjour");  // ends the pending long-poll; the next one is refused
  REQUIRE(f.until([&] { return s.done; }));
  CHECK(s.result.find("M_UNKNOWN_TOKEN") != std::string::npos);
  CHECK(s.result.find("tok-admin") == std::string::npos);
}

TEST_CASE("matrix sync: the encryption notice is posted once per room, even by a fresh store on another device",
          "[matrix][adapter][sync]") {
  Fixture f;
  const auto enc = f.hs.create_room(f.alice, {.name = "Chiffré", .encrypted = true, .members = {f.bot}});
  {
    RunningSync s(f, f.session());
    REQUIRE(f.until([&] { return f.bot_events(enc).size() == 1; }));
    REQUIRE(f.until([&] { return f.requests_to("/account_data/org.relance.e2ee_notice") >= 2; }));  // GET, PUT
  }
  // A new database (nothing in its kv) and a new device: a new install.
  TestHooks fresh;
  auto c = f.config();
  c.device_id = "RELANCE2";
  auto session = std::make_shared<matrix::MatrixSession>(f.io.get_executor(), c, fresh.hooks(), f.options);
  RunningSync s(f, session);
  REQUIRE(f.until([&] { return f.requests_to("/account_data/org.relance.e2ee_notice") >= 3; }));
  REQUIRE(f.until([&] { return fresh.kv.count("matrix.e2ee_notice." + enc) == 1; }));
  CHECK(f.bot_events(enc).size() == 1);
}

TEST_CASE("matrix sync: a command outside the configured staff rooms is refused, not run",
          "[matrix][adapter][sync]") {
  Fixture f;
  RunningSync s(f, f.session());
  REQUIRE(s.batches(1));
  // Staff invited the bot to a room of their own (joined: alice is staff),
  // where others may read: its answers (learners' details) do not go there.
  const auto elsewhere = f.hs.invite_to_new_room(f.alice, f.bot);
  REQUIRE(f.until([&] { return f.hs.membership(elsewhere, f.bot) == "join"; }));
  f.hs.send_text(elsewhere, f.alice, "!relance dossier 42");
  REQUIRE(f.until([&] { return !f.bot_events(elsewhere).empty(); }));
  CHECK_THAT(f.bot_events(elsewhere).back().content.value("body", ""), Catch::Contains("refusée"));
  CHECK(f.th.commands.empty());
  // In the staff room, as before.
  f.hs.send_text(f.room, f.alice, "!relance dossier 42");
  REQUIRE(f.until([&] { return f.th.commands.size() == 1; }));
}
