// Fanning alerts out to a rate-limited chat server: N alerts POSTed one at a
// time, in order, through net::HttpClient (keep-alive) and net::Pacer,
// retrying each on 429 the way the outbox dispatcher does. Two servers:
// - FakeMattermost with its token bucket: X-Ratelimit-* headers on every
//   answer, a plain-text 429 over the limit (specs/mattermost/NOTES §1);
// - FakeMatrix with a token bucket on sends: nothing before the refusal, then
//   429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After (Matrix NOTES).
// Prints, for each: alerts, elapsed, achieved rate vs the limit, 429s (all,
// and after the first one), TCP connections. Prints figures; never fails on
// speed (only on a lost or failed alert).
//
//   bench_chat_fanout [--alerts 10000] [--rate 10] [--burst 100] [--server both|mattermost|matrix]
//
// The target, 10,000 alerts at 10/s burst 100, takes (10,000 - 100) /
// 10 = 990 s at best per server.
#include "adapters/common/http_client.hpp"
#include "adapters/common/pacer.hpp"
#include "fake_http_server.hpp"
#include "fake_matrix.hpp"
#include "fake_mattermost.hpp"

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace relance;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  int alerts = 10000;
  double rate = 10;
  int burst = 100;
  std::string server = "both";
};

struct Figures {
  int alerts = 0;
  double seconds = 0;
  int refused = 0;          // 429s
  int failed = 0;           // no answer or another error status (each retried)
  net::ClientStats client;  // connections opened, reused, retried
  std::size_t server_connections = 0;
  std::size_t delivered = 0;  // as the server counts them
};

// Plain functions, not coroutines (GCC 12 and braced json in coroutines).
std::string mattermost_post(const std::string& channel_id, int i) {
  nlohmann::json j;
  j["channel_id"] = channel_id;
  j["message"] = "Alerte " + std::to_string(i) + " : stagiaire sans activité depuis 7 jours";
  return j.dump();
}

std::string matrix_notice(int i) {
  nlohmann::json j;
  j["msgtype"] = "m.notice";
  j["body"] = "Alerte " + std::to_string(i) + " : stagiaire sans activité depuis 7 jours";
  return j.dump();
}

std::string pct_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// One request per alert; `request(i)` makes the (method, url, headers, body)
// of alert i. A refused or failed alert is sent again (same transaction id
// for Matrix: the outbox id) after the pacer's wait.
struct Request {
  net::Method method;
  std::string url;
  net::Headers headers;
  std::string body;
};

template <class MakeRequest>
boost::asio::awaitable<Figures> fan_out(net::HttpClient& client, net::Pacer& pacer, int alerts, MakeRequest make) {
  Figures f;
  const auto start = Clock::now();
  for (int i = 0; i < alerts; ++i) {
    for (;;) {
      co_await pacer.wait_turn();
      Request r = make(i);
      auto res = co_await client.async_request(r.method, std::move(r.url), std::move(r.headers), std::move(r.body), 10s);
      pacer.on_answer(res);
      if (res.ok()) break;
      if (res.answered() && res.status == 429) {
        ++f.refused;
      } else {
        ++f.failed;
        if (f.failed > 100) throw std::runtime_error("too many failures, last: " + res.error + " status " +
                                                     std::to_string(res.status) + " " + res.body);
      }
    }
    ++f.alerts;
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  f.client = client.stats();
  co_return f;
}

void print(const char* server, const Args& a, const Figures& f) {
  const double ideal = std::max(0.0, (a.alerts - a.burst) / a.rate);
  // The burst goes out at once; the rest at the limit rate at best.
  const double sustained = f.seconds > 0 ? std::max(0, f.alerts - a.burst) / f.seconds : 0;
  std::printf("%-10s alerts %d (server has %zu)  elapsed %.1f s (best %.1f s)  rate after the burst %.2f/s vs limit "
              "%.2f/s (%.0f %%)\n",
              server, f.alerts, f.delivered, f.seconds, ideal, sustained, a.rate, 100.0 * sustained / a.rate);
  std::printf("%-10s 429: %d total, %d after the first; other failures %d\n", server, f.refused,
              f.refused > 0 ? f.refused - 1 : 0, f.failed);
  std::printf("%-10s connections: %llu opened by the client (%llu requests on a reused one, %llu retried), %zu "
              "accepted by the server\n",
              server, (unsigned long long)f.client.connections_opened, (unsigned long long)f.client.reused,
              (unsigned long long)f.client.retried, f.server_connections);
  std::fflush(stdout);
}

std::chrono::milliseconds budget(const Args& a) {
  return std::chrono::milliseconds(static_cast<long long>((a.alerts / a.rate) * 3000 + 60000));
}

Figures run_mattermost(const Args& a) {
  test::FakeMattermost::Options o;
  o.rate_per_second = a.rate;
  o.rate_burst = a.burst;
  test::FakeMattermost mm(o);
  const auto channel = mm.add_channel("alertes").id;
  boost::asio::io_context io;
  net::HttpClient client(io.get_executor());
  net::Pacer pacer(io.get_executor());
  const std::string url = mm.api_url() + "/posts";
  const std::string auth = "Bearer " + mm.options().bot_token;
  auto make = [&](int i) {
    return Request{net::Method::post, url, {{"Authorization", auth}, {"Content-Type", "application/json"}},
                   mattermost_post(channel, i)};
  };
  Figures f = test::run_awaitable(io, fan_out(client, pacer, a.alerts, make), budget(a));
  f.server_connections = mm.server().connection_count();
  f.delivered = mm.posts().size();
  return f;
}

Figures run_matrix(const Args& a) {
  test::FakeMatrix hs;
  const auto bot = hs.add_user("relance", "secret");
  hs.add_access_token(bot, "BENCH", "bench-token");
  const auto room = hs.create_room(hs.user_id("alice"), {.members = {bot}});
  hs.set_rate_limit(test::FakeMatrix::RateLimit{.per_second = a.rate, .burst = a.burst});
  boost::asio::io_context io;
  net::HttpClient client(io.get_executor());
  net::Pacer pacer(io.get_executor());
  const std::string base = hs.url() + "/_matrix/client/v3/rooms/" + pct_encode(room) + "/send/m.room.message/";
  auto make = [&](int i) {
    // The transaction id is the alert's (the outbox id): a retry is the same send.
    return Request{net::Method::put, base + "alert-" + std::to_string(i),
                   {{"Authorization", "Bearer bench-token"}, {"Content-Type", "application/json"}}, matrix_notice(i)};
  };
  Figures f = test::run_awaitable(io, fan_out(client, pacer, a.alerts, make), budget(a));
  f.server_connections = hs.server().connection_count();
  f.delivered = hs.sent_events().size();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--alerts")) a.alerts = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rate")) a.rate = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--burst")) a.burst = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--server")) a.server = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: %s [--alerts N] [--rate R] [--burst B] [--server both|mattermost|matrix]\n", argv[0]);
      return 2;
    }
  }
  if (a.alerts <= 0 || a.rate <= 0 || a.burst <= 0) {
    std::fprintf(stderr, "alerts, rate and burst must be positive\n");
    return 2;
  }
  std::printf("chat fan-out: %d alerts, one at a time, limit %.2f/s burst %d\n", a.alerts, a.rate, a.burst);
  std::fflush(stdout);
  bool ok = true;
  if (a.server == "both" || a.server == "mattermost") {
    const auto f = run_mattermost(a);
    print("mattermost", a, f);
    ok = ok && f.delivered == std::size_t(a.alerts);
  }
  if (a.server == "both" || a.server == "matrix") {
    const auto f = run_matrix(a);
    print("matrix", a, f);
    ok = ok && f.delivered == std::size_t(a.alerts);
  }
  return ok ? 0 : 1;
}
