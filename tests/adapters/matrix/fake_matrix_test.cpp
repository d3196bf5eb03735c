// The fake Matrix homeserver, driven through the shared HTTP client as the
// adapter will drive it: it must follow the client-server spec (v1.19) closely
// enough that an adapter passing against it works against Synapse.
#include "adapters/common/http_client.hpp"
#include "tests/support/fake_matrix.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

using namespace relance;
using namespace std::chrono_literals;
using net::HttpResult;
using net::Method;
using nlohmann::json;
using test::FakeMatrix;

namespace {

// Path segments percent-encoded (room ids, event ids, aliases carry ! $ # : @).
std::string enc(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// One client of the fake: the bot, or whoever logs in.
struct Client {
  explicit Client(FakeMatrix& hs) : fake(hs), http(io.get_executor()) {}

  HttpResult call(Method m, const std::string& path, std::optional<json> body = std::nullopt,
                  std::chrono::milliseconds timeout = 5s) {
    return test::run_awaitable(io, start(m, path, std::move(body), timeout), timeout + 2s);
  }
  boost::asio::awaitable<HttpResult> start(Method m, const std::string& path, std::optional<json> body,
                                           std::chrono::milliseconds timeout) {
    net::Headers h;
    if (!token.empty()) h.push_back({"Authorization", "Bearer " + token});
    std::string payload;
    if (body) {
      h.push_back({"Content-Type", "application/json"});
      payload = body->dump();
    }
    return http.async_request(m, fake.url() + path, std::move(h), std::move(payload), timeout);
  }
  // Starts a request in the background; the result lands in the returned slot.
  std::shared_ptr<std::optional<HttpResult>> spawn(Method m, const std::string& path,
                                                   std::chrono::milliseconds timeout = 5s) {
    auto slot = std::make_shared<std::optional<HttpResult>>();
    boost::asio::co_spawn(io, start(m, path, std::nullopt, timeout), [slot](std::exception_ptr, HttpResult r) {
      *slot = std::move(r);
    });
    return slot;
  }
  void login(const std::string& user, const std::string& password, const std::string& device = "RELANCEBOT") {
    json body{{"type", "m.login.password"},
              {"identifier", {{"type", "m.id.user"}, {"user", user}}},
              {"password", password},
              {"device_id", device}};
    auto r = call(Method::post, "/_matrix/client/v3/login", body);
    REQUIRE(r.status == 200);
    auto j = json::parse(r.body);
    token = j.at("access_token");
    user_id = j.at("user_id");
    device_id = j.at("device_id");
  }
  json sync(const std::string& query = {}) {
    auto r = call(Method::get, "/_matrix/client/v3/sync" + (query.empty() ? "" : "?" + query));
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  std::string send(const std::string& room, const std::string& txn, const json& content,
                   const std::string& type = "m.room.message") {
    auto r = call(Method::put, "/_matrix/client/v3/rooms/" + enc(room) + "/send/" + enc(type) + "/" + enc(txn), content);
    REQUIRE(r.status == 200);
    return json::parse(r.body).at("event_id");
  }
  void wait(std::chrono::milliseconds d) {  // honouring a server-given delay, as the adapter will
    test::run_awaitable(io, [d]() -> boost::asio::awaitable<void> {
      boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
      co_await t.async_wait(boost::asio::use_awaitable);
    }());
  }

  FakeMatrix& fake;
  boost::asio::io_context io;
  net::HttpClient http;
  std::string token, user_id, device_id;
};

json errbody(const HttpResult& r) { return json::parse(r.body); }

// The timeline events of one joined room in a /sync answer ([] when absent).
json timeline(const json& sync, const std::string& room) {
  if (!sync.contains("rooms") || !sync["rooms"].contains("join") || !sync["rooms"]["join"].contains(room))
    return json::array();
  return sync["rooms"]["join"][room]["timeline"]["events"];
}

const json* find_type(const json& events, const std::string& type) {
  for (const auto& e : events)
    if (e.value("type", "") == type) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("fake matrix: versions, login with a kept device, whoami, refused tokens", "[matrix][fake]") {
  FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  Client c(hs);

  auto v = c.call(Method::get, "/_matrix/client/versions");
  REQUIRE(v.status == 200);
  CHECK(json::parse(v.body)["versions"].size() > 0);

  auto flows = c.call(Method::get, "/_matrix/client/v3/login");
  CHECK(json::parse(flows.body)["flows"][0]["type"] == "m.login.password");

  auto bad = c.call(Method::post, "/_matrix/client/v3/login",
                    json{{"type", "m.login.password"},
                         {"identifier", {{"type", "m.id.user"}, {"user", "relance"}}},
                         {"password", "wrong"}});
  CHECK(bad.status == 403);
  CHECK(errbody(bad)["errcode"] == "M_FORBIDDEN");
  CHECK(errbody(bad).contains("error"));

  auto no_type = c.call(Method::post, "/_matrix/client/v3/login", json{{"password", "secret"}});
  CHECK(no_type.status == 400);
  CHECK(errbody(no_type)["errcode"] == "M_UNKNOWN");
  c.login("relance", "secret", "RELANCEBOT");
  CHECK(c.user_id == bot);
  CHECK(c.device_id == "RELANCEBOT");
  auto who = c.call(Method::get, "/_matrix/client/v3/account/whoami");
  REQUIRE(who.status == 200);
  CHECK(json::parse(who.body)["user_id"] == bot);
  CHECK(json::parse(who.body)["device_id"] == "RELANCEBOT");

  // A second login on the same device: new token, the old one is gone.
  const auto old = c.token;
  c.login("@relance:fake.test", "secret", "RELANCEBOT");
  CHECK(c.token != old);
  CHECK(c.device_id == "RELANCEBOT");
  c.token = old;
  auto stale = c.call(Method::get, "/_matrix/client/v3/account/whoami");
  CHECK(stale.status == 401);
  CHECK(errbody(stale)["errcode"] == "M_UNKNOWN_TOKEN");

  c.token.clear();
  auto missing = c.call(Method::get, "/_matrix/client/v3/account/whoami");
  CHECK(missing.status == 401);
  CHECK(errbody(missing)["errcode"] == "M_MISSING_TOKEN");

  // A pre-provisioned token works like a login; revoked, it is refused.
  hs.add_access_token(bot, "PROVISIONED", "tok-1");
  c.token = "tok-1";
  auto who2 = c.call(Method::get, "/_matrix/client/v3/account/whoami");
  CHECK(json::parse(who2.body)["device_id"] == "PROVISIONED");
  hs.revoke_token("tok-1");
  CHECK(c.call(Method::get, "/_matrix/client/v3/account/whoami").status == 401);

  // An endpoint the server does not have: 404 M_UNRECOGNIZED, token or not.
  auto unknown = c.call(Method::get, "/_matrix/client/v3/no/such/thing");
  CHECK(unknown.status == 404);
  CHECK(errbody(unknown)["errcode"] == "M_UNRECOGNIZED");
}

TEST_CASE("fake matrix: send is idempotent per device and txnId, notices keep their HTML", "[matrix][fake]") {
  FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  const auto alice = hs.user_id("alice");
  const auto room = hs.create_room(alice, {.name = "Accueil", .members = {bot}});
  Client c(hs);
  c.login("relance", "secret");

  const json notice{{"msgtype", "m.notice"},
                    {"body", "Alerte : Léa Martin inactive depuis 12 jours"},
                    {"format", "org.matrix.custom.html"},
                    {"formatted_body", "<b>Alerte</b> : Léa Martin inactive depuis 12 jours"}};
  const auto first = c.send(room, "outbox-42", notice);
  const auto again = c.send(room, "outbox-42", notice);
  CHECK(first == again);
  CHECK(hs.retransmissions() == 1);
  auto sent = hs.sent_events();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].txn_id == "outbox-42");
  CHECK(sent[0].device_id == "RELANCEBOT");
  CHECK(sent[0].content["format"] == "org.matrix.custom.html");
  CHECK(sent[0].content["formatted_body"] == "<b>Alerte</b> : Léa Martin inactive depuis 12 jours");
  CHECK(sent[0].content["msgtype"] == "m.notice");

  // Same txnId, other room: another transaction (scope = the path).
  const auto room2 = hs.create_room(alice, {.members = {bot}});
  CHECK(c.send(room2, "outbox-42", notice) != first);

  // A restart logs in again on the same device: still the same transaction.
  c.login("relance", "secret", "RELANCEBOT");
  CHECK(c.send(room, "outbox-42", notice) == first);
  // Another device is another scope.
  c.login("relance", "secret", "OTHERDEVICE");
  CHECK(c.send(room, "outbox-42", notice) != first);
  CHECK(hs.sent_events().size() == 3);

  // The event as stored, and as fetched.
  auto got = c.call(Method::get, "/_matrix/client/v3/rooms/" + enc(room) + "/event/" + enc(first));
  REQUIRE(got.status == 200);
  auto ev = json::parse(got.body);
  CHECK(ev["sender"] == bot);
  CHECK(ev["content"]["formatted_body"] == notice["formatted_body"]);
  auto missing = c.call(Method::get, "/_matrix/client/v3/rooms/" + enc(room) + "/event/" + enc("$nope"));
  CHECK(missing.status == 404);
  CHECK(errbody(missing)["errcode"] == "M_NOT_FOUND");

  // Not a member: refused.
  const auto closed = hs.create_room(alice, {});
  auto refused = c.call(Method::put, "/_matrix/client/v3/rooms/" + enc(closed) + "/send/m.room.message/t1", notice);
  CHECK(refused.status == 403);
  CHECK(errbody(refused)["errcode"] == "M_FORBIDDEN");
}

TEST_CASE("fake matrix: filter, initial sync, since, own echoes carry the transaction id", "[matrix][fake]") {
  FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  const auto alice = hs.user_id("alice");
  const auto room = hs.create_room(alice, {.name = "Suivi", .members = {bot}});
  for (int i = 0; i < 4; ++i) hs.send_text(room, alice, "message " + std::to_string(i));
  Client c(hs);
  c.login("relance", "secret");

  auto f = c.call(Method::post, "/_matrix/client/v3/user/" + enc(bot) + "/filter",
                  json{{"room", {{"timeline", {{"limit", 2}, {"types", {"m.room.*"}}}}}}});
  REQUIRE(f.status == 200);
  const std::string filter_id = json::parse(f.body).at("filter_id");
  CHECK(filter_id.front() != '{');
  CHECK(hs.filters(bot).size() == 1);
  auto other = c.call(Method::post, "/_matrix/client/v3/user/" + enc(alice) + "/filter", json::object());
  CHECK(other.status == 403);

  auto initial = c.sync("filter=" + filter_id);
  const std::string since = initial.at("next_batch");
  auto tl = timeline(initial, room);
  REQUIRE(tl.size() == 2);
  CHECK(tl[1]["content"]["body"] == "message 3");
  CHECK_FALSE(tl[1].contains("room_id"));  // the room is the key (NOTES "Observed")
  CHECK(initial["rooms"]["join"][room]["timeline"]["limited"] == true);
  CHECK(find_type(initial["rooms"]["join"][room]["state"]["events"], "m.room.name") != nullptr);

  // A limited timeline is back-filled from its prev_batch.
  const std::string prev = initial["rooms"]["join"][room]["timeline"].at("prev_batch");
  auto page = c.call(Method::get, "/_matrix/client/v3/rooms/" + enc(room) + "/messages?dir=b&limit=2&from=" + prev);
  REQUIRE(page.status == 200);
  auto chunk = json::parse(page.body)["chunk"];
  REQUIRE(chunk.size() == 2);
  CHECK(chunk[0]["content"]["body"] == "message 1");
  CHECK(chunk[1]["content"]["body"] == "message 0");

  // Nothing new: an empty answer, no rooms at all.
  auto idle = c.sync("since=" + since + "&timeout=0&filter=" + filter_id);
  CHECK_FALSE(idle.contains("rooms"));

  const auto mine = c.send(room, "t-1", json{{"msgtype", "m.notice"}, {"body", "pris"}});
  hs.send_text(room, alice, "merci");
  auto next = c.sync("since=" + since + "&filter=" + filter_id);
  auto tl2 = timeline(next, room);
  REQUIRE(tl2.size() == 2);
  CHECK(tl2[0]["event_id"] == mine);
  CHECK(tl2[0]["unsigned"]["transaction_id"] == "t-1");
  CHECK_FALSE(tl2[1]["unsigned"].contains("transaction_id"));
  CHECK_FALSE(next["rooms"]["join"][room]["timeline"]["limited"].get<bool>());

  // An inline filter (first character '{') and an unknown filter id.
  auto inline_sync = c.sync("since=" + since + "&filter=" + enc(R"({"room":{"timeline":{"not_senders":[")" + bot + R"("]}}})"));
  REQUIRE(timeline(inline_sync, room).size() == 1);
  CHECK(c.call(Method::get, "/_matrix/client/v3/sync?filter=99").status == 400);
  CHECK(c.call(Method::get, "/_matrix/client/v3/sync?since=garbage").status == 400);
}

TEST_CASE("fake matrix: /sync long-polls until an event arrives, or times out empty", "[matrix][fake]") {
  FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  const auto alice = hs.user_id("alice");
  const auto room = hs.create_room(alice, {.members = {bot}});
  Client c(hs);
  c.login("relance", "secret");
  const std::string since = c.sync().at("next_batch");

  SECTION("an injected event ends the wait early") {
    const auto t0 = std::chrono::steady_clock::now();
    auto slot = c.spawn(Method::get, "/_matrix/client/v3/sync?since=" + since + "&timeout=5000", 8s);
    REQUIRE(test::run_io_until(c.io, [&] { return hs.waiting_syncs() == 1; }, 3s));
    // Meanwhile the server still answers other requests.
    Client other(hs);
    CHECK(other.call(Method::get, "/_matrix/client/versions").status == 200);
    CHECK_FALSE(slot->has_value());
    hs.send_text(room, alice, "bonjour");
    REQUIRE(test::run_io_until(c.io, [&] { return slot->has_value(); }, 3s));
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    REQUIRE((*slot)->status == 200);
    auto j = json::parse((*slot)->body);
    REQUIRE(timeline(j, room).size() == 1);
    CHECK(timeline(j, room)[0]["content"]["body"] == "bonjour");
    CHECK(j["next_batch"] != since);
    CHECK(hs.waiting_syncs() == 0);
  }

  SECTION("on a server with nothing at all, the first since token still waits") {
    FakeMatrix empty_hs;
    empty_hs.add_user("relance", "secret");
    Client e(empty_hs);
    e.login("relance", "secret");
    const std::string first = e.sync().at("next_batch");
    const auto t0 = std::chrono::steady_clock::now();
    auto r = e.call(Method::get, "/_matrix/client/v3/sync?since=" + first + "&timeout=200");
    CHECK(r.status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 >= 180ms);
  }

  SECTION("a server going away mid-poll closes the connection, it does not hang") {
    auto doomed = std::make_unique<FakeMatrix>();
    doomed->add_user("relance", "secret");
    Client d(*doomed);
    d.login("relance", "secret");
    const std::string first = d.sync().at("next_batch");
    auto slot = d.spawn(Method::get, "/_matrix/client/v3/sync?since=" + first + "&timeout=5000", 8s);
    REQUIRE(test::run_io_until(d.io, [&] { return doomed->waiting_syncs() == 1; }, 3s));
    doomed.reset();
    REQUIRE(test::run_io_until(d.io, [&] { return slot->has_value(); }, 3s));
    CHECK_FALSE((*slot)->answered());
  }

  SECTION("the timeout passes: an empty batch") {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.call(Method::get, "/_matrix/client/v3/sync?since=" + since + "&timeout=300");
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(r.status == 200);
    auto j = json::parse(r.body);
    CHECK(j.contains("next_batch"));
    CHECK_FALSE(j.contains("rooms"));
    CHECK(took >= 280ms);
    CHECK(took < 3s);
  }
}

TEST_CASE("fake matrix: invites show in sync, join accepts, DMs, m.direct, createRoom", "[matrix][fake]") {
  FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  const auto alice = hs.user_id("alice");
  Client c(hs);
  c.login("relance", "secret");
  const std::string since = c.sync().at("next_batch");

  const auto dm = hs.invite_to_new_room(alice, bot, /*is_direct=*/true);
  auto s = c.sync("since=" + since + "&timeout=2000");
  REQUIRE(s["rooms"]["invite"].contains(dm));
  const auto& invite_state = s["rooms"]["invite"][dm]["invite_state"]["events"];
  const json* member = nullptr;
  for (const auto& e : invite_state)
    if (e["type"] == "m.room.member" && e["state_key"] == bot) member = &e;
  REQUIRE(member != nullptr);
  CHECK((*member)["sender"] == alice);
  CHECK((*member)["content"]["membership"] == "invite");
  CHECK((*member)["content"]["is_direct"] == true);
  CHECK(hs.account_data(alice, "m.direct").value()[bot][0] == dm);

  auto joined = c.call(Method::post, "/_matrix/client/v3/join/" + enc(dm), json::object());
  REQUIRE(joined.status == 200);
  CHECK(json::parse(joined.body)["room_id"] == dm);
  CHECK(hs.membership(dm, bot) == "join");
  REQUIRE(hs.joins().size() == 1);
  CHECK(hs.joins()[0].room_id == dm);
  auto after = c.sync("since=" + s.at("next_batch").get<std::string>());
  CHECK(after["rooms"]["join"].contains(dm));
  CHECK_FALSE(after["rooms"].contains("invite"));

  // Not invited: refused; by id through /rooms/{id}/join once invited.
  const auto closed = hs.create_room(alice, {.alias_localpart = "equipe"});
  auto refused = c.call(Method::post, "/_matrix/client/v3/rooms/" + enc(closed) + "/join", json::object());
  CHECK(refused.status == 403);
  CHECK(errbody(refused)["errcode"] == "M_FORBIDDEN");
  hs.invite(alice, closed, bot);
  CHECK(c.call(Method::post, "/_matrix/client/v3/join/" + enc("#equipe:fake.test"), json::object()).status == 200);
  CHECK(hs.membership(closed, bot) == "join");

  // The bot opens a DM itself and records it in m.direct (read-modify-write).
  auto created = c.call(Method::post, "/_matrix/client/v3/createRoom",
                        json{{"is_direct", true}, {"invite", {alice}}, {"preset", "trusted_private_chat"}});
  REQUIRE(created.status == 200);
  const std::string own_dm = json::parse(created.body).at("room_id");
  CHECK(hs.membership(own_dm, bot) == "join");
  CHECK(hs.membership(own_dm, alice) == "invite");
  CHECK_FALSE(hs.is_encrypted(own_dm));
  auto events = hs.room_events(own_dm);
  CHECK(events.front()["type"] == "m.room.create");
  CHECK(events.back()["content"]["is_direct"] == true);

  auto none = c.call(Method::get, "/_matrix/client/v3/user/" + enc(bot) + "/account_data/m.direct");
  CHECK(none.status == 404);
  CHECK(errbody(none)["errcode"] == "M_NOT_FOUND");
  json direct{{alice, {dm, own_dm}}};
  CHECK(c.call(Method::put, "/_matrix/client/v3/user/" + enc(bot) + "/account_data/m.direct", direct).status == 200);
  auto back = c.call(Method::get, "/_matrix/client/v3/user/" + enc(bot) + "/account_data/m.direct");
  CHECK(json::parse(back.body) == direct);
  CHECK(c.call(Method::put, "/_matrix/client/v3/user/" + enc(alice) + "/account_data/m.direct", direct).status == 403);
  auto synced = c.sync("since=" + after.at("next_batch").get<std::string>());
  REQUIRE(synced.contains("account_data"));
  CHECK(synced["account_data"]["events"][0]["type"] == "m.direct");
}

TEST_CASE("fake matrix: reactions, threads and encryption as a bot sees them", "[matrix][fake]") {
  FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  const auto alice = hs.user_id("alice");
  const auto room = hs.create_room(alice, {.members = {bot}});
  Client c(hs);
  c.login("relance", "secret");
  const std::string since = c.sync().at("next_batch");

  const auto alert = c.send(room, "outbox-1", json{{"msgtype", "m.notice"}, {"body", "Alerte 42"}});
  const auto reaction = hs.react(room, alice, alert, "✋");
  const auto reply = hs.reply_in_thread(room, alice, alert, "je m'en occupe");
  const auto bot_reply = c.send(room, "outbox-2",
                                json{{"msgtype", "m.notice"},
                                     {"body", "Pris par Alice"},
                                     {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", alert},
                                                       {"is_falling_back", true},
                                                       {"m.in_reply_to", {{"event_id", reply}}}}}});

  auto s = c.sync("since=" + since);
  auto tl = timeline(s, room);
  REQUIRE(tl.size() == 4);
  const json* r = find_type(tl, "m.reaction");
  REQUIRE(r != nullptr);
  CHECK((*r)["event_id"] == reaction);
  CHECK((*r)["sender"] == alice);
  CHECK((*r)["content"]["m.relates_to"] ==
        json{{"rel_type", "m.annotation"}, {"event_id", alert}, {"key", "✋"}});
  CHECK(tl[2]["event_id"] == reply);
  CHECK(tl[2]["content"]["m.relates_to"]["rel_type"] == "m.thread");
  CHECK(tl[2]["content"]["m.relates_to"]["event_id"] == alert);
  CHECK(tl[2]["content"]["m.relates_to"]["is_falling_back"] == true);
  CHECK(tl[3]["event_id"] == bot_reply);

  // The root fetched alone carries the thread summary; relations list both.
  auto root = json::parse(c.call(Method::get, "/_matrix/client/v3/rooms/" + enc(room) + "/event/" + enc(alert)).body);
  CHECK(root["unsigned"]["m.relations"]["m.thread"]["count"] == 2);
  CHECK(root["unsigned"]["m.relations"]["m.thread"]["latest_event"]["event_id"] == bot_reply);
  CHECK(root["unsigned"]["m.relations"]["m.thread"]["current_user_participated"] == true);
  auto rel = c.call(Method::get, "/_matrix/client/v1/rooms/" + enc(room) + "/relations/" + enc(alert) + "/m.thread");
  REQUIRE(rel.status == 200);
  auto chunk = json::parse(rel.body)["chunk"];
  REQUIRE(chunk.size() == 2);
  CHECK(chunk[0]["event_id"] == bot_reply);  // newest first

  // Spec rules the server enforces: one identical annotation per sender,
  // no thread off an event that relates to another.
  const json react{{"m.relates_to", {{"rel_type", "m.annotation"}, {"event_id", alert}, {"key", "✅"}}}};
  c.send(room, "react-1", react, "m.reaction");
  auto dup = c.call(Method::put, "/_matrix/client/v3/rooms/" + enc(room) + "/send/m.reaction/react-2", react);
  CHECK(dup.status == 400);
  CHECK(errbody(dup)["errcode"] == "M_DUPLICATE_ANNOTATION");
  auto nested = c.call(Method::put, "/_matrix/client/v3/rooms/" + enc(room) + "/send/m.room.message/nested",
                       json{{"msgtype", "m.text"}, {"body", "x"},
                            {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", reply}}}});
  CHECK(nested.status == 400);

  // A reaction taken back is a redaction; the bot may then react again.
  const auto undo = hs.redact(room, alice, reaction);
  const auto own_react = hs.sent_events().back().event_id;
  auto redact_path = "/_matrix/client/v3/rooms/" + enc(room) + "/redact/" + enc(own_react) + "/undo-1";
  auto r1 = c.call(Method::put, redact_path, json::object());
  auto r2 = c.call(Method::put, redact_path, json::object());
  REQUIRE(r1.status == 200);
  CHECK(json::parse(r1.body)["event_id"] == json::parse(r2.body)["event_id"]);
  c.send(room, "react-3", react, "m.reaction");
  auto undone = c.sync("since=" + s.at("next_batch").get<std::string>());
  const auto undone_tl = timeline(undone, room);
  const json* red = find_type(undone_tl, "m.room.redaction");
  REQUIRE(red != nullptr);
  CHECK((*red)["event_id"] == undo);
  CHECK((*red)["content"]["redacts"] == reaction);
  CHECK((*red)["redacts"] == reaction);
  CHECK(hs.event(reaction).value()["content"].empty());

  // Encryption switched on: a state event in the timeline, then unreadable events.
  const std::string before = s.at("next_batch");
  hs.enable_encryption(room, alice);
  hs.send_encrypted(room, alice);
  CHECK(hs.is_encrypted(room));
  auto enc_sync = c.sync("since=" + before);
  auto tl2 = timeline(enc_sync, room);
  const json* on = find_type(tl2, "m.room.encryption");
  REQUIRE(on != nullptr);
  CHECK((*on)["state_key"] == "");
  CHECK((*on)["content"]["algorithm"] == "m.megolm.v1.aes-sha2");
  CHECK(find_type(tl2, "m.room.encrypted") != nullptr);

  // Removed from a room: it moves to rooms.leave, with the leave event.
  const std::string before_leave = enc_sync.at("next_batch");
  hs.leave(bot, room);
  auto left = c.sync("since=" + before_leave);
  REQUIRE(left["rooms"]["leave"].contains(room));
  CHECK(find_type(left["rooms"]["leave"][room]["timeline"]["events"], "m.room.member") != nullptr);
  CHECK_FALSE(left["rooms"].contains("join"));

  // An encrypted DM shows it already in the invite's stripped state.
  const auto dm = hs.invite_to_new_room(alice, bot, true, /*encrypted=*/true);
  auto inv = c.sync("since=" + enc_sync.at("next_batch").get<std::string>());
  CHECK(find_type(inv["rooms"]["invite"][dm]["invite_state"]["events"], "m.room.encryption") != nullptr);
}

TEST_CASE("fake matrix: 429 M_LIMIT_EXCEEDED with retry_after_ms, then success", "[matrix][fake]") {
  FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  const auto room = hs.create_room(hs.user_id("alice"), {.members = {bot}});
  Client c(hs);
  c.login("relance", "secret");
  hs.set_rate_limit(FakeMatrix::RateLimit{.per_second = 10, .burst = 2});

  const json msg{{"msgtype", "m.notice"}, {"body", "x"}};
  const auto first = c.send(room, "a", msg);
  c.send(room, "b", msg);
  auto limited = c.call(Method::put, "/_matrix/client/v3/rooms/" + enc(room) + "/send/m.room.message/c", msg);
  REQUIRE(limited.status == 429);
  auto body = errbody(limited);
  CHECK(body["errcode"] == "M_LIMIT_EXCEEDED");
  CHECK(body["error"] == "Too many requests");
  const auto retry = body.at("retry_after_ms").get<int>();
  CHECK(retry > 0);
  CHECK(retry <= 100);
  CHECK(limited.header("Retry-After") == "1");  // whole seconds, rounded up
  // A retransmission is answered from the transaction cache, limit or not.
  CHECK(c.send(room, "a", msg) == first);
  // Reads are not limited by default.
  CHECK(c.call(Method::get, "/_matrix/client/v3/account/whoami").status == 200);

  c.wait(std::chrono::milliseconds{retry});
  c.send(room, "c", msg);
  CHECK(hs.sent_events().size() == 3);
  CHECK(hs.rate_limited_count() == 1);

  // Scripted: the next send is refused whatever the bucket says.
  hs.set_rate_limit(std::nullopt);
  hs.limit_next(1, 2500ms, "/send/");
  auto scripted = c.call(Method::put, "/_matrix/client/v3/rooms/" + enc(room) + "/send/m.room.message/d", msg);
  CHECK(scripted.status == 429);
  CHECK(errbody(scripted)["retry_after_ms"] == 2500);
  CHECK(scripted.header("Retry-After") == "3");
  c.send(room, "d", msg);

  // Stock Synapse figures (NOTES "Observed"): a burst of 10, then one every 5 s.
  hs.set_rate_limit(FakeMatrix::RateLimit{});
  for (int i = 0; i < 10; ++i) c.send(room, "burst-" + std::to_string(i), msg);
  auto over = c.call(Method::put, "/_matrix/client/v3/rooms/" + enc(room) + "/send/m.room.message/burst-10", msg);
  REQUIRE(over.status == 429);
  CHECK(errbody(over)["retry_after_ms"].get<int>() > 4000);
  CHECK(over.header("Retry-After") == "5");
  // Other actions share the user's bucket; reads do not.
  CHECK(c.call(Method::post, "/_matrix/client/v3/createRoom", json::object()).status == 429);
  CHECK(c.sync().contains("next_batch"));
}

TEST_CASE("fake matrix: injected 502s and dropped connections", "[matrix][fake]") {
  FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  const auto room = hs.create_room(hs.user_id("alice"), {.members = {bot}});
  Client c(hs);
  c.login("relance", "secret");
  const json msg{{"msgtype", "m.notice"}, {"body", "x"}};

  hs.fail_next(2, FakeMatrix::Fault::bad_gateway);
  for (int i = 0; i < 2; ++i) {
    auto r = c.call(Method::get, "/_matrix/client/v3/account/whoami");
    CHECK(r.status == 502);
    CHECK(r.header("Content-Type") == "text/html");
    CHECK(r.body.find("502 Bad Gateway") != std::string::npos);
  }
  CHECK(c.call(Method::get, "/_matrix/client/v3/account/whoami").status == 200);

  hs.fail_next(1, FakeMatrix::Fault::drop, "/send/");
  auto dropped = c.call(Method::put, "/_matrix/client/v3/rooms/" + enc(room) + "/send/m.room.message/t1", msg);
  CHECK_FALSE(dropped.answered());
  CHECK(hs.sent_events().empty());

  // The send lands but its answer is lost: the retry with the same txnId
  // gets the same event, and the room holds one copy.
  hs.fail_next(1, FakeMatrix::Fault::drop_after_processing, "/send/");
  auto lost = c.call(Method::put, "/_matrix/client/v3/rooms/" + enc(room) + "/send/m.room.message/t1", msg);
  CHECK_FALSE(lost.answered());
  REQUIRE(hs.sent_events().size() == 1);
  CHECK(c.send(room, "t1", msg) == hs.sent_events()[0].event_id);
  CHECK(hs.sent_events().size() == 1);
}
