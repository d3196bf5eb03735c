// Staff command -> reply, relance's own share on loopback (target: p99 under
// 5 ms). A migrated SQLite database (WAL, synchronous=FULL: each claim or
// logged relaunch is fsynced before the answer) with N open cases; the real
// HTTP server with the Mattermost slash-command hook; a keep-alive client on
// 127.0.0.1 sends the command mix staff type (claim, log a relaunch, show a
// case, list one's cases, help). Prints the server-side time (request parsed
// -> answer ready: what relance adds) and the loopback round trip, p50/p90/
// p99/max. Never fails on speed.
//
//   bench_chat_command [--cases 2000] [--commands 5000]
#include "adapters/mattermost/mattermost_hooks.hpp"
#include "adapters/mattermost/mattermost_sender.hpp"
#include "bot/app/chat_dispatch.hpp"
#include "bot/app/http_server.hpp"
#include "test_support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace relance;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using clk = std::chrono::steady_clock;

namespace {

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(p * double(v.size() - 1) + 0.5))];
}

void print(const char* what, const std::vector<double>& ms) {
  std::printf("%-28s p50 %7.3f ms  p90 %7.3f ms  p99 %7.3f ms  max %7.3f ms  (n=%zu)\n", what, pct(ms, 0.50),
              pct(ms, 0.90), pct(ms, 0.99), pct(ms, 1.0), ms.size());
}

std::string form_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') out += char(c);
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // one info line per command would time the terminal
  int cases = 2000, commands = 5000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--cases")) cases = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--commands")) commands = std::atoi(argv[i + 1]);
  }
  std::string toml = R"(
[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]
mattermost = "marie"

[[plan]]
id = "ladder"
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "secretariat"
  template = "ladder_3"

[[policy]]
id = "p"
days = 10
plan = "ladder"
)";
  test::Fixture fx(toml);
  auto& engine = *fx.engine;
  const Timestamp now = test::utc("2026-11-23T10:00:00Z");
  {
    store::WriteTransaction tx(engine.db());
    for (int i = 0; i < cases; ++i) {
      Learner l;
      l.id = "L" + std::to_string(i);
      l.first_name = "Élodie";
      l.last_name = "Martin" + std::to_string(i);
      l.phone = "+33612345678";
      l.activity.last[std::size_t(Source::lms)] = to_unix(now - std::chrono::days(20));
      engine.upsert_learner(l, now);
    }
    tx.commit();
  }
  auto rep = engine.scan(now);
  std::printf("database: %d learners, %zu cases opened\n", cases, rep.opened.size());

  app::MattermostConfig mm;
  mm.command_token = "cmdtoken";
  const chat::Hooks hooks = app::make_chat_hooks(engine, [now] { return now; }, {});
  mattermost::MattermostHooks mm_hooks(mm, hooks);

  asio::io_context io(1);
  fx.config.http.port = 0;
  app::HttpServer server(io, engine, [now] { return now; });
  std::vector<double> server_ms;
  server_ms.reserve(std::size_t(commands));
  server.add_hook(std::string(mattermost::command_path), [&](const app::HookRequest& r) {
    const auto t0 = clk::now();
    auto out = mm_hooks.handle_command(r.header("Authorization"), r.body);
    server_ms.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
    return app::HookResponse{out.status, "application/json", std::move(out.json)};
  });
  server.start();
  std::thread io_thread([&] { io.run(); });

  asio::io_context cio;
  asio::ip::tcp::socket sock(cio);
  sock.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  beast::flat_buffer buf;
  std::vector<double> rtt_ms;
  std::vector<std::pair<std::string, std::vector<double>>> by_kind{
      {"prendre N", {}}, {"relance N tel joint", {}}, {"dossier N", {}}, {"liste mes", {}}, {"aide", {}}};
  int claimed = 0, errors = 0;
  for (int i = 0; i < commands; ++i) {
    std::string cmd;
    std::size_t kind;
    const int id = 1 + (i * 7919) % std::max(1, int(rep.opened.size()));
    switch (i % 10) {
      case 0: case 1: case 2: kind = 0; cmd = "prendre " + std::to_string(1 + (claimed++ % std::max(1, cases))); break;
      case 3: case 4: kind = 1; cmd = "relance " + std::to_string(1 + (i / 10) % std::max(1, claimed)) + " tel joint \"rappel lundi\""; break;
      case 5: case 6: case 7: kind = 2; cmd = "dossier " + std::to_string(id); break;
      case 8: kind = 3; cmd = "liste mes"; break;
      default: kind = 4; cmd = "aide"; break;
    }
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, std::string(mattermost::command_path), 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
    req.set(bhttp::field::authorization, "Token cmdtoken");
    req.body() = "token=cmdtoken&user_name=marie&command=%2Frelance&text=" + form_escape(cmd);
    req.prepare_payload();
    const auto t0 = clk::now();
    bhttp::write(sock, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(sock, buf, res);
    const double ms = std::chrono::duration<double, std::milli>(clk::now() - t0).count();
    if (res.result_int() != 200) ++errors;
    rtt_ms.push_back(ms);
    by_kind[kind].second.push_back(server_ms.back());
  }
  server.stop();
  io.stop();
  io_thread.join();

  std::printf("commands: %d (HTTP errors: %d), keep-alive connection, synchronous=FULL\n", commands, errors);
  print("server share (all)", server_ms);
  for (auto& [k, v] : by_kind) print(("  " + k).c_str(), v);
  print("loopback round trip", rtt_ms);
  return 0;
}
