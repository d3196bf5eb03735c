// MatrixSession and MatrixSender against the fake homeserver: login,
// notices with HTML and mentions, threads, edits, txnId idempotency across a
// restart, rate limiting, 5xx, encrypted rooms.
#include "adapter_support.hpp"

#include "messages/render/staff.hpp"

using namespace relance;
using namespace relance::test::mx;
using chat::SendResult;
using matrix::MatrixSender;
using relance::test::FakeMatrix;

TEST_CASE("matrix adapter: password login keeps the configured device and is reused after a restart",
          "[matrix][adapter]") {
  Fixture f;
  auto s = f.session();
  auto r = f.run(s->async_login());
  REQUIRE(r.ok);
  CHECK(s->user_id() == f.bot);
  CHECK(s->device_id() == "RELANCE");
  CHECK(f.requests_to("/login") == 1);
  // The token is stored for the next start, with the user and device it is for.
  REQUIRE(f.th.kv.count("matrix.access_token"));
  CHECK(f.th.kv["matrix.access_token"].rfind(f.bot + " RELANCE syt_", 0) == 0);
  auto body = json::parse(f.hs.server().requests().front().body);
  for (const auto& req : f.hs.server().requests())
    if (req.path.find("/login") != std::string::npos) body = json::parse(req.body);
  CHECK(body["identifier"] == json({{"type", "m.id.user"}, {"user", f.bot}}));
  CHECK(body["device_id"] == "RELANCE");

  // A restart: a new session reuses the saved token (whoami only, no login).
  auto again = f.session();
  REQUIRE(f.run(again->async_login()).ok);
  CHECK(f.requests_to("/login") == 1);
  CHECK(again->device_id() == "RELANCE");
}

TEST_CASE("matrix adapter: whoami mismatch and refused tokens are clear errors", "[matrix][adapter]") {
  Fixture f;
  f.hs.add_access_token(f.alice, "ALICEPHONE", "tok-alice");
  auto c = f.config();
  c.access_token = "tok-alice";  // someone pasted the wrong token
  c.password.clear();
  auto s = f.session(c);
  auto r = f.run(s->async_login());
  CHECK_FALSE(r.ok);
  CHECK(r.fatal);
  CHECK(r.error.find("belongs to " + f.alice) != std::string::npos);
  CHECK(r.error.find("tok-alice") == std::string::npos);  // never the token itself

  c.access_token = "tok-unknown";
  auto refused = f.run(f.session(c)->async_login());
  CHECK_FALSE(refused.ok);
  CHECK(refused.fatal);
  CHECK(refused.error.find("refused") != std::string::npos);

  // A send with no way to log in: retry later (nothing lost), saying why.
  MatrixSender sender(f.session(c));
  auto sent = f.run(sender.send(post(1, f.room, "x")));
  CHECK(sent.status == SendResult::Status::retry);
  CHECK(sent.retry_after.has_value());
  CHECK(sent.error.find("refused") != std::string::npos);
}

TEST_CASE("matrix adapter: a revoked token logs in again with the password", "[matrix][adapter]") {
  Fixture f;
  auto s = f.session();
  REQUIRE(f.run(s->async_login()).ok);
  const auto saved = f.th.kv["matrix.access_token"];
  f.hs.revoke_token(saved.substr(saved.rfind(' ') + 1));
  MatrixSender sender(s);
  auto r = f.run(sender.send(post(3, f.room, "après révocation")));
  REQUIRE(r.status == SendResult::Status::sent);
  CHECK(f.requests_to("/login") == 2);
  CHECK(f.th.kv["matrix.access_token"] != saved);
}

TEST_CASE("matrix adapter: a notice with HTML, mention pills, m.mentions and the claim line", "[matrix][adapter]") {
  Fixture f;
  MatrixSender sender(f.session());
  CHECK(sender.network() == chat::Network::matrix);
  auto p = post(42, f.room, "Alerte : Léa M. inactive depuis 12 jours", "<b>Alerte</b> : Léa M. inactive depuis 12 jours");
  p.mentions = {f.alice};
  p.alert = true;
  p.case_id = 7;
  auto r = f.run(sender.send(p));
  REQUIRE(r.status == SendResult::Status::sent);
  auto events = f.bot_events(f.room);
  REQUIRE(events.size() == 1);
  const auto& e = events[0];
  CHECK(e.event_id == r.remote_id);
  CHECK(e.type == "m.room.message");
  CHECK(e.txn_id == "relance.42");
  CHECK(e.device_id == "RELANCE");
  const auto& c = e.content;
  CHECK(c["msgtype"] == "m.notice");
  CHECK(c["format"] == "org.matrix.custom.html");
  const std::string hint = f.th.render("matrix.claim_hint");
  CHECK(hint.find("✋") != std::string::npos);
  CHECK(c["body"] == f.alice + " : Alerte : Léa M. inactive depuis 12 jours\n" + hint);
  CHECK(c["formatted_body"] == "<a href=\"https://matrix.to/#/" + f.alice + "\">" + f.alice +
                                   "</a> : <b>Alerte</b> : Léa M. inactive depuis 12 jours<br>" + hint);
  CHECK(c["m.mentions"]["user_ids"] == json::array({f.alice}));
  CHECK_FALSE(c.contains("m.relates_to"));

  // Not an alert: no claim line, and m.mentions stays (empty).
  auto plain = f.run(sender.send(post(43, f.room, "Pour info")));
  REQUIRE(plain.status == SendResult::Status::sent);
  CHECK(f.bot_events(f.room)[1].content["body"] == "Pour info");
  CHECK(f.bot_events(f.room)[1].content["m.mentions"] == json({{"user_ids", json::array()}}));
}

TEST_CASE("matrix adapter: a post in a case thread carries the m.thread relation", "[matrix][adapter]") {
  Fixture f;
  MatrixSender sender(f.session());
  auto root = f.run(sender.send(post(1, f.room, "Alerte")));
  REQUIRE(root.status == SendResult::Status::sent);
  auto p = post(2, f.room, "Étape 1 : SMS programmé");
  p.thread_root = root.remote_id;
  auto r = f.run(sender.send(p));
  REQUIRE(r.status == SendResult::Status::sent);
  const auto rel = f.bot_events(f.room)[1].content["m.relates_to"];
  CHECK(rel["rel_type"] == "m.thread");
  CHECK(rel["event_id"] == root.remote_id);
  CHECK(rel["is_falling_back"] == true);
  CHECK(rel["m.in_reply_to"]["event_id"] == root.remote_id);
}

TEST_CASE("matrix adapter: an edit is an m.replace with its own stable txnId", "[matrix][adapter]") {
  Fixture f;
  MatrixSender sender(f.session());
  auto p = post(1, f.room, "Alerte #7");
  p.alert = true;
  auto root = f.run(sender.send(p));
  REQUIRE(root.status == SendResult::Status::sent);
  chat::Edit e{f.room, root.remote_id, "", "Alerte #7 — pris par Marie", "Alerte #7 — <i>pris par Marie</i>", false};
  auto r = f.run(sender.edit(e));
  REQUIRE(r.status == SendResult::Status::sent);
  auto again = f.run(sender.edit(e));  // the same edit retried: one event
  CHECK(again.remote_id == r.remote_id);
  auto events = f.bot_events(f.room);
  REQUIRE(events.size() == 2);
  const auto& c = events[1].content;
  CHECK(events[1].txn_id.rfind("relance.edit.", 0) == 0);
  CHECK(c["body"] == "* Alerte #7 — pris par Marie");
  CHECK(c["m.new_content"]["body"] == "Alerte #7 — pris par Marie");  // keep_actions false: no claim line
  CHECK(c["m.new_content"]["formatted_body"] == "Alerte #7 — <i>pris par Marie</i>");
  CHECK(c["m.relates_to"] == json({{"rel_type", "m.replace"}, {"event_id", root.remote_id}}));
}

TEST_CASE("matrix adapter: the same outbox id sent again after a restart is one event", "[matrix][adapter]") {
  Fixture f;
  auto p = post(9, f.room, "Relance faite");
  std::string first;
  {
    MatrixSender sender(f.session());
    auto r = f.run(sender.send(p));
    REQUIRE(r.status == SendResult::Status::sent);
    first = r.remote_id;
  }
  // A restart that lost the token too: a new password login on the same
  // device keeps the transaction scope.
  f.th.kv.clear();
  MatrixSender restarted(f.session());
  auto r = f.run(restarted.send(p));
  REQUIRE(r.status == SendResult::Status::sent);
  CHECK(r.remote_id == first);
  CHECK(f.bot_events(f.room).size() == 1);
  CHECK(f.hs.retransmissions() == 1);
}

TEST_CASE("matrix adapter: 429 M_LIMIT_EXCEEDED is waited out as the server says", "[matrix][adapter]") {
  Fixture f;
  MatrixSender sender(f.session());
  REQUIRE(f.run(sender.send(post(1, f.room, "avant"))).status == SendResult::Status::sent);
  f.hs.limit_next(1, 300ms, "/send/");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = f.run(sender.send(post(2, f.room, "après")));
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(r.status == SendResult::Status::sent);
  CHECK(took >= 290ms);
  CHECK(f.hs.rate_limited_count() == 1);
  CHECK(f.bot_events(f.room).size() == 2);

  // A wait longer than the adapter keeps inline goes back to the dispatcher.
  f.options.max_inline_wait = 100ms;
  MatrixSender impatient(f.session());
  f.hs.limit_next(1, 2500ms, "/send/");
  auto later = f.run(impatient.send(post(3, f.room, "plus tard")));
  CHECK(later.status == SendResult::Status::retry);
  REQUIRE(later.retry_after.has_value());
  CHECK(*later.retry_after == 2500ms);  // retry_after_ms, not the rounded-up header
  CHECK(later.error.find("M_LIMIT_EXCEEDED") != std::string::npos);
}

TEST_CASE("matrix adapter: 502 and lost answers are retried without doubling", "[matrix][adapter]") {
  Fixture f;
  MatrixSender sender(f.session());
  f.hs.fail_next(2, FakeMatrix::Fault::bad_gateway, "/send/");
  auto r = f.run(sender.send(post(1, f.room, "après 502")));
  REQUIRE(r.status == SendResult::Status::sent);
  CHECK(f.bot_events(f.room).size() == 1);

  // Stored, then the connection dropped: the retry gets the first event back.
  f.hs.fail_next(1, FakeMatrix::Fault::drop_after_processing, "/send/");
  auto d = f.run(sender.send(post(2, f.room, "réponse perdue")));
  REQUIRE(d.status == SendResult::Status::sent);
  CHECK(f.bot_events(f.room).size() == 2);
  CHECK(f.hs.retransmissions() == 1);

  // Still failing after every attempt: retry later, not failed.
  f.hs.fail_next(3, FakeMatrix::Fault::bad_gateway, "/send/");
  auto down = f.run(sender.send(post(3, f.room, "panne")));
  CHECK(down.status == SendResult::Status::retry);
  CHECK(down.error.find("502") != std::string::npos);
}

TEST_CASE("matrix adapter: not in the room: joins when invited, else the post waits", "[matrix][adapter]") {
  Fixture f;
  const auto elsewhere = f.hs.create_room(f.alice, {.name = "Direction"});  // the bot is not a member
  MatrixSender sender(f.session());
  // Not invited: the configured room cannot be joined; the post is not
  // given up (an administrator will invite the bot), it waits.
  auto r = f.run(sender.send(post(1, elsewhere, "x")));
  CHECK(r.status == SendResult::Status::retry);
  CHECK(r.error.find("invite the bot") != std::string::npos);
  CHECK(f.bot_events(elsewhere).empty());
  // Invited (the invite not seen by a /sync yet): joined, then sent.
  f.hs.invite(f.alice, elsewhere, f.bot);
  auto again = f.run(sender.send(post(1, elsewhere, "x")));
  CHECK(again.status == SendResult::Status::sent);
  CHECK(f.hs.membership(elsewhere, f.bot) == "join");
  CHECK(f.bot_events(elsewhere).size() == 1);
}

TEST_CASE("matrix adapter: an encrypted room gets no learner data, one notice, and the post kept for later",
          "[matrix][adapter]") {
  Fixture f;
  const auto secret = f.hs.create_room(f.alice, {.name = "Chiffré", .encrypted = true, .members = {f.bot}});
  MatrixSender sender(f.session());
  auto r = f.run(sender.send(post(1, secret, "Léa Martin, 06 12 34 56 78")));
  // Not failed: the post waits (the dispatcher tells staff elsewhere).
  CHECK(r.status == SendResult::Status::retry);
  CHECK(r.room_unusable);
  CHECK_FALSE(r.unreachable);
  CHECK(r.error == "end-to-end encrypted room: not supported");
  auto again = f.run(sender.send(post(2, secret, "Léa Martin, relance")));
  CHECK(again.status == SendResult::Status::retry);
  CHECK(again.room_unusable);

  auto events = f.bot_events(secret);
  REQUIRE(events.size() == 1);  // the notice, once
  CHECK(events[0].content["msgtype"] == "m.notice");
  CHECK(events[0].content["body"] == render::escape_plain(f.th.render("matrix.e2ee_unsupported")));
  for (const auto& ev : f.hs.room_events(secret))
    CHECK(ev.dump().find("Léa") == std::string::npos);
  CHECK(f.th.kv.count("matrix.e2ee_notice." + secret));

  // A restart does not post it again.
  MatrixSender restarted(f.session());
  CHECK(f.run(restarted.send(post(3, secret, "Léa"))).room_unusable);
  CHECK(f.bot_events(secret).size() == 1);
  // The clear room still works.
  CHECK(f.run(sender.send(post(4, f.room, "ok"))).status == SendResult::Status::sent);
}

TEST_CASE("matrix adapter: sends to several rooms at once share one login", "[matrix][adapter]") {
  Fixture f;
  const auto second = f.hs.create_room(f.alice, {.name = "Pédagogie", .members = {f.bot}});
  MatrixSender sender(f.session());
  std::optional<SendResult> a, b;
  boost::asio::co_spawn(f.io, sender.send(post(1, f.room, "un")), [&](std::exception_ptr, SendResult r) { a = r; });
  boost::asio::co_spawn(f.io, sender.send(post(2, second, "deux")), [&](std::exception_ptr, SendResult r) { b = r; });
  REQUIRE(f.until([&] { return a && b; }));
  CHECK(a->status == SendResult::Status::sent);
  CHECK(b->status == SendResult::Status::sent);
  CHECK(f.requests_to("/login") == 1);
}
