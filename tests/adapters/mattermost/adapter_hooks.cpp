// MattermostHooks behind a small HTTP server, called the way Mattermost
// calls it (FakeMattermost::async_click, async_slash_command).
#include "messages/render/staff.hpp"
#include "adapters/mattermost/mattermost_hooks.hpp"
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

// relance's HTTP side, as the lead wires it: the two routes, JSON answers.
struct HookServer {
  explicit HookServer(const mattermost::MattermostHooks& hooks)
      : server([&hooks](const test::FakeRequest& r) {
          mattermost::HookReply out;
          if (r.method == "POST" && r.path == mattermost::action_path)
            out = hooks.handle_action(r.body);
          else if (r.method == "POST" && r.path == mattermost::command_path)
            out = hooks.handle_command(r.header("Authorization"), r.body);
          else
            return test::FakeResponse{404, "text/plain", {}, "no", false, false, false};
          return test::FakeResponse{out.status, "application/json", {}, out.json, false, false, false};
        }) {}
  test::FakeHttpServer server;
};

struct HookRig {
  HookRig()
      : alice(mm.add_user("alice")),
        bob(mm.add_user("bob")),
        channel(mm.add_channel("accueil", "O", "teamteamteamteamteamteamte")),
        hooks(config, desk.hooks()),
        web(hooks),
        http(io.get_executor()),
        pacer(io.get_executor()) {
    config = test::config_for(mm, channel.id, web.server.url());
    sender = std::make_unique<mattermost::MattermostSender>(io.get_executor(), http, pacer, config, desk.hooks());
  }

  std::string alert(std::int64_t case_id) {
    chat::Post p;
    p.outbox_id = case_id * 10;
    p.destination = channel.id;
    p.case_id = case_id;
    p.markdown = "🔔 Dossier #" + std::to_string(case_id);
    p.alert = true;
    auto r = test::run_awaitable(io, sender->send(p), 10s);
    REQUIRE(r.status == Status::sent);
    return r.remote_id;
  }
  test::FakeMattermost::ClickResult click(const std::string& post, const std::string& action,
                                          const std::string& user, const std::string& option = {}) {
    return test::run_awaitable(io, mm.async_click(io.get_executor(), post, action, user, option), 10s);
  }

  test::FakeMattermost mm;
  test::FakeMattermost::User alice, bob;
  test::FakeMattermost::Channel channel;
  test::StaffDesk desk;
  mattermost::MattermostConfig config;  // filled in the body: the hooks keep a reference
  mattermost::MattermostHooks hooks;
  HookServer web;
  boost::asio::io_context io;
  net::HttpClient http;
  net::Pacer pacer;
  std::unique_ptr<mattermost::MattermostSender> sender;
};

}  // namespace

TEST_CASE("mattermost hooks: Je prends claims the case and updates the alert", "[mattermost][adapter]") {
  HookRig rig;
  const auto post = rig.alert(42);
  auto r = rig.click(post, "claim", rig.alice.id);
  CHECK(r.status == 200);
  CHECK(r.ephemeral_text == render::escape_markdown("Dossier #42 pris en charge par alice."));
  REQUIRE(rig.desk.call_count() == 1);
  CHECK(rig.desk.calls()[0].user == "alice");
  CHECK(rig.desk.calls()[0].line == "prendre 42");
  CHECK_FALSE(rig.desk.calls()[0].typed);  // a click is a command, never text parsed again
  auto stored = *rig.mm.post(post);
  CHECK(stored["message"] == "✋ Dossier #42 — pris en charge");
  CHECK(stored["props"]["attachments"][0]["actions"].size() == 4);  // the case is open: buttons stay

  SECTION("the menu logs a relaunch") {
    auto m = rig.click(post, "relaunch", rig.alice.id, "telnoanswer");
    CHECK(m.status == 200);
    CHECK(rig.desk.calls().back().line == "relance 42 tel sans_reponse");
    CHECK(m.ephemeral_text == render::escape_markdown("Fait : relance 42 tel sans_reponse"));  // our reply, escaped
  }
  SECTION("an unknown menu value runs nothing") {
    auto m = rig.click(post, "relaunch", rig.alice.id, "rm");
    CHECK(m.status == 200);
    CHECK(rig.desk.call_count() == 1);
    CHECK(m.ephemeral_text.has_value());
  }
  SECTION("Abandon closes the case: the buttons go") {
    auto d = rig.click(post, "dropout", rig.alice.id);
    CHECK(d.status == 200);
    CHECK(rig.desk.calls().back().line == "abandon 42");
    auto after = *rig.mm.post(post);
    REQUIRE(after["props"]["attachments"].size() == 1);
    CHECK_FALSE(after["props"]["attachments"][0].contains("actions"));
    CHECK(after["props"]["attachments"][0]["text"] == "Dossier clos.");
  }
  SECTION("Repris") {
    rig.click(post, "resumed", rig.alice.id);
    CHECK(rig.desk.calls().back().line == "repris 42");
  }
}

TEST_CASE("mattermost hooks: a non-staff clicker is refused, the post stays", "[mattermost][adapter]") {
  HookRig rig;
  const auto post = rig.alert(7);
  const auto before = *rig.mm.post(post);
  auto r = rig.click(post, "claim", rig.bob.id);
  CHECK(r.status == 200);
  REQUIRE(r.ephemeral_text.has_value());
  CHECK(r.ephemeral_text->find("bob") != std::string::npos);
  CHECK((*rig.mm.post(post))["message"] == before["message"]);
  CHECK((*rig.mm.post(post))["update_at"] == before["update_at"]);
}

TEST_CASE("mattermost hooks: a forged signature is refused", "[mattermost][adapter]") {
  HookRig rig;
  // A post whose buttons were signed with another key.
  chat::Post p;
  p.outbox_id = 1;
  p.destination = rig.channel.id;
  p.case_id = 9;
  p.alert = true;
  p.markdown = "x";
  auto forged = mattermost::post_body(p, rig.config.public_url + std::string(mattermost::action_path), "wrong key",
                                      [](std::string_view, std::string_view f) { return std::string(f); });
  boost::asio::io_context io;
  net::HttpClient client(io.get_executor());
  auto created = test::run_awaitable(
      io, client.async_request(net::Method::post, rig.mm.api_url() + "/posts",
                               {{"Authorization", "Bearer " + rig.config.bot_token}, {"Content-Type", "application/json"}},
                               forged.dump(), 5s));
  REQUIRE(created.status == 201);
  const std::string id = json::parse(created.body)["id"];
  auto r = rig.click(id, "claim", rig.alice.id);
  CHECK(r.status == 200);  // the clicker reads why, instead of "Action failed"
  REQUIRE(r.ephemeral_text.has_value());
  CHECK(r.ephemeral_text->find("signature") != std::string::npos);
  CHECK(rig.desk.call_count() == 0);
  CHECK((*rig.mm.post(id))["message"] == "x");

  // Straight to the endpoint: no context, no MAC, garbage.
  for (const std::string& body : {std::string("{}"), std::string("not json"),
                                 json{{"user_name", "alice"}, {"context", {{"action", "claim"}, {"case", "9"}}}}.dump()}) {
    auto reply = rig.hooks.handle_action(body);
    CHECK(reply.status == 200);
    auto j = json::parse(reply.json);
    CHECK(j.contains("ephemeral_text"));
    CHECK(j["error"]["message"].is_string());
    CHECK_FALSE(j.contains("update"));
  }
  CHECK(rig.desk.call_count() == 0);
}

TEST_CASE("mattermost hooks: slash command needs the command token", "[mattermost][adapter]") {
  HookRig rig;
  test::FakeMattermost::SlashCommand cmd;
  cmd.url = rig.web.server.url() + std::string(mattermost::command_path);
  cmd.user_id = rig.alice.id;
  cmd.channel_id = rig.channel.id;
  cmd.text = "prendre 42";

  cmd.token = "wrongtokenwrongtokenwrongt";
  auto bad = test::run_awaitable(rig.io, rig.mm.async_slash_command(rig.io.get_executor(), cmd), 10s);
  CHECK(bad.failed);
  CHECK(bad.integration.status == 403);
  CHECK(rig.desk.call_count() == 0);

  cmd.token = rig.config.command_token;
  auto good = test::run_awaitable(rig.io, rig.mm.async_slash_command(rig.io.get_executor(), cmd), 10s);
  CHECK_FALSE(good.failed);
  CHECK(good.ephemeral_text == render::escape_markdown("Dossier #42 pris en charge par alice."));
  CHECK_FALSE(good.posted.has_value());
  REQUIRE(rig.desk.call_count() == 1);
  CHECK(rig.desk.calls()[0].user == "alice");

  cmd.text = "";
  auto help = test::run_awaitable(rig.io, rig.mm.async_slash_command(rig.io.get_executor(), cmd), 10s);
  CHECK(rig.desk.calls().back().line == "aide");
  REQUIRE(help.ephemeral_text.has_value());
  CHECK(help.ephemeral_text->find("Commandes") == 0);

  // Missing token: 401; a header and a field that disagree: 403.
  CHECK(rig.hooks.handle_command("", "text=aide&user_name=alice").status == 401);
  CHECK(rig.hooks.handle_command("Token " + rig.config.command_token, "text=aide&user_name=alice&token=other")
            .status == 403);
  auto only_header = rig.hooks.handle_command("Token " + rig.config.command_token, "text=aide&user_name=alice");
  CHECK(only_header.status == 200);
  CHECK(json::parse(only_header.json)["response_type"] == "ephemeral");
}
