// MattermostSender against the fake server: posts, buttons, threads,
// retries without doubles, rate limits and refusals.
#include "adapters/mattermost/mattermost_sender.hpp"
#include "adapters/mattermost/mattermost_wire.hpp"
#include "adapter_support.hpp"
#include "test_support.hpp"
#include "tests/support/fake_http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace relance;
using namespace std::chrono_literals;
using nlohmann::json;
using Status = chat::SendResult::Status;

namespace {

struct SenderRig {
  explicit SenderRig(test::FakeMattermost& mm, std::string public_url = "https://relance.example.org")
      : mm(mm),
        channel(mm.add_channel("accueil")),
        config(test::config_for(mm, channel.id, public_url)),
        http(io.get_executor()),
        pacer(io.get_executor()),
        sender(io.get_executor(), http, pacer, config, desk.hooks()) {}

  chat::SendResult send(chat::Post p) { return test::run_awaitable(io, sender.send(std::move(p)), 10s); }
  chat::SendResult edit(chat::Edit e) { return test::run_awaitable(io, sender.edit(std::move(e)), 10s); }
  chat::Post alert(std::int64_t outbox, std::int64_t case_id) const {
    chat::Post p;
    p.outbox_id = outbox;
    p.destination = channel.id;
    p.case_id = case_id;
    p.markdown = "🔔 Dossier #" + std::to_string(case_id) + " — Jean Dupont : aucune activité";
    p.mentions = {"alice", "bob"};
    p.alert = true;
    return p;
  }

  test::FakeMattermost& mm;
  test::FakeMattermost::Channel channel;
  mattermost::MattermostConfig config;
  test::StaffDesk desk;
  boost::asio::io_context io;
  net::HttpClient http;
  net::Pacer pacer;
  mattermost::MattermostSender sender;
};

}  // namespace

TEST_CASE("mattermost sender: an alert with signed buttons, then a thread reply", "[mattermost][adapter]") {
  test::FakeMattermost mm;
  SenderRig rig(mm);
  auto r = rig.send(rig.alert(7, 42));
  REQUIRE(r.status == Status::sent);
  auto stored = mm.post(r.remote_id);
  REQUIRE(stored.has_value());
  CHECK((*stored)["message"] == "@alice @bob 🔔 Dossier #42 — Jean Dupont : aucune activité");
  CHECK((*stored)["props"]["relance_outbox"] == "7");
  CHECK((*stored)["root_id"] == "");
  const auto& actions = (*stored)["props"]["attachments"][0]["actions"];
  REQUIRE(actions.size() == 4);
  CHECK(actions[0]["id"] == "claim");
  CHECK(actions[0]["name"] == "Je prends");  // messages/fr/mattermost.toml
  CHECK(actions[1]["type"] == "select");
  CHECK(actions[1]["name"] == "Relance faite…");
  CHECK(actions[1]["options"].size() == 5);
  CHECK(actions[1]["options"][0]["text"] == "Téléphone — joint");
  CHECK(actions[2]["name"] == "Repris");
  CHECK(actions[3]["name"] == "Abandon");
  for (const auto& a : actions) {
    const std::string id = a["id"];
    CHECK(std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }));
    CHECK(a["integration"]["url"] == "https://relance.example.org/hooks/mattermost/action");
    const auto& ctx = a["integration"]["context"];
    CHECK(ctx["case"] == "42");
    CHECK(mattermost::verify_action_mac(rig.config.action_secret, ctx["action"].get<std::string>(), "42",
                                        ctx["mac"].get<std::string>()));
    CHECK_FALSE(mattermost::verify_action_mac("another secret", ctx["action"].get<std::string>(), "42",
                                              ctx["mac"].get<std::string>()));
  }
  auto req = mm.requests().back();
  CHECK(req.method == "POST");
  CHECK(req.path == "/api/v4/posts");
  CHECK(req.header("Authorization") == "Bearer " + mm.options().bot_token);

  chat::Post reply;
  reply.outbox_id = 8;
  reply.destination = rig.channel.id;
  reply.case_id = 42;
  reply.thread_root = r.remote_id;
  reply.markdown = "📞 Étape 1 : appeler";
  auto r2 = rig.send(reply);
  REQUIRE(r2.status == Status::sent);
  auto second = *mm.post(r2.remote_id);
  CHECK(second["root_id"] == r.remote_id);
  CHECK(second["message"] == "📞 Étape 1 : appeler");
  CHECK_FALSE(second["props"].contains("attachments"));
}

TEST_CASE("mattermost sender: no public_url, no buttons", "[mattermost][adapter]") {
  test::FakeMattermost mm;
  SenderRig rig(mm, "");
  auto r = rig.send(rig.alert(1, 5));
  REQUIRE(r.status == Status::sent);
  CHECK_FALSE((*mm.post(r.remote_id))["props"].contains("attachments"));
  CHECK(rig.sender.action_url().empty());
}

TEST_CASE("mattermost sender: retries never post twice", "[mattermost][adapter]") {
  test::FakeMattermost mm;
  SenderRig rig(mm);

  SECTION("a 502 from the proxy, then a maybe_sent retry") {
    mm.fail_next(502);
    auto r = rig.send(rig.alert(11, 3));
    CHECK(r.status == Status::retry);
    CHECK(r.error.find("502") != std::string::npos);
    auto p = rig.alert(11, 3);
    p.maybe_sent = true;
    auto again = rig.send(p);
    REQUIRE(again.status == Status::sent);
    CHECK(mm.posts().size() == 1);
  }
  SECTION("a dropped connection") {
    mm.drop_next();
    auto r = rig.send(rig.alert(12, 3));
    CHECK(r.status == Status::retry);
    CHECK(mm.posts().empty());
    auto p = rig.alert(12, 3);
    p.maybe_sent = true;
    REQUIRE(rig.send(p).status == Status::sent);
    CHECK(mm.posts().size() == 1);
  }
  SECTION("the first attempt did reach the server: the retry finds it") {
    auto first = rig.send(rig.alert(13, 3));
    REQUIRE(first.status == Status::sent);
    rig.send(rig.alert(99, 4));  // another post in between
    auto p = rig.alert(13, 3);
    p.maybe_sent = true;
    auto again = rig.send(p);
    REQUIRE(again.status == Status::sent);
    CHECK(again.remote_id == first.remote_id);
    CHECK(mm.posts().size() == 2);
    CHECK(mm.requests().back().method == "GET");  // looked, did not post
  }
  SECTION("the lookup itself fails: retry later, do not post blind") {
    mm.fail_next(503);
    auto p = rig.alert(14, 3);
    p.maybe_sent = true;
    auto r = rig.send(p);
    CHECK(r.status == Status::retry);
    CHECK(mm.posts().empty());
  }
}

TEST_CASE("mattermost sender: 429 is a retry with the server's delay", "[mattermost][adapter]") {
  test::FakeMattermost::Options o;
  o.rate_per_second = 2;
  o.rate_burst = 2;
  test::FakeMattermost mm(o);
  SenderRig rig(mm);
  // Someone else (the same bot elsewhere) empties the bucket.
  boost::asio::io_context other;
  net::HttpClient client(other.get_executor());
  for (int i = 0; i < 2; ++i)
    test::run_awaitable(other, client.async_request(net::Method::get, mm.api_url() + "/users/me",
                                                    {{"Authorization", "Bearer " + o.bot_token}}, {}, 5s));
  auto r = rig.send(rig.alert(21, 1));
  REQUIRE(r.status == Status::retry);
  REQUIRE(r.retry_after.has_value());
  CHECK(*r.retry_after >= 1s);
  // The shared pacer now holds the next request until the limit resets.
  auto p = rig.alert(21, 1);
  p.maybe_sent = true;
  auto again = rig.send(p);
  CHECK(again.status == Status::sent);
  CHECK(mm.posts().size() == 1);
}

TEST_CASE("mattermost sender: a 4xx fails with the server's message", "[mattermost][adapter]") {
  test::FakeMattermost mm;
  SenderRig rig(mm);
  auto p = rig.alert(31, 1);
  p.destination = test::FakeMattermost::new_id();  // the bot is not a member
  auto r = rig.send(p);
  CHECK(r.status == Status::failed);
  CHECK(r.error.find("You do not have the appropriate permissions.") != std::string::npos);
  CHECK(r.error.find("403") != std::string::npos);
}

TEST_CASE("mattermost sender: edits keep or remove the buttons", "[mattermost][adapter]") {
  test::FakeMattermost mm;
  SenderRig rig(mm);
  auto r = rig.send(rig.alert(41, 9));
  REQUIRE(r.status == Status::sent);
  chat::Edit e;
  e.destination = rig.channel.id;
  e.remote_id = r.remote_id;
  e.markdown = "✋ Dossier #9 — pris en charge par alice";
  auto k = rig.edit(e);
  REQUIRE(k.status == Status::sent);
  CHECK(k.remote_id == r.remote_id);
  auto stored = *mm.post(r.remote_id);
  CHECK(stored["message"] == e.markdown);
  CHECK(stored["props"]["attachments"][0]["actions"].size() == 4);
  CHECK(stored["props"]["relance_outbox"] == "41");

  e.markdown = "🛑 Dossier #9 — abandon";
  e.keep_actions = false;
  REQUIRE(rig.edit(e).status == Status::sent);
  stored = *mm.post(r.remote_id);
  CHECK(stored["message"] == e.markdown);
  REQUIRE(stored["props"]["attachments"].size() == 1);
  CHECK_FALSE(stored["props"]["attachments"][0].contains("actions"));
  CHECK(stored["props"]["attachments"][0]["text"] == "Dossier clos.");

  e.remote_id = test::FakeMattermost::new_id();
  CHECK(rig.edit(e).status == Status::failed);
}

TEST_CASE("mattermost wire: command lines and escaping", "[mattermost][adapter]") {
  using mattermost::command_line;
  CHECK(command_line("prendre 42", true, "relance-bot") == "prendre 42");
  CHECK(command_line("@relance-bot prendre 42", false, "relance-bot") == "prendre 42");
  CHECK(command_line("@relance-bot: liste", false, "relance-bot") == "liste");
  CHECK(command_line("@relance-bot", false, "relance-bot") == "aide");
  CHECK_FALSE(command_line("@relance-bot2 liste", false, "relance-bot"));
  CHECK_FALSE(command_line("bonjour @relance-bot", false, "relance-bot"));
  // A signed action is a command already; written back it reads as staff type it.
  const auto logged = mattermost::action_command("log", "42", "telnoanswer");
  REQUIRE(logged);
  CHECK(relance::command_line(*logged) == "relance 42 tel sans_reponse");
  CHECK_FALSE(mattermost::action_command("log", "42", "rm -rf"));
  CHECK_FALSE(mattermost::action_command("claim", "42; abandon 43", ""));
}
