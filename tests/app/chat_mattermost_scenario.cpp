// Staff chat on Mattermost, end to end as the staff would check it: the real
// service (scheduler, outbox dispatcher, listener, HTTP hooks) against the
// fake Mattermost server; staff click buttons and write to the bot.
#include "chat_harness.hpp"

#include "messages/render/staff.hpp"
#include "adapters/common/http_client.hpp"
#include "tests/support/fake_mattermost.hpp"

#include <boost/asio/co_spawn.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>
#include <set>

using namespace relance;
using namespace relance::test::chat_scn;
using nlohmann::json;
using test::FakeMattermost;
using test::wait_until;

namespace {

constexpr const char* action_secret = "mac-key-for-buttons";
constexpr const char* command_token = "slash-command-token";

struct MmRig {
  explicit MmRig(FakeMattermost::Options o = {}, int learners = 0)
      : mm(std::move(o)),
        alice(mm.add_user("alice")),
        bob(mm.add_user("bob")),
        mallory(mm.add_user("mallory")),
        channel(mm.add_channel("accueil", "O", "teamteamteamteamteamteamte")),
        port(free_port()),
        f(config_text()) {
    if (learners > 0) add_inactive(*f.engine, learners, clock());
  }

  std::string config_text() const {
    return base_toml(port) + "\n[mattermost]\nurl = \"" + mm.url() + "\"\nbot_token = \"" + mm.options().bot_token +
           "\"\ncommand_token = \"" + command_token + "\"\naction_secret = \"" + action_secret +
           "\"\npublic_url = \"http://127.0.0.1:" + std::to_string(port) + "\"\ndefault_channel = \"" + channel.id +
           "\"\n";
  }

  // The bot's posts carrying an outbox id, in creation order.
  std::vector<json> bot_posts() const {
    std::vector<json> out;
    for (auto& p : mm.posts())
      if (p.value("user_id", "") == mm.bot().id && p["props"].is_object() && p["props"].contains("relance_outbox"))
        out.push_back(p);
    return out;
  }
  // The bot's thread roots in the channel (a closed alert's props are
  // replaced by the "Dossier clos" attachment, so not by its outbox prop).
  std::vector<json> alerts() const {
    std::vector<json> out;
    for (auto& p : mm.posts())
      if (p.value("user_id", "") == mm.bot().id && p.value("root_id", "").empty() && p["channel_id"] == channel.id)
        out.push_back(p);
    return out;
  }
  std::optional<json> alert_of(int case_no) const {
    const std::string needle = render::escape_markdown("Dossier #" + std::to_string(case_no) + " ");
    for (auto& p : alerts())
      if (p["message"].get<std::string>().find(needle) != std::string::npos) return p;
    return std::nullopt;
  }
  // Every post under `root` (any author), in order.
  std::vector<json> thread(const std::string& root) const {
    std::vector<json> out;
    for (auto& p : mm.posts())
      if (p.value("root_id", "") == root) out.push_back(p);
    return out;
  }
  bool thread_has(const std::string& root, const std::string& text, bool from_bot = true) const {
    for (auto& p : thread(root))
      if ((!from_bot || p.value("user_id", "") == mm.bot().id) &&
          p["message"].get<std::string>().find(text) != std::string::npos)
        return true;
    return false;
  }

  FakeMattermost::ClickResult click(const std::string& post, const std::string& action, const std::string& user) {
    return test::run_awaitable(io, mm.async_click(io.get_executor(), post, action, user), 15s);
  }

  DbView db() { return DbView(f.config.database); }

  FakeMattermost mm;
  FakeMattermost::User alice, bob, mallory;
  FakeMattermost::Channel channel;
  std::uint16_t port;
  test::Fixture f;
  MovingClock clock;
  boost::asio::io_context io;  // the test's side: clicks, direct calls
};

std::string case_col(DbView& db, int id, const char* col) {
  return db.text("SELECT " + std::string(col) + " FROM learner_case WHERE id = " + std::to_string(id));
}

}  // namespace

TEST_CASE("mattermost: alert, claim by button, relaunch logged by message, resumed by button", "[chat][mattermost][scenario]") {
  MmRig rig({}, 2);
  Service svc(*rig.f.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.alerts().size() == 2; }, 20s));

  // ----- the alert: once, in the channel, with buttons and the role's members -----
  auto alert = *rig.alert_of(1);
  const std::string alert_id = alert["id"];
  CHECK(alert["channel_id"] == rig.channel.id);
  const std::string msg = alert["message"];
  CHECK_THAT(msg, Catch::Contains("@alice") && Catch::Contains("@bob") && Catch::Contains("Apprenant L1"));
  REQUIRE(alert["props"]["attachments"].size() == 1);
  std::set<std::string> action_ids;
  for (auto& a : alert["props"]["attachments"][0]["actions"]) action_ids.insert(a["id"].get<std::string>());
  CHECK(action_ids == std::set<std::string>{"claim", "relaunch", "resumed", "dropout"});
  {
    auto db = rig.db();
    CHECK(wait_until([&] {
      return db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.mattermost' AND status = 'sent'") == 2;
    }, 15s));
    CHECK(db.text("SELECT remote_id FROM outbox WHERE channel = 'staff.mattermost' AND case_id = 1") == alert_id);
    CHECK(db.text("SELECT root_remote_id FROM chat_thread WHERE case_id = 1") == alert_id);
  }

  // ----- a stranger's click is refused and changes nothing -----
  auto stranger = rig.click(alert_id, "claim", rig.mallory.id);
  CHECK(stranger.status == 200);
  REQUIRE(stranger.ephemeral_text);
  CHECK_THAT(*stranger.ephemeral_text, Catch::Contains("refus"));
  {
    auto db = rig.db();
    CHECK(case_col(db, 1, "assignee").empty());
    CHECK(case_col(db, 1, "state") == "open");
  }

  // ----- a forged context (bad MAC) is refused -----
  {
    net::HttpClient http(rig.io.get_executor());
    json ctx = {{"action", "claim"}, {"case", "2"}, {"mac", std::string(64, 'a')}};
    json body = {{"user_id", rig.alice.id}, {"user_name", "alice"}, {"channel_id", rig.channel.id},
                 {"post_id", rig.alert_of(2)->at("id")}, {"type", "button"}, {"context", ctx}};
    auto r = test::run_awaitable(
        rig.io, http.async_request(net::Method::post, "http://127.0.0.1:" + std::to_string(svc.port()) + "/hooks/mattermost/action",
                                   {{"Content-Type", "application/json"}}, body.dump(), 10s));
    CHECK(r.status == 200);
    CHECK_THAT(r.body, Catch::Contains("signature"));
    auto db = rig.db();
    CHECK(case_col(db, 2, "assignee").empty());
  }

  // ----- "Je prends" -----
  auto claim = rig.click(alert_id, "claim", rig.alice.id);
  CHECK(claim.status == 200);
  REQUIRE(claim.ephemeral_text);
  CHECK_THAT(*claim.ephemeral_text, Catch::Contains("il est à vous"));
  {
    auto db = rig.db();
    CHECK(case_col(db, 1, "assignee") == "alice");
    CHECK(case_col(db, 1, "state") == "claimed");
  }
  CHECK_THAT(rig.mm.post(alert_id)->at("message").get<std::string>(), Catch::Contains("Alice Martin"));
  CHECK(wait_until([&] { return rig.thread_has(alert_id, "pris en charge par Alice Martin"); }, 15s));

  // ----- the relaunch, told to the bot -----
  auto said = rig.mm.user_posts(rig.alice.id, rig.channel.id, "@relance-bot relance 1 tel joint \"rappel lundi\"");
  const std::string said_id = said["id"];
  CHECK(wait_until([&] { return rig.thread_has(said_id, render::escape_markdown("Relance notée sur le dossier #1")); }, 15s));
  CHECK(wait_until([&] { return rig.thread_has(alert_id, "relance notée par Alice Martin"); }, 15s));
  {
    auto db = rig.db();
    CHECK(db.count("SELECT COUNT(*) FROM relaunch WHERE case_id = 1 AND actor = 'alice'") == 1);
    CHECK(db.text("SELECT comment FROM relaunch WHERE case_id = 1") == "rappel lundi");
  }

  // ----- "Repris" -----
  auto resumed = rig.click(alert_id, "resumed", rig.alice.id);
  CHECK(resumed.status == 200);
  {
    auto db = rig.db();
    CHECK(case_col(db, 1, "state") == "resumed");
  }
  CHECK(wait_until([&] { return rig.thread_has(alert_id, "a repris"); }, 15s));
  // The case is over: the alert shows it and its buttons are gone.
  {
    auto closed = *rig.mm.post(alert_id);
    CHECK_THAT(closed["message"].get<std::string>(), Catch::Contains("Dossier clos"));
    REQUIRE(closed["props"]["attachments"].size() == 1);
    CHECK_FALSE(closed["props"]["attachments"][0].contains("actions"));
  }
  // Every notice of case 1 went under its alert; still one alert per case.
  CHECK(rig.alerts().size() == 2);
  for (auto& p : rig.bot_posts())
    if (p["message"].get<std::string>().find(render::escape_markdown("Dossier #1 ")) != std::string::npos && p["id"] != alert_id)
      CHECK(p["root_id"] == alert_id);
}

TEST_CASE("mattermost: the slash command logs a relaunch and the notice lands in the alert's thread", "[chat][mattermost][scenario]") {
  MmRig rig({}, 2);
  Service svc(*rig.f.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.alerts().size() == 2; }, 20s));
  const std::string alert_id = rig.alert_of(1)->at("id");
  FakeMattermost::SlashCommand cmd;
  cmd.url = "http://127.0.0.1:" + std::to_string(svc.port()) + "/hooks/mattermost/command";
  cmd.token = command_token;
  cmd.text = "relance 1 sms sans_reponse";
  cmd.user_id = rig.bob.id;
  cmd.channel_id = rig.channel.id;
  auto r = test::run_awaitable(rig.io, rig.mm.async_slash_command(rig.io.get_executor(), cmd), 15s);
  CHECK_FALSE(r.failed);
  REQUIRE(r.ephemeral_text);
  CHECK_THAT(*r.ephemeral_text, Catch::Contains("Relance notée"));
  CHECK(wait_until([&] { return rig.thread_has(alert_id, "relance notée par Bob Durand"); }, 15s));

  // A claim typed to the bot (not clicked) also shows the holder on the alert.
  // (Case 1 is Bob's since he logged a relaunch on it; case 2 is free.)
  const std::string second = rig.alert_of(2)->at("id");
  rig.mm.user_posts(rig.alice.id, rig.channel.id, "@relance-bot prendre 2");
  CHECK(wait_until([&] { return rig.thread_has(second, "pris en charge par Alice Martin"); }, 15s));
  CHECK(wait_until([&] {
    return rig.mm.post(second)->at("message").get<std::string>().find("Alice Martin") != std::string::npos;
  }, 15s));
  CHECK(rig.mm.post(second)->at("props")["attachments"][0]["actions"].size() == 4);  // still open: buttons kept
  auto db = rig.db();
  CHECK(case_col(db, 1, "assignee") == "bob");
  CHECK(case_col(db, 2, "assignee") == "alice");
}

TEST_CASE("mattermost: two staff click Je prends at the same moment: one wins", "[chat][mattermost][scenario]") {
  constexpr int rounds = 4;
  MmRig rig({}, rounds);
  Service svc(*rig.f.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.alerts().size() == rounds; }, 20s));
  for (int c = 1; c <= rounds; ++c) {
    const std::string post = rig.alert_of(c)->at("id");
    std::optional<FakeMattermost::ClickResult> a, b;
    boost::asio::co_spawn(rig.io, rig.mm.async_click(rig.io.get_executor(), post, "claim", rig.alice.id),
                          [&](std::exception_ptr, FakeMattermost::ClickResult r) { a = std::move(r); });
    boost::asio::co_spawn(rig.io, rig.mm.async_click(rig.io.get_executor(), post, "claim", rig.bob.id),
                          [&](std::exception_ptr, FakeMattermost::ClickResult r) { b = std::move(r); });
    REQUIRE(test::run_io_until(rig.io, [&] { return a && b; }, 15s));
    rig.io.restart();
    REQUIRE(a->ephemeral_text);
    REQUIRE(b->ephemeral_text);
    const bool alice_won = a->ephemeral_text->find("il est à vous") != std::string::npos;
    const bool bob_won = b->ephemeral_text->find("il est à vous") != std::string::npos;
    INFO("case " << c << ": alice: " << *a->ephemeral_text << " / bob: " << *b->ephemeral_text);
    CHECK(alice_won != bob_won);
    const auto& loser = alice_won ? *b->ephemeral_text : *a->ephemeral_text;
    CHECK_THAT(loser, Catch::Contains(alice_won ? "Alice Martin" : "Bob Durand"));
    auto db = rig.db();
    CHECK(case_col(db, c, "assignee") == (alice_won ? "alice" : "bob"));
    CHECK(db.count("SELECT COUNT(*) FROM journal WHERE action = 'case.claimed' AND case_id = " + std::to_string(c)) == 1);
  }
}

namespace {

// Every alert exactly once, and in outbox order within the channel.
void check_once_in_order(MmRig& rig, int expected) {
  auto posts = rig.bot_posts();
  std::vector<std::int64_t> ids;
  std::set<std::int64_t> seen;
  for (auto& p : posts) {
    const auto id = std::stoll(p["props"]["relance_outbox"].get<std::string>());
    INFO("outbox " << id);
    CHECK(seen.insert(id).second);
    ids.push_back(id);
  }
  CHECK(int(ids.size()) == expected);
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  auto db = rig.db();
  CHECK(db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.mattermost' AND status = 'sent'") == expected);
  // Each row records the post that carries its id.
  for (auto& p : posts)
    CHECK(db.text("SELECT remote_id FROM outbox WHERE id = " + p["props"]["relance_outbox"].get<std::string>()) ==
          p["id"].get<std::string>());
}

}  // namespace

TEST_CASE("mattermost: killed in the middle and restarted, every alert once and in order", "[chat][mattermost][scenario]") {
  constexpr int cases = 40;
  MmRig rig({}, cases);
  {
    Service svc(*rig.f.engine, rig.clock);
    REQUIRE(wait_until([&] { return rig.bot_posts().size() >= 12; }, 20s));
    svc.stop();
  }
  const auto before = rig.bot_posts().size();
  REQUIRE(before < std::size_t(cases));

  // The crash window, made on purpose: the next row was being sent (its
  // attempt committed) and the server stored the post, but the answer never
  // came back. The post exists with the row's id in its props.
  std::int64_t crashed = 0;
  std::string crashed_post;
  {
    auto db = rig.db();
    // (The kill itself may have left such a row: posted, not recorded. Take
    // the first pending row that is not on the server yet.)
    std::set<std::string> posted;
    for (auto& p : rig.bot_posts()) posted.insert(p["props"]["relance_outbox"].get<std::string>());
    SQLite::Statement q(db.db.sql(), "SELECT id FROM outbox WHERE channel = 'staff.mattermost' AND status = 'pending' ORDER BY id");
    while (q.executeStep())
      if (!posted.count(std::to_string(q.getColumn(0).getInt64()))) {
        crashed = q.getColumn(0).getInt64();
        break;
      }
    REQUIRE(crashed > 0);
    db.db.sql().exec("UPDATE outbox SET started = started + 1 WHERE id = " + std::to_string(crashed));
    store::OutboxRepo outbox(db.db);
    auto row = outbox.get(crashed);
    REQUIRE(row);
    json body = {{"channel_id", rig.channel.id},
                 {"message", "(posted before the crash) " + rig.f.engine->render_outbox(*row)},
                 {"props", {{"relance_outbox", std::to_string(crashed)}}}};
    net::HttpClient http(rig.io.get_executor());
    auto r = test::run_awaitable(
        rig.io, http.async_request(net::Method::post, rig.mm.api_url() + "/posts",
                                   {{"Authorization", "Bearer " + rig.mm.options().bot_token},
                                    {"Content-Type", "application/json"}},
                                   body.dump(), 10s));
    REQUIRE(r.status == 201);
    crashed_post = json::parse(r.body)["id"];
  }

  Restarted again(rig.f);
  Service svc(again.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.bot_posts().size() >= std::size_t(cases); }, 30s));
  auto db = rig.db();
  REQUIRE(wait_until([&] {
    return db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.mattermost' AND status = 'sent'") == cases;
  }, 20s));
  svc.stop();
  INFO("posts before the kill: " << before);
  check_once_in_order(rig, cases);
  CHECK(db.text("SELECT remote_id FROM outbox WHERE id = " + std::to_string(crashed)) == crashed_post);
  CHECK(db.count("SELECT COUNT(*) FROM chat_thread") == cases);
}

TEST_CASE("mattermost: a rate-limited burst of 500 alerts, all delivered in order", "[chat][mattermost][scenario]") {
  constexpr int cases = 500;
  FakeMattermost::Options o;
  o.rate_per_second = 200;  // about 3x the outbox's own pace here (two SQLite commits per post)
  o.rate_burst = 20;
  MmRig rig(o, cases);
  const auto t0 = std::chrono::steady_clock::now();
  Service svc(*rig.f.engine, rig.clock);
  auto db = rig.db();
  REQUIRE(wait_until([&] {
    return db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.mattermost' AND status = 'sent'") == cases;
  }, 45s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  svc.stop();
  int post_requests = 0;
  for (const auto& r : rig.mm.requests())
    if (r.method == "POST" && r.path == "/api/v4/posts") ++post_requests;
  const int refused = post_requests - int(rig.bot_posts().size());
  std::cout << "mattermost burst: " << cases << " alerts in " << took.count() << " ms, " << refused
            << " answered 429\n";
  check_once_in_order(rig, cases);
  CHECK(refused <= 10);
}

TEST_CASE("mattermost: after an outage the queued alerts go out as soon as the server answers, logged once",
          "[chat][mattermost][scenario]") {
  constexpr int cases = 5;
  MmRig rig({}, cases);
  rig.mm.set_down(502);
  LogCapture logs;
  {
    Service svc(*rig.f.engine, rig.clock);
    auto db = rig.db();
    REQUIRE(wait_until([&] {
      return db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.mattermost' AND started > 0") >= 1;
    }, 20s));
    // The outage lasts 6 s (the service keeps trying meanwhile).
    const auto down_until = std::chrono::steady_clock::now() + 6s;
    wait_until([&] { return std::chrono::steady_clock::now() >= down_until; }, 10s);
    rig.mm.set_down(0);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(wait_until([&] {
      return db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff.mattermost' AND status = 'sent'") == cases;
    }, 60s));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "mattermost outage: the " << cases << " alerts went out " << took << " s after the server was back\n";
    CHECK(took < 2.5);
  }
  INFO(logs.dump());
  CHECK(logs.count(spdlog::level::warn, "mattermost: the server does not answer") == 1);
  CHECK(logs.count(spdlog::level::info, "mattermost: the server answers again") == 1);
  // No warning per post or per retry.
  for (const auto& [level, text] : logs.lines())
    if (level >= spdlog::level::warn) {
      INFO(text);
      CHECK(text.find("outbox") == std::string::npos);
      CHECK(text.find("post ") == std::string::npos);
    }
  CHECK(rig.alerts().size() == cases);
}

namespace {

// The service's listener is on the event stream (what staff write from now
// on reaches it live).
bool listening(MmRig& rig) { return wait_until([&] { return rig.mm.websocket_count() == 1; }, 15s); }

// `n` posts by `user` in the channel: a busy channel's chatter.
void chatter(MmRig& rig, const FakeMattermost::User& user, int n) {
  for (int i = 0; i < n; ++i) rig.mm.user_posts(user.id, rig.channel.id, "bavardage " + std::to_string(i));
}

}  // namespace

TEST_CASE("mattermost: after a crash, an alert posted before 1100 other posts is found, not posted twice",
          "[chat][mattermost][scenario]") {
  MmRig rig({}, 1);
  // The alert's row, as a scan leaves it; then the crash window: its attempt
  // committed, the post on the server, the answer lost.
  rig.f.engine->scan(rig.clock());
  std::int64_t row = 0;
  {
    auto db = rig.db();
    row = db.count("SELECT id FROM outbox WHERE channel = 'staff.mattermost' ORDER BY id LIMIT 1");
    REQUIRE(row > 0);
    db.db.sql().exec("UPDATE outbox SET started = started + 1 WHERE id = " + std::to_string(row));
  }
  // A busy channel: more posts in the lookup's window, before ours, than the
  // 1000 a `since` listing returns (the oldest first).
  chatter(rig, rig.bob, 1100);
  std::string crashed_post;
  {
    json body = {{"channel_id", rig.channel.id},
                 {"message", "(posted before the crash)"},
                 {"props", {{"relance_outbox", std::to_string(row)}}}};
    net::HttpClient http(rig.io.get_executor());
    auto r = test::run_awaitable(
        rig.io, http.async_request(net::Method::post, rig.mm.api_url() + "/posts",
                                   {{"Authorization", "Bearer " + rig.mm.options().bot_token},
                                    {"Content-Type", "application/json"}},
                                   body.dump(), 10s));
    REQUIRE(r.status == 201);
    crashed_post = json::parse(r.body)["id"];
  }
  Service svc(*rig.f.engine, rig.clock);
  auto db = rig.db();
  REQUIRE(wait_until([&] {
    return db.count("SELECT COUNT(*) FROM outbox WHERE id = " + std::to_string(row) + " AND status = 'sent'") == 1;
  }, 30s));
  svc.stop();
  CHECK(db.text("SELECT remote_id FROM outbox WHERE id = " + std::to_string(row)) == crashed_post);
  int carrying = 0;
  for (auto& p : rig.mm.posts())
    if (p["props"].is_object() && p["props"].value("relance_outbox", "") == std::to_string(row)) ++carrying;
  CHECK(carrying == 1);
}

TEST_CASE("mattermost: a command typed while relance was down, after 1100 other posts, is answered",
          "[chat][mattermost][scenario]") {
  MmRig rig({}, 1);
  {
    Service svc(*rig.f.engine, rig.clock);
    REQUIRE(wait_until([&] { return rig.alerts().size() == 1; }, 20s));
    REQUIRE(listening(rig));
    // The listener saves its position once it has seen a post newer than its
    // session's start: say something until it has.
    auto db = rig.db();
    bool saved = false;
    for (int i = 0; i < 10 && !saved; ++i) {
      rig.mm.user_posts(rig.bob.id, rig.channel.id, "bonjour " + std::to_string(i));
      saved = wait_until([&] { return db.count("SELECT COUNT(*) FROM kv WHERE key = 'mattermost.last_post_at'") == 1; }, 1s);
    }
    REQUIRE(saved);
    svc.stop();
  }
  chatter(rig, rig.bob, 1100);
  auto said = rig.mm.user_posts(rig.alice.id, rig.channel.id, "@relance-bot prendre 1");
  const std::string said_id = said["id"];

  Restarted again(rig.f);
  Service svc(again.engine, rig.clock);
  auto db = rig.db();
  CHECK(wait_until([&] { return case_col(db, 1, "assignee") == "alice"; }, 30s));
  CHECK(wait_until([&] { return rig.thread_has(said_id, "il est à vous"); }, 15s));
  svc.stop();
}

TEST_CASE("mattermost: dossier asked in the channel is answered in private, the channel only told so",
          "[chat][mattermost][scenario]") {
  MmRig rig({}, 1);
  Service svc(*rig.f.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.alerts().size() == 1; }, 20s));
  REQUIRE(listening(rig));
  auto said = rig.mm.user_posts(rig.alice.id, rig.channel.id, "@relance-bot dossier 1");
  const std::string said_id = said["id"];
  // The thread in the channel says where the answer went, and holds no contact detail.
  REQUIRE(wait_until([&] { return !rig.thread(said_id).empty(); }, 15s));
  const auto dm = rig.mm.direct_channel(rig.mm.bot().id, rig.alice.id);
  REQUIRE(wait_until([&] {
    for (auto& p : rig.mm.posts())
      if (p["channel_id"] == dm.id && p["message"].get<std::string>().find("+33612345678") != std::string::npos)
        return true;
    return false;
  }, 15s));
  for (auto& p : rig.mm.posts()) {
    if (p["channel_id"] != rig.channel.id) continue;
    INFO(p["message"].get<std::string>());
    CHECK(p["message"].get<std::string>().find("+33612345678") == std::string::npos);
    CHECK(p["message"].get<std::string>().find("elodie@example.org") == std::string::npos);
  }
  CHECK(rig.thread_has(said_id, "message privé"));
  CHECK(rig.thread_has(said_id, "@alice"));
  // The answer in private keeps the address as an address.
  bool address_intact = false;
  for (auto& p : rig.mm.posts())
    if (p["channel_id"] == dm.id && p["message"].get<std::string>().find("elodie@example.org") != std::string::npos)
      address_intact = true;
  CHECK(address_intact);
  // A claim, which shows no learner detail, is still answered in the thread.
  auto claim = rig.mm.user_posts(rig.alice.id, rig.channel.id, "@relance-bot prendre 1");
  const std::string claim_id = claim["id"];
  CHECK(wait_until([&] { return rig.thread_has(claim_id, "il est à vous"); }, 15s));
}

TEST_CASE("mattermost: texts show the command form that works there, relance's own words unescaped",
          "[chat][mattermost][scenario]") {
  MmRig rig({}, 1);
  Service svc(*rig.f.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.alerts().size() == 1; }, 20s));
  // The alert's hint is the slash command (a command token is configured),
  // and its raw message has no Markdown escape in relance's own words.
  const std::string alert = rig.alert_of(1)->at("message");
  CHECK_THAT(alert, Catch::Contains("Pour le prendre : /relance prendre 1"));
  CHECK_THAT(alert, Catch::Contains("Dossier #1 — "));
  CHECK(alert.find('\\') == std::string::npos);
  // `aide` by slash command lists the commands in that form.
  FakeMattermost::SlashCommand cmd;
  cmd.url = "http://127.0.0.1:" + std::to_string(svc.port()) + "/hooks/mattermost/command";
  cmd.token = command_token;
  cmd.text = "aide";
  cmd.user_id = rig.bob.id;
  cmd.channel_id = rig.channel.id;
  auto help = test::run_awaitable(rig.io, rig.mm.async_slash_command(rig.io.get_executor(), cmd), 15s);
  REQUIRE(help.ephemeral_text);
  CHECK_THAT(*help.ephemeral_text, Catch::Contains("/relance prendre 42"));
  CHECK_THAT(*help.ephemeral_text, Catch::Contains("/relance dossier 42"));
  REQUIRE(listening(rig));
  // A claim's answer names who it answers, and reads as written.
  auto said = rig.mm.user_posts(rig.alice.id, rig.channel.id, "@relance-bot prendre 1");
  const std::string said_id = said["id"];
  REQUIRE(wait_until([&] { return rig.thread_has(said_id, "il est à vous"); }, 15s));
  CHECK(rig.thread_has(said_id, "@alice Dossier #1 : il est à vous."));
  cmd.text = "prendre 1";
  auto taken = test::run_awaitable(rig.io, rig.mm.async_slash_command(rig.io.get_executor(), cmd), 15s);
  REQUIRE(taken.ephemeral_text);
  CHECK_THAT(*taken.ephemeral_text, Catch::Contains("@bob Dossier #1 : déjà pris en charge par Alice Martin."));
}

TEST_CASE("mattermost: one click edits the alert once", "[chat][mattermost][scenario]") {
  MmRig rig({}, 1);
  Service svc(*rig.f.engine, rig.clock);
  REQUIRE(wait_until([&] { return rig.alerts().size() == 1; }, 20s));
  const std::string alert_id = rig.alert_of(1)->at("id");
  REQUIRE(listening(rig));
  auto claim = rig.click(alert_id, "claim", rig.alice.id);
  REQUIRE(claim.status == 200);
  CHECK_THAT(rig.mm.post(alert_id)->at("message").get<std::string>(), Catch::Contains("Alice Martin"));
  // The claim's notice in the thread comes after any follow-up edit would have.
  REQUIRE(wait_until([&] { return rig.thread_has(alert_id, "pris en charge par Alice Martin"); }, 15s));
  // A mention typed after it is answered, so everything the click caused is done.
  auto said = rig.mm.user_posts(rig.alice.id, rig.channel.id, "@relance-bot aide");
  const std::string said_id = said["id"];
  REQUIRE(wait_until([&] { return !rig.thread(said_id).empty(); }, 15s));
  int edits = 0;
  for (const auto& r : rig.mm.requests())
    if (r.method == "PUT" && r.path.find("/api/v4/posts/" + alert_id) == 0) ++edits;
  int edited_events = 0;
  for (const auto& f : rig.mm.frames())
    if (f.outbound && f.text.find("\"post_edited\"") != std::string::npos && f.text.find(alert_id) != std::string::npos)
      ++edited_events;
  CHECK(edits == 0);            // the click's answer carried the update
  CHECK(edited_events == 1);    // members saw the alert change once
}
