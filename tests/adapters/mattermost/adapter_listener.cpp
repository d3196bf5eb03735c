// MattermostListener on its own io thread against the fake: commands by DM
// and by mention, reaction claims, its own posts ignored, reconnection with a
// REST resync, pings. Waits on conditions, never on fixed sleeps.
#include "messages/render/staff.hpp"
#include "adapters/mattermost/mattermost_listener.hpp"
#include "adapter_support.hpp"
#include "test_support.hpp"
#include "tests/support/fake_http_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <future>
#include <set>
#include <thread>

using namespace relance;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct ListenerRig {
  // `production_delays`: the listener's default reconnect delays (else short ones).
  explicit ListenerRig(test::FakeMattermost::Options o = {}, std::chrono::milliseconds ping = 5s,
                       bool production_delays = false)
      : mm(o),
        alice(mm.add_user("alice")),
        staff(mm.add_channel("accueil")),
        other(mm.add_channel("autre")),
        dm(mm.direct_channel(alice.id, mm.bot().id)),
        config(test::config_for(mm, staff.id)),
        http(io.get_executor()),
        pacer(io.get_executor()) {
    mattermost::ListenerOptions lo;
    if (!production_delays) {
      lo.quick_retry = 200ms;
      lo.backoff_initial = 200ms;
      lo.backoff_cap = 1s;
    }
    lo.request_timeout = 5s;
    lo.connect_timeout = 5s;
    lo.ping_interval = ping;
    listener = std::make_unique<mattermost::MattermostListener>(io.get_executor(), http, pacer, config, desk.hooks(), lo);
  }
  ~ListenerRig() { stop(); }

  void start() {
    boost::asio::co_spawn(io, listener->run(), [this](std::exception_ptr e) {
      if (e) failed = true;
      ended = true;
    });
    thread = std::thread([this] { io.run(); });
    REQUIRE(test::wait_until([&] { return sessions() >= 1; }, 10s));
  }
  void stop() {
    if (!thread.joinable()) return;
    boost::asio::post(io, [this] { listener->stop(); });
    test::wait_until([&] { return ended.load(); }, 10s);
    work.reset();
    io.stop();
    thread.join();
    CHECK_FALSE(failed.load());
  }
  // Read the listener's state on its own thread.
  template <class F>
  auto on_io(F f) {
    std::promise<decltype(f())> p;
    auto fut = p.get_future();
    boost::asio::post(io, [&] { p.set_value(f()); });
    return fut.get();
  }
  std::size_t sessions() { return on_io([&] { return listener->stats().sessions; }); }
  mattermost::MattermostListener::Stats stats() { return on_io([&] { return listener->stats(); }); }

  // The bot's replies (posts by the bot), in order.
  std::vector<json> bot_posts() const {
    std::vector<json> out;
    for (auto& p : mm.posts())
      if (p["user_id"] == mm.bot().id) out.push_back(p);
    return out;
  }
  json bot_post_rest(const std::string& channel_id, const std::string& message) {
    boost::asio::io_context own;
    net::HttpClient client(own.get_executor());
    json body{{"channel_id", channel_id}, {"message", message}};
    auto r = test::run_awaitable(
        own, client.async_request(net::Method::post, mm.api_url() + "/posts",
                                  {{"Authorization", "Bearer " + config.bot_token}, {"Content-Type", "application/json"}},
                                  body.dump(), 5s));
    REQUIRE(r.status == 201);
    return json::parse(r.body);
  }

  test::FakeMattermost mm;
  test::FakeMattermost::User alice;
  test::FakeMattermost::Channel staff, other, dm;
  test::StaffDesk desk;
  mattermost::MattermostConfig config;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  net::HttpClient http;
  net::Pacer pacer;
  std::unique_ptr<mattermost::MattermostListener> listener;
  std::thread thread;
  std::atomic<bool> ended{false}, failed{false};
};

}  // namespace

TEST_CASE("mattermost listener: a DM is a command, answered in its thread", "[mattermost][adapter][ws]") {
  ListenerRig rig;
  rig.start();
  auto asked = rig.mm.user_posts(rig.alice.id, rig.dm.id, "prendre 42");
  REQUIRE(test::wait_until([&] { return rig.bot_posts().size() == 1; }, 10s));
  auto reply = rig.bot_posts()[0];
  CHECK(reply["channel_id"] == rig.dm.id);
  CHECK(reply["root_id"] == asked["id"]);
  CHECK(reply["message"] == render::escape_markdown("Dossier #42 pris en charge par alice."));
  REQUIRE(rig.desk.call_count() == 1);
  CHECK(rig.desk.calls()[0].user == "alice");
  CHECK(rig.desk.calls()[0].line == "prendre 42");
  CHECK(rig.desk.calls()[0].typed);
  CHECK(rig.on_io([&] { return rig.listener->bot_username(); }) == "relance-bot");
}

TEST_CASE("mattermost listener: @bot in a watched channel, other talk ignored", "[mattermost][adapter][ws]") {
  ListenerRig rig;
  rig.start();
  rig.mm.user_posts(rig.alice.id, rig.staff.id, "bonjour à tous");                  // not for the bot
  rig.mm.user_posts(rig.alice.id, rig.other.id, "@relance-bot liste");              // not a watched channel
  rig.mm.user_posts(rig.alice.id, rig.staff.id, "@relance-bot2 liste");             // somebody else
  auto root = rig.mm.user_posts(rig.alice.id, rig.staff.id, "Dossier de Jean ?");
  auto asked = rig.mm.user_posts(rig.alice.id, rig.staff.id, "@relance-bot liste tous", root["id"]);
  REQUIRE(test::wait_until([&] { return rig.bot_posts().size() == 1; }, 10s));
  auto reply = rig.bot_posts()[0];
  CHECK(reply["channel_id"] == rig.staff.id);
  CHECK(reply["root_id"] == root["id"]);  // a reply in a thread goes to the thread's root
  CHECK(reply["message"] == render::escape_markdown("Fait : liste tous"));
  REQUIRE(rig.desk.call_count() == 1);
  CHECK(rig.desk.calls()[0].line == "liste tous");
}

TEST_CASE("mattermost listener: a raised hand on an alert claims the case", "[mattermost][adapter][ws]") {
  ListenerRig rig;
  auto alert = rig.bot_post_rest(rig.staff.id, "🔔 Dossier #42");
  rig.desk.add_alert(alert["id"], 42);
  auto unrelated = rig.bot_post_rest(rig.staff.id, "Bonjour");
  rig.start();
  rig.mm.user_reacts(rig.alice.id, unrelated["id"], "raised_hand");  // not an alert
  rig.mm.user_reacts(rig.alice.id, alert["id"], "thumbsup");         // not a claim
  rig.mm.user_reacts(rig.alice.id, alert["id"], "raised_hand");
  REQUIRE(test::wait_until([&] { return rig.bot_posts().size() == 3; }, 10s));
  auto reply = rig.bot_posts().back();
  CHECK(reply["root_id"] == alert["id"]);
  // The answer as the app wrote it (the app's claim texts name the clicker: {asker}).
  CHECK(reply["message"] == render::escape_markdown("Dossier #42 pris en charge par alice."));
  REQUIRE(rig.desk.call_count() == 1);
  CHECK(rig.desk.calls()[0].line == "prendre 42");
  CHECK_FALSE(rig.desk.calls()[0].typed);  // a reaction is a command, never text parsed again
  // A second claim emoji by the same person is not a second command.
  rig.mm.user_reacts(rig.alice.id, alert["id"], "white_check_mark");
  rig.mm.user_posts(rig.alice.id, rig.dm.id, "aide");  // a marker: handled after the reaction
  REQUIRE(test::wait_until([&] { return rig.desk.call_count() == 2; }, 10s));
  CHECK(rig.desk.calls()[1].line == "aide");
}

TEST_CASE("mattermost listener: its own posts and reactions are ignored", "[mattermost][adapter][ws]") {
  ListenerRig rig;
  auto alert = rig.bot_post_rest(rig.staff.id, "🔔 Dossier #5");
  rig.desk.add_alert(alert["id"], 5);
  rig.start();
  rig.bot_post_rest(rig.dm.id, "prendre 5");
  rig.bot_post_rest(rig.staff.id, "@relance-bot prendre 5");
  {
    boost::asio::io_context own;
    net::HttpClient client(own.get_executor());
    json body{{"user_id", rig.mm.bot().id}, {"post_id", alert["id"]}, {"emoji_name", "raised_hand"}};
    auto r = test::run_awaitable(
        own, client.async_request(net::Method::post, rig.mm.api_url() + "/reactions",
                                  {{"Authorization", "Bearer " + rig.config.bot_token},
                                   {"Content-Type", "application/json"}},
                                  body.dump(), 5s));
    REQUIRE(r.status == 201);
  }
  rig.mm.user_posts(rig.alice.id, rig.dm.id, "aide");  // a marker after them
  REQUIRE(test::wait_until([&] { return rig.desk.call_count() >= 1; }, 10s));
  REQUIRE(test::wait_until([&] { return rig.bot_posts().size() == 4; }, 10s));
  CHECK(rig.desk.call_count() == 1);
  CHECK(rig.desk.calls()[0].line == "aide");
}

TEST_CASE("mattermost listener: a dropped websocket reconnects and resyncs over REST", "[mattermost][adapter][ws]") {
  ListenerRig rig;
  rig.start();
  rig.mm.user_posts(rig.alice.id, rig.staff.id, "@relance-bot prendre 1");
  // DMs are resynced once known (listing a bot's DM channels needs a team
  // walk the fake does not model; see the listener's header).
  rig.mm.user_posts(rig.alice.id, rig.dm.id, "aide");
  REQUIRE(test::wait_until([&] { return rig.bot_posts().size() == 2; }, 10s));

  rig.mm.drop_websockets();
  REQUIRE(test::wait_until([&] { return rig.mm.websocket_count() == 0; }, 5s));
  // Said while the bot was away: the server does not replay it (NOTES
  // "Observed / Reconnection"); the REST catch-up finds it.
  rig.mm.user_posts(rig.alice.id, rig.staff.id, "@relance-bot prendre 2");
  rig.mm.user_posts(rig.alice.id, rig.dm.id, "prendre 3");
  REQUIRE(test::wait_until([&] { return rig.sessions() >= 2; }, 10s));
  REQUIRE(test::wait_until([&] { return rig.bot_posts().size() == 4; }, 10s));
  CHECK(test::wait_until([&] { return rig.stats().resyncs >= 1; }, 10s));
  // "prendre 1" and "aide" are in the resync's window too: deduped, not run twice.
  auto calls = rig.desk.calls();
  REQUIRE(calls.size() == 4);
  std::multiset<std::string> lines;
  for (const auto& c : calls) lines.insert(c.line);
  CHECK(lines == std::multiset<std::string>{"prendre 1", "aide", "prendre 2", "prendre 3"});
  // And the live stream works again.
  rig.mm.user_posts(rig.alice.id, rig.dm.id, "prendre 4");
  REQUIRE(test::wait_until([&] { return rig.bot_posts().size() == 5; }, 10s));
  CHECK(rig.desk.call_count() == 5);
}

TEST_CASE("mattermost listener: resumes a reliable websocket without a resync", "[mattermost][adapter][ws]") {
  test::FakeMattermost::Options o;
  o.reliable_websockets = true;
  ListenerRig rig(o);
  rig.start();
  rig.mm.user_posts(rig.alice.id, rig.dm.id, "prendre 1");
  REQUIRE(test::wait_until([&] { return rig.bot_posts().size() == 1; }, 10s));
  rig.mm.drop_websockets();
  REQUIRE(test::wait_until([&] { return rig.mm.websocket_count() == 0; }, 5s));
  rig.mm.user_posts(rig.alice.id, rig.dm.id, "prendre 2");  // replayed on resume
  REQUIRE(test::wait_until([&] { return rig.bot_posts().size() == 2; }, 10s));
  auto s = rig.stats();
  CHECK(s.resumed >= 1);
  CHECK(s.resyncs == 0);
  CHECK(rig.desk.call_count() == 2);
  auto upgrades = rig.mm.requests();
  CHECK(std::any_of(upgrades.begin(), upgrades.end(), [](const test::FakeRequest& r) {
    return r.path == "/api/v4/websocket" && r.query.find("connection_id=") != std::string::npos &&
           r.query.find("sequence_number=") != std::string::npos;
  }));
}

TEST_CASE("mattermost listener: pings the server", "[mattermost][adapter][ws]") {
  ListenerRig rig({}, 100ms);
  rig.start();
  REQUIRE(test::wait_until([&] {
    auto s = rig.stats();
    return s.pings >= 2 && s.pongs >= 2;
  }, 10s));
  CHECK(rig.mm.websocket_count() == 1);
}

TEST_CASE("mattermost listener: stops cleanly while waiting to reconnect", "[mattermost][adapter][ws]") {
  ListenerRig rig;
  rig.start();
  rig.mm.close_websockets();
  REQUIRE(test::wait_until([&] { return rig.mm.websocket_count() == 0; }, 5s));
  rig.stop();
  CHECK(rig.ended.load());
}

TEST_CASE("mattermost listener: hears again within 2 s of a server back from a 12 s restart",
          "[mattermost][adapter][ws]") {
  // The listener's own delays, as in production: before, they doubled up to
  // 60 s and relance stayed deaf 7-16 s after such a restart.
  ListenerRig rig({}, 5s, true);
  rig.start();
  rig.mm.set_down(true);
  REQUIRE(test::wait_until([&] { return rig.mm.websocket_count() == 0; }, 5s));
  const auto sessions = rig.sessions();
  // The restart's length is the test's input, not a wait for something.
  test::wait_until([] { return false; }, 12s);
  rig.mm.set_down(false);
  const auto back = std::chrono::steady_clock::now();
  REQUIRE(test::wait_until([&] { return rig.sessions() > sessions; }, 30s));
  const auto deaf = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - back);
  INFO("heard again " << deaf.count() << " ms after the server was back");
  CHECK(deaf <= 2s);
  // And a command typed then is answered.
  rig.mm.user_posts(rig.alice.id, rig.dm.id, "prendre 9");
  CHECK(test::wait_until([&] { return rig.desk.call_count() == 1; }, 5s));
}

TEST_CASE("mattermost listener: reconnect delays are short in a restart, back off in a long outage",
          "[mattermost][adapter]") {
  const mattermost::ListenerOptions o;
  for (double unit : {0.0, 0.5, 0.999}) {
    INFO("jitter " << unit);
    // Within the first minute: about a second, never less than half of it.
    for (auto outage : {0s, 5s, 12s, 59s}) {
      const auto d = mattermost::reconnect_delay(o, outage, 0, unit);
      CHECK(d >= 500ms);
      CHECK(d <= 1s);
    }
    // Past it: growing, up to the cap.
    CHECK(mattermost::reconnect_delay(o, 2min, 5, unit) > mattermost::reconnect_delay(o, 2min, 1, unit));
    CHECK(mattermost::reconnect_delay(o, 1h, 20, unit) <= o.backoff_cap);
  }
}
