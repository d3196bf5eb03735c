// The fake Mattermost itself, driven the way the adapter will drive it: REST
// through net::HttpClient, the event stream through a Beast WebSocket client,
// integrations (buttons, slash commands) through small fake endpoints.
// Behaviour checked against ../shared/specs/mattermost/NOTES.md.
#include "adapters/common/form.hpp"
#include "adapters/common/http_client.hpp"
#include "test_support.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/fake_mattermost.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>

using namespace relance;
using namespace std::chrono_literals;
using nlohmann::json;
using test::FakeMattermost;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

namespace {

struct Rest {
  explicit Rest(FakeMattermost& mm) : mm(mm), client(io.get_executor()) {}

  net::HttpResult call(net::Method m, const std::string& path, std::string body = {}, bool auth = true,
                       std::string token = {}) {
    net::Headers h;
    if (auth) h.push_back({"Authorization", "Bearer " + (token.empty() ? mm.options().bot_token : token)});
    if (!body.empty()) h.push_back({"Content-Type", "application/json"});
    return test::run_awaitable(io, client.async_request(m, mm.api_url() + path, std::move(h), std::move(body), 5s));
  }
  json post(const std::string& channel_id, const std::string& message, json props = json::object(),
            const std::string& root_id = {}) {
    json body{{"channel_id", channel_id}, {"message", message}, {"props", std::move(props)}};
    if (!root_id.empty()) body["root_id"] = root_id;
    auto r = call(net::Method::post, "/posts", body.dump());
    REQUIRE(r.status == 201);
    return json::parse(r.body);
  }

  FakeMattermost& mm;
  asio::io_context io;
  net::HttpClient client;
};

// A WebSocket client on the test's io_context (what the adapter's listener
// will be), reading frames one at a time with a deadline.
struct WsClient {
  explicit WsClient(asio::io_context& io) : io(io), ws(io) {}

  // Returns the upgrade's HTTP status (101 when accepted).
  unsigned connect(std::uint16_t port, const std::string& target, const std::string& token) {
    websocket::response_type res;
    auto run = [&]() -> asio::awaitable<void> {
      asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
      co_await beast::get_lowest_layer(ws).async_connect(ep, asio::use_awaitable);
      beast::get_lowest_layer(ws).expires_never();
      ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
        if (!token.empty()) req.set(beast::http::field::authorization, "Bearer " + token);
      }));
      beast::error_code ec;
      co_await ws.async_handshake(res, "127.0.0.1:" + std::to_string(port), target,
                                  asio::redirect_error(asio::use_awaitable, ec));
    };
    test::run_awaitable(io, run(), 5s);
    return res.result_int();
  }
  // The next text frame, parsed; nullopt when the connection ended.
  std::optional<json> next() {
    auto run = [&]() -> asio::awaitable<std::optional<json>> {
      beast::flat_buffer buf;
      beast::error_code ec;
      co_await ws.async_read(buf, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return std::nullopt;
      last_text = beast::buffers_to_string(buf.data());
      co_return json::parse(last_text);
    };
    return test::run_awaitable(io, run(), 5s);
  }
  json next_event() {
    auto j = next();
    REQUIRE(j.has_value());
    return *j;
  }
  void send(const json& j) {
    auto run = [&]() -> asio::awaitable<void> { co_await ws.async_write(asio::buffer(j.dump()), asio::use_awaitable); };
    test::run_awaitable(io, run(), 5s);
  }

  asio::io_context& io;
  websocket::stream<beast::tcp_stream> ws;
  std::string last_text;
};

std::string query_for(const std::string& connection_id, std::int64_t sequence_number) {
  return "/api/v4/websocket?connection_id=" + connection_id + "&sequence_number=" + std::to_string(sequence_number);
}

}  // namespace

TEST_CASE("fake mattermost: REST needs the bot token", "[mattermost][fake]") {
  FakeMattermost mm;
  Rest rest(mm);

  auto none = rest.call(net::Method::get, "/users/me", {}, false);
  REQUIRE(none.status == 401);
  auto err = json::parse(none.body);
  CHECK(err["id"] == "api.context.session_expired.app_error");
  CHECK(err["status_code"] == 401);
  CHECK(err.contains("message"));
  CHECK(err.contains("request_id"));

  CHECK(rest.call(net::Method::get, "/users/me", {}, true, "wrongtokenwrongtokenwrongt").status == 401);

  auto me = rest.call(net::Method::get, "/users/me");
  REQUIRE(me.status == 200);
  auto user = json::parse(me.body);
  CHECK(user["id"] == mm.bot().id);
  CHECK(user["is_bot"] == true);
  CHECK(user["username"] == "relance-bot");

  auto alice = mm.add_user("alice");
  auto by_name = rest.call(net::Method::get, "/users/username/alice");
  REQUIRE(by_name.status == 200);
  CHECK(json::parse(by_name.body)["id"] == alice.id);
  CHECK(rest.call(net::Method::get, "/users/username/nobody").status == 404);
  auto many = rest.call(net::Method::post, "/users/usernames", json::array({"alice", "nobody"}).dump());
  CHECK(json::parse(many.body).size() == 1);

  auto unknown = rest.call(net::Method::get, "/nothing/here");
  CHECK(unknown.status == 404);
  CHECK(json::parse(unknown.body)["id"] == "api.context.404.app_error");
}

TEST_CASE("fake mattermost: post, thread, patch, fetch, history", "[mattermost][fake]") {
  FakeMattermost mm;
  auto staff = mm.add_channel("accueil");
  Rest rest(mm);

  json props{{"relance_outbox_id", "ob-42"},
             {"attachments",
              json::array({{{"text", "Learner X inactive 10 days"},
                            {"actions", json::array({{{"id", "claim"}, {"type", "button"}, {"name", "Prendre"},
                                                      {"integration",
                                                       {{"url", "http://127.0.0.1:9/mm/action"},
                                                        {"context", {{"case", "123"}}}}}}})}}})}};
  auto post = rest.post(staff.id, "Nouveau cas", props);
  const std::string id = post["id"];
  CHECK(id.size() == 26);
  CHECK(post["create_at"].get<std::int64_t>() > 1'600'000'000'000);  // milliseconds
  CHECK(post["user_id"] == mm.bot().id);
  CHECK(post["type"] == "slack_attachment");
  CHECK(post["props"]["relance_outbox_id"] == "ob-42");
  CHECK(post["props"]["from_bot"] == "true");
  // Clients never see `integration`; the stored post keeps it.
  CHECK_FALSE(post["props"]["attachments"][0]["actions"][0].contains("integration"));
  CHECK(mm.post(id)->at("props")["attachments"][0]["actions"][0]["integration"]["context"]["case"] == "123");

  auto reply = rest.post(staff.id, "en cours", json::object(), id);
  CHECK(reply["root_id"] == id);
  // A reply to a reply is refused: root_id must be the thread's root.
  auto bad = rest.call(net::Method::post, "/posts",
                       json{{"channel_id", staff.id}, {"message", "x"}, {"root_id", reply["id"]}}.dump());
  CHECK(bad.status == 400);
  CHECK(rest.call(net::Method::post, "/posts", json{{"channel_id", FakeMattermost::new_id()}, {"message", "x"}}.dump())
            .status == 403);
  CHECK(rest.call(net::Method::post, "/posts",
                  json{{"channel_id", staff.id}, {"message", std::string(16384, 'a')}}.dump())
            .status == 400);

  auto patched = rest.call(net::Method::put, "/posts/" + id + "/patch", json{{"message", "Cas pris"}}.dump());
  REQUIRE(patched.status == 200);
  auto p = json::parse(patched.body);
  CHECK(p["message"] == "Cas pris");
  CHECK(p["edit_at"].get<std::int64_t>() > 0);
  CHECK(p["props"]["relance_outbox_id"] == "ob-42");  // patch without props keeps them
  // PUT /posts/{id} must repeat the id.
  CHECK(rest.call(net::Method::put, "/posts/" + id, json{{"message", "y"}}.dump()).status == 400);
  CHECK(rest.call(net::Method::put, "/posts/" + id, json{{"id", id}, {"message", "Cas clos"}}.dump()).status == 200);

  auto fetched = rest.call(net::Method::get, "/posts/" + id);
  REQUIRE(fetched.status == 200);
  CHECK(json::parse(fetched.body)["message"] == "Cas clos");
  CHECK(rest.call(net::Method::get, "/posts/" + FakeMattermost::new_id()).status == 404);

  // Before a retry, the adapter looks for its outbox id in recent posts.
  auto history = rest.call(net::Method::get, "/channels/" + staff.id + "/posts?since=0");
  REQUIRE(history.status == 200);
  auto list = json::parse(history.body);
  REQUIRE(list["order"].size() == 2);
  CHECK(list["order"] == json::array({reply["id"], id}));  // newest first, by creation
  bool found = false;
  for (const auto& [pid, q] : list["posts"].items())
    if (q["props"].value("relance_outbox_id", "") == "ob-42") found = true;
  CHECK(found);
  // `since` is on update_at: only the edited post is newer than the reply.
  auto since = rest.call(net::Method::get, "/channels/" + staff.id + "/posts?since=" +
                                               std::to_string(reply["update_at"].get<std::int64_t>()));
  CHECK(json::parse(since.body)["order"] == json::array({id}));

  CHECK(rest.call(net::Method::delete_, "/posts/" + reply["id"].get<std::string>()).status == 200);
  CHECK(rest.call(net::Method::get, "/posts/" + reply["id"].get<std::string>()).status == 404);
  auto after = json::parse(rest.call(net::Method::get, "/channels/" + staff.id + "/posts?since=0").body);
  CHECK(after["posts"][reply["id"].get<std::string>()]["delete_at"].get<std::int64_t>() > 0);
  CHECK(mm.posts().size() == 2);
}

TEST_CASE("fake mattermost: rate limit answers 429 in plain text, then lets through", "[mattermost][fake]") {
  FakeMattermost::Options o;
  // Slow enough that a loaded machine sends the burst before a token is back.
  o.rate_per_second = 4;
  o.rate_burst = 5;
  FakeMattermost mm(o);
  Rest rest(mm);

  for (int i = 0; i < 5; ++i) {
    auto r = rest.call(net::Method::get, "/users/me");
    REQUIRE(r.status == 200);
    CHECK(r.header("X-Ratelimit-Limit") == "5");
    CHECK(r.header("X-Ratelimit-Remaining") == std::to_string(4 - i));
    CHECK(r.header("X-Ratelimit-Reset").has_value());
  }
  auto refused = rest.call(net::Method::get, "/users/me");
  REQUIRE(refused.status == 429);
  CHECK(refused.body == "limit exceeded\n");  // not JSON (NOTES §1)
  CHECK(refused.header("Content-Type")->rfind("text/plain", 0) == 0);
  CHECK(refused.header("Retry-After") == "1");
  CHECK(refused.header("X-Ratelimit-Remaining") == "0");
  CHECK(refused.header("X-Ratelimit-Limit") == "5");
  CHECK(std::stoi(std::string(*refused.header("X-Ratelimit-Reset"))) >= 1);

  // 4/s: a token is back within 250 ms.
  const auto start = std::chrono::steady_clock::now();
  CHECK(test::wait_until([&] { return rest.call(net::Method::get, "/users/me").status == 200; }, 2s));
  CHECK(std::chrono::steady_clock::now() - start < 1s);

  SECTION("injected failures") {
    mm.fail_next(502, 2);
    auto a = rest.call(net::Method::get, "/users/me");
    CHECK(a.status == 502);
    CHECK(a.body.find("Bad Gateway") != std::string::npos);
    CHECK(rest.call(net::Method::get, "/users/me").status == 502);
    mm.drop_next();
    auto dropped = rest.call(net::Method::get, "/users/me");
    CHECK_FALSE(dropped.answered());
    CHECK(test::wait_until([&] { return rest.call(net::Method::get, "/users/me").status == 200; }, 2s));
  }
}

TEST_CASE("fake mattermost: websocket hello, seq and double-encoded events", "[mattermost][fake][ws]") {
  FakeMattermost mm;
  auto alice = mm.add_user("alice");
  auto dm = mm.direct_channel(alice.id, mm.bot().id);
  CHECK(dm.name == std::min(alice.id, mm.bot().id) + "__" + std::max(alice.id, mm.bot().id));
  Rest rest(mm);

  SECTION("a bad token on the upgrade is refused") {
    WsClient ws(rest.io);
    CHECK(ws.connect(mm.port(), "/api/v4/websocket", "wrongtokenwrongtokenwrongt") == 401);
  }

  SECTION("token on the upgrade") {
    WsClient ws(rest.io);
    REQUIRE(ws.connect(mm.port(), "/api/v4/websocket", mm.options().bot_token) == 101);
    auto hello = ws.next_event();
    CHECK(hello["event"] == "hello");
    CHECK(hello["seq"] == 0);
    CHECK(hello["data"]["server_version"] == "9.8.0");
    CHECK(hello["data"]["connection_id"] == "");  // reliable WebSockets off by default
    CHECK(hello["broadcast"]["user_id"] == mm.bot().id);
    CHECK(ws.last_text.back() == '\n');

    mm.user_posts(alice.id, dm.id, "Bonjour, j'ai une question");
    auto posted = ws.next_event();
    CHECK(posted["event"] == "posted");
    CHECK(posted["seq"] == 1);
    REQUIRE(posted["data"]["post"].is_string());
    auto post = json::parse(posted["data"]["post"].get<std::string>());
    CHECK(post["message"] == "Bonjour, j'ai une question");
    CHECK(post["user_id"] == alice.id);
    CHECK(posted["data"]["channel_type"] == "D");
    CHECK(posted["data"]["sender_name"] == "@alice");
    CHECK(posted["broadcast"]["channel_id"] == dm.id);

    // The bot sees its own posts too.
    auto mine = rest.post(dm.id, "Je regarde");
    auto own = ws.next_event();
    CHECK(own["seq"] == 2);
    CHECK(json::parse(own["data"]["post"].get<std::string>())["user_id"] == mm.bot().id);

    mm.user_reacts(alice.id, mine["id"], "white_check_mark");
    auto reaction = ws.next_event();
    CHECK(reaction["event"] == "reaction_added");
    CHECK(reaction["seq"] == 3);
    REQUIRE(reaction["data"]["reaction"].is_string());
    CHECK(json::parse(reaction["data"]["reaction"].get<std::string>())["emoji_name"] == "white_check_mark");

    // A ping from the server is answered by the client while it reads.
    mm.ping_websockets();
    mm.user_posts(alice.id, dm.id, "?");
    CHECK(ws.next_event()["seq"] == 4);
    CHECK(test::wait_until([&] { return mm.pongs() >= 1; }, 2s));

    const auto frames = mm.frames();
    REQUIRE(frames.size() == 5);
    CHECK(frames[0].outbound);
  }

  SECTION("authentication_challenge") {
    WsClient ws(rest.io);
    REQUIRE(ws.connect(mm.port(), "/api/v4/websocket", {}) == 101);
    ws.send(json{{"seq", 1}, {"action", "user_typing"}, {"data", {{"channel_id", dm.id}}}});
    auto refused = ws.next_event();
    CHECK(refused["status"] == "FAIL");
    ws.send(json{{"seq", 2}, {"action", "authentication_challenge"}, {"data", {{"token", mm.options().bot_token}}}});
    auto ok = ws.next_event();
    CHECK(ok == json{{"status", "OK"}, {"seq_reply", 2}});
    auto hello = ws.next_event();
    CHECK(hello["event"] == "hello");
    CHECK(hello["seq"] == 0);
  }
}

TEST_CASE("fake mattermost: an unauthenticated websocket is dropped", "[mattermost][fake][ws]") {
  FakeMattermost::Options o;
  o.unauthenticated_timeout = 200ms;
  FakeMattermost mm(o);
  Rest rest(mm);
  WsClient ws(rest.io);
  REQUIRE(ws.connect(mm.port(), "/api/v4/websocket", {}) == 101);
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(ws.next().has_value());  // no hello, then the connection ends
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);  // the timer started just before `start`
  CHECK(mm.frames().empty());
}

TEST_CASE("fake mattermost: websocket reconnection", "[mattermost][fake][ws]") {
  FakeMattermost::Options o;
  o.reliable_websockets = true;
  FakeMattermost mm(o);
  auto alice = mm.add_user("alice");
  auto staff = mm.add_channel("accueil");
  Rest rest(mm);

  auto ws = std::make_unique<WsClient>(rest.io);
  REQUIRE(ws->connect(mm.port(), "/api/v4/websocket", o.bot_token) == 101);
  auto hello = ws->next_event();
  const std::string connection_id = hello["data"]["connection_id"];
  CHECK(connection_id.size() == 26);
  mm.user_posts(alice.id, staff.id, "un");
  CHECK(ws->next_event()["seq"] == 1);

  mm.drop_websockets();
  CHECK_FALSE(ws->next().has_value());
  REQUIRE(test::wait_until([&] { return mm.websocket_count() == 0; }, 2s));
  mm.user_posts(alice.id, staff.id, "deux");
  mm.user_posts(alice.id, staff.id, "trois");

  SECTION("resume replays what was missed") {
    ws = std::make_unique<WsClient>(rest.io);
    REQUIRE(ws->connect(mm.port(), query_for(connection_id, 2), o.bot_token) == 101);
    auto two = ws->next_event();  // no new hello
    CHECK(two["event"] == "posted");
    CHECK(two["seq"] == 2);
    CHECK(json::parse(two["data"]["post"].get<std::string>())["message"] == "deux");
    auto three = ws->next_event();
    CHECK(three["seq"] == 3);
    mm.user_posts(alice.id, staff.id, "quatre");
    CHECK(ws->next_event()["seq"] == 4);
  }

  SECTION("a sequence number out of the buffer gets a new connection") {
    ws = std::make_unique<WsClient>(rest.io);
    REQUIRE(ws->connect(mm.port(), query_for(connection_id, 9), o.bot_token) == 101);
    auto again = ws->next_event();
    CHECK(again["event"] == "hello");
    CHECK(again["data"]["connection_id"] != connection_id);
  }

  SECTION("forced new connection_id") {
    mm.forget_connections();
    ws = std::make_unique<WsClient>(rest.io);
    REQUIRE(ws->connect(mm.port(), query_for(connection_id, 2), o.bot_token) == 101);
    auto again = ws->next_event();
    CHECK(again["event"] == "hello");
    CHECK(again["seq"] == 0);
    CHECK(again["data"]["connection_id"] != connection_id);
    CHECK(again["data"]["connection_id"].get<std::string>().size() == 26);
    // Then catch up over REST (NOTES "Reconnection").
    auto missed = rest.call(net::Method::get, "/channels/" + staff.id + "/posts?since=0");
    CHECK(json::parse(missed.body)["order"].size() == 3);
  }
}

TEST_CASE("fake mattermost: without reliable websockets nothing is replayed", "[mattermost][fake][ws]") {
  FakeMattermost mm;
  auto alice = mm.add_user("alice");
  auto staff = mm.add_channel("accueil");
  Rest rest(mm);
  auto ws = std::make_unique<WsClient>(rest.io);
  REQUIRE(ws->connect(mm.port(), "/api/v4/websocket", mm.options().bot_token) == 101);
  ws->next_event();
  mm.drop_websockets();
  CHECK_FALSE(ws->next().has_value());
  REQUIRE(test::wait_until([&] { return mm.websocket_count() == 0; }, 2s));
  mm.user_posts(alice.id, staff.id, "perdu");
  ws = std::make_unique<WsClient>(rest.io);
  REQUIRE(ws->connect(mm.port(), query_for("whatever", 1), mm.options().bot_token) == 101);
  auto hello = ws->next_event();
  CHECK(hello["event"] == "hello");
  CHECK(hello["data"]["connection_id"] == "");
  mm.user_posts(alice.id, staff.id, "nouveau");
  auto next = ws->next_event();
  CHECK(next["seq"] == 1);
  CHECK(json::parse(next["data"]["post"].get<std::string>())["message"] == "nouveau");
}

TEST_CASE("fake mattermost: a button click calls the integration and updates the post", "[mattermost][fake]") {
  std::atomic<int> mode{0};
  test::FakeHttpServer integration([&](const test::FakeRequest& r) {
    test::FakeResponse res;
    if (r.path != "/mm/action") return test::FakeResponse{404, "text/plain", {}, "no", false, false, false};
    if (mode == 0)
      res.body = json{{"update", {{"message", "Pris en charge par @alice"},
                                  {"props", {{"attachments", json::array({{{"text", "Cas 123"}}})}}}}},
                      {"ephemeral_text", "Vous avez pris le cas 123"}}
                     .dump();
    else if (mode == 1)
      res.body = json{{"update", {{"message", "Texte seul"}}}}.dump();
    else
      res.status = 500;
    return res;
  });
  FakeMattermost mm;
  auto alice = mm.add_user("alice");
  auto staff = mm.add_channel("accueil", "O", "teamteamteamteamteamteamte");
  Rest rest(mm);
  auto action = [&](std::string id) {
    return json{{"id", std::move(id)}, {"type", "button"}, {"name", "Prendre"},
                {"integration", {{"url", integration.url() + "/mm/action"},
                                 {"context", {{"action", "claim"}, {"case", "123"}, {"mac", "abc"}}}}}};
  };
  auto props = json{{"attachments", json::array({{{"text", "Cas 123"},
                                                  {"actions", json::array({action("claim"), action("bad-id")})}}})}};
  WsClient ws(rest.io);
  REQUIRE(ws.connect(mm.port(), "/api/v4/websocket", mm.options().bot_token) == 101);
  CHECK(ws.next_event()["event"] == "hello");
  auto post = rest.post(staff.id, "Nouveau cas", props);
  const std::string id = post["id"];
  auto posted = ws.next_event();
  CHECK(posted["event"] == "posted");
  // The listener never sees `integration` either.
  auto seen = json::parse(posted["data"]["post"].get<std::string>());
  CHECK_FALSE(seen["props"]["attachments"][0]["actions"][0].contains("integration"));

  auto click = test::run_awaitable(rest.io, mm.async_click(rest.io.get_executor(), id, "claim", alice.id));
  CHECK(click.status == 200);
  CHECK(click.body["status"] == "OK");
  CHECK(click.ephemeral_text == "Vous avez pris le cas 123");
  auto calls = integration.requests();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].method == "POST");
  CHECK(calls[0].header("Content-Type") == "application/json");
  CHECK(calls[0].header("User-Agent") == "Mattermost-Bot/1.1");
  CHECK(calls[0].header("Authorization").empty());
  auto body = json::parse(calls[0].body);
  CHECK(body["user_id"] == alice.id);
  CHECK(body["user_name"] == "alice");
  CHECK(body["channel_id"] == staff.id);
  CHECK(body["channel_name"] == "accueil");
  CHECK(body["post_id"] == id);
  CHECK(body["type"] == "button");
  CHECK(body["trigger_id"].get<std::string>().size() == 26);
  CHECK(body["context"] == json{{"action", "claim"}, {"case", "123"}, {"mac", "abc"}});
  CHECK_FALSE(body.contains("action_id"));

  // Every member sees the edit; the ephemeral text went to alice only.
  auto edited = ws.next_event();
  CHECK(edited["event"] == "post_edited");
  CHECK(json::parse(edited["data"]["post"].get<std::string>())["message"] == "Pris en charge par @alice");

  auto stored = *mm.post(id);
  CHECK(stored["message"] == "Pris en charge par @alice");
  CHECK_FALSE(stored["props"]["attachments"][0].contains("actions"));  // buttons consumed
  CHECK_FALSE(stored["props"].contains("from_bot"));                   // props replaced

  // `update` without props keeps them.
  mode = 1;
  auto post2 = rest.post(staff.id, "Autre cas", props);
  auto click2 = test::run_awaitable(rest.io, mm.async_click(rest.io.get_executor(), post2["id"], "claim", alice.id));
  CHECK(click2.status == 200);
  auto stored2 = *mm.post(post2["id"]);
  CHECK(stored2["message"] == "Texte seul");
  CHECK(stored2["props"]["attachments"][0]["actions"].size() == 2);

  // An id outside [A-Za-z0-9]+ never reaches the bot; a failing bot gives 400.
  auto bad = test::run_awaitable(rest.io, mm.async_click(rest.io.get_executor(), id, "bad-id", alice.id));
  CHECK(bad.status == 404);
  CHECK(integration.request_count() == 2);
  mode = 2;
  auto failed = test::run_awaitable(rest.io, mm.async_click(rest.io.get_executor(), post2["id"], "claim", alice.id));
  CHECK(failed.status == 400);
  CHECK(failed.body["id"] == "api.post.do_action.action_integration.app_error");
}

TEST_CASE("fake mattermost: slash command form post and responses", "[mattermost][fake]") {
  test::FakeHttpServer integration([](const test::FakeRequest& r) {
    auto fields = net::form_decode(r.body);
    const std::string text = *net::form_find(fields, "text");
    test::FakeResponse res;
    if (text == "cas 123")
      res.body = json{{"response_type", "in_channel"}, {"text", "Cas 123 : ouvert"}}.dump();
    else if (text == "aide")
      res.body = json{{"text", "Commandes : cas, aide"}}.dump();
    else if (text == "silence")
      res.body = "{}";
    else
      res.body = "";  // empty JSON: the command fails
    return res;
  });
  FakeMattermost mm;
  auto alice = mm.add_user("alice");
  auto staff = mm.add_channel("accueil");
  Rest rest(mm);

  FakeMattermost::SlashCommand cmd;
  cmd.url = integration.url() + "/mm/command";
  cmd.token = "cmdtokencmdtokencmdtokencm";
  cmd.text = "cas 123";
  cmd.user_id = alice.id;
  cmd.channel_id = staff.id;
  auto r = test::run_awaitable(rest.io, mm.async_slash_command(rest.io.get_executor(), cmd));
  CHECK_FALSE(r.failed);
  auto calls = integration.requests();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].method == "POST");
  CHECK(calls[0].header("Content-Type") == "application/x-www-form-urlencoded");
  CHECK(calls[0].header("Authorization") == "Token " + cmd.token);
  CHECK(calls[0].header("Accept") == "application/json");
  auto fields = net::form_decode(calls[0].body);
  auto field = [&](const char* n) {
    auto* v = net::form_find(fields, n);
    return v ? *v : std::string("<absent>");
  };
  CHECK(field("channel_id") == staff.id);
  CHECK(field("channel_name") == "accueil");
  CHECK(field("command") == "/relance");
  CHECK(field("response_url") == r.response_url);
  CHECK(field("team_domain") == "formation");
  CHECK(field("team_id") == cmd.team_id);
  CHECK(field("text") == "cas 123");
  CHECK(field("token") == cmd.token);
  CHECK(field("trigger_id") == r.trigger_id);
  CHECK(field("user_id") == alice.id);
  CHECK(field("user_name") == "alice");
  REQUIRE(r.posted.has_value());
  CHECK((*r.posted)["user_id"] == alice.id);  // under the invoking user
  CHECK((*r.posted)["props"]["from_webhook"] == "true");
  CHECK((*r.posted)["message"] == "Cas 123 : ouvert");

  cmd.text = "aide";
  auto help = test::run_awaitable(rest.io, mm.async_slash_command(rest.io.get_executor(), cmd));
  CHECK(help.ephemeral_text == "Commandes : cas, aide");
  CHECK_FALSE(help.posted.has_value());
  cmd.text = "silence";
  auto quiet = test::run_awaitable(rest.io, mm.async_slash_command(rest.io.get_executor(), cmd));
  CHECK_FALSE(quiet.failed);
  CHECK_FALSE(quiet.ephemeral_text.has_value());
  cmd.text = "vide";
  CHECK(test::run_awaitable(rest.io, mm.async_slash_command(rest.io.get_executor(), cmd)).failed);
  CHECK(mm.posts().size() == 1);

  // response_url: JSON POSTs later, no token.
  auto later = test::run_awaitable(
      rest.io, rest.client.async_request(net::Method::post, r.response_url, {{"Content-Type", "application/json"}},
                                         json{{"response_type", "in_channel"}, {"text", "Fait"}}.dump(), 5s));
  CHECK(later.status == 200);
  REQUIRE(mm.posts().size() == 2);
  CHECK(mm.posts().back()["message"] == "Fait");
}

TEST_CASE("fake mattermost: over TLS", "[mattermost][fake]") {
  test::TempDir dir;
  FakeMattermost::Options o;
  o.tls = test::make_test_certificate("DNS:localhost,IP:127.0.0.1");
  test::write_file(dir / "ca.pem", o.tls->cert_pem);
  FakeMattermost mm(o);
  CHECK(mm.api_url().rfind("https://", 0) == 0);
  CHECK(mm.websocket_url().rfind("wss://", 0) == 0);
  asio::io_context io;
  net::ClientOptions copts;
  copts.ca_files = {dir / "ca.pem"};
  net::HttpClient client(io.get_executor(), copts);
  auto me = test::run_awaitable(io, client.async_request(net::Method::get, mm.api_url() + "/users/me",
                                                         {{"Authorization", "Bearer " + o.bot_token}}, {}, 5s));
  CHECK(me.status == 200);

  // The event stream over wss://, certificate checked.
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.add_certificate_authority(asio::buffer(o.tls->cert_pem));
  ctx.set_verify_mode(asio::ssl::verify_peer);
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(io, ctx);
  const std::string host = "127.0.0.1:" + std::to_string(mm.port());
  const std::string target = "/api/v4/websocket";
  const std::string auth = "Bearer " + o.bot_token;
  auto run = [&]() -> asio::awaitable<std::string> {
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), mm.port());
    co_await beast::get_lowest_layer(ws).async_connect(ep, asio::use_awaitable);
    co_await ws.next_layer().async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::decorator(
        [auth](websocket::request_type& req) { req.set(beast::http::field::authorization, auth); }));
    co_await ws.async_handshake(host, target, asio::use_awaitable);
    beast::flat_buffer buf;
    co_await ws.async_read(buf, asio::use_awaitable);
    co_return beast::buffers_to_string(buf.data());
  };
  auto hello = json::parse(test::run_awaitable(io, run(), 5s));
  CHECK(hello["event"] == "hello");
  CHECK(hello["seq"] == 0);
}
