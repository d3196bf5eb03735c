// Inbound SMS webhook on loopback (target: >= 20,000 messages/s on 2 cores,
// p99 under 10 ms). The real service (run_service: HTTP server, Kannel
// hooks, the grouped-commit inbound writer) on a migrated SQLite file with
// synchronous=FULL; N keep-alive connections play Kannel's smsbox, each
// sending one MO request at a time (GET /hooks/sms/kannel?secret&id&from&
// text...) and waiting for its 200. A 200 means: checked, deduplicated,
// stored, the sign of life recorded, the staff post queued, and the
// transaction fsynced. Every 20th message is sent twice (a provider retry).
// Prints throughput, latency percentiles, commits (group sizes) and peak RSS
// (server and client share the process). Never fails on speed.
//
//   bench_inbound_sms [--messages 200000] [--connections 128] [--learners 100000]
#include "bot/app/inbound.hpp"
#include "bot/app/runtime.hpp"
#include "test_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace relance;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clk = std::chrono::steady_clock;

namespace {

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  return v[std::min(v.size() - 1, std::size_t(p * double(v.size() - 1) + 0.5))];
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

const char* secret = "bench-secret-0123456789";

std::string phone(int i) { return "336" + std::to_string(10000000 + i); }

// What Kannel's get-url sends for one MO (the recommended sms-service).
std::string mo_request(int msg, int learner) {
  std::string target = "/hooks/sms/kannel?secret=" + std::string(secret) + "&id=mo-" + std::to_string(msg) +
                       "&from=" + phone(learner) + "&to=12345&ts=1795357444&coding=0&charset=UTF-8&text=" +
                       "Bonjour%2C+je+reprends+lundi%2C+merci+%C3%A0+vous+" + std::to_string(msg);
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Kannel/1.4.5\r\nConnection: keep-alive\r\n\r\n";
}

struct Totals {
  std::vector<double> latency_ms;
  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  std::atomic<int> non200{0};
};

asio::awaitable<void> client(tcp::endpoint ep, Totals& t, std::vector<double>& mine, int total, int learners) {
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
  tcp::socket s(co_await asio::this_coro::executor);
  auto [cec] = co_await s.async_connect(ep, use_tuple);
  if (cec) {
    ++t.errors;
    co_return;
  }
  s.set_option(tcp::no_delay(true));
  asio::streambuf buf;
  for (;;) {
    const int i = t.next++;
    if (i >= total) break;
    // Every 20th message goes twice, as a provider's retry would.
    const int id = i % 20 == 19 ? i - 1 : i;
    const std::string req = mo_request(id, id % learners);
    const auto start = clk::now();
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(req), use_tuple);
    if (wec) {
      ++t.errors;
      break;
    }
    auto [rec, n] = co_await asio::async_read_until(s, buf, "\r\n\r\n", use_tuple);
    if (rec) {
      ++t.errors;
      break;
    }
    std::string head(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + std::ptrdiff_t(n));
    buf.consume(n);
    if (head.compare(9, 3, "200") != 0) ++t.non200;
    std::size_t length = 0;
    if (auto p = head.find("Content-Length: "); p != std::string::npos) length = std::stoul(head.substr(p + 16));
    while (buf.size() < length) {
      auto [bec, bn] = co_await asio::async_read(s, buf, asio::transfer_at_least(1), use_tuple);
      if (bec) break;
    }
    buf.consume(length);
    mine.push_back(std::chrono::duration<double, std::milli>(clk::now() - start).count());
  }
}

}  // namespace

int main(int argc, char** argv) {
  int messages = 200000, connections = 128, learners = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--messages")) messages = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--connections")) connections = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--learners")) learners = std::atoi(argv[i + 1]);
  }
  spdlog::set_level(spdlog::level::info);  // the service prints its commit count at the end
  std::ostringstream toml;
  toml << R"(
[organisation]
name = "Organisme bench"
[http]
port = 0
[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]
[sms]
gateway = "kannel"
[sms.kannel]
sendsms_url = "http://127.0.0.1:9/cgi-bin/sendsms"
username = "relance"
password = "pw"
from = "12345"
public_url = "http://127.0.0.1:8080"
secret = ")"
       << secret << "\"\n";
  test::Fixture fx(toml.str());
  const Timestamp now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  {
    store::WriteTransaction tx(*fx.db);
    for (int i = 0; i < learners; ++i) {
      Learner l;
      l.id = "L" + std::to_string(i);
      l.first_name = "Prénom" + std::to_string(i);
      l.last_name = "Nom";
      l.phone = "+" + phone(i);
      l.cohort = "permis-b";
      l.activity.observe(Source::lesson, now - std::chrono::days(3));
      fx.engine->upsert_learner(l, now);
    }
    tx.commit();
  }
  // The writer alone (no HTTP): what one thread with grouped commits stores.
  {
    const int n = std::min(messages, 50000);
    std::atomic<int> done{0};
    std::vector<double> lat(static_cast<std::size_t>(n));
    app::InboundWriter w(fx.config, *fx.zone, fx.catalog, fx.db->path(), [now] { return now; });
    const auto t0 = clk::now();
    for (int i = 0; i < n; ++i) {
      while (i - done.load() >= connections) std::this_thread::yield();  // at most `connections` in flight
      app::InboundBatch b;
      b.messages.push_back({"sms", "bench", "direct-" + std::to_string(i), phone(i % learners),
                            "Bonjour, je reprends lundi, merci à vous " + std::to_string(i), std::nullopt});
      const auto start = clk::now();
      w.submit(std::move(b), [&, i, start](bool) {
        lat[static_cast<std::size_t>(i)] = std::chrono::duration<double, std::milli>(clk::now() - start).count();
        ++done;
      });
    }
    while (done.load() < n) std::this_thread::yield();
    const double secs = std::chrono::duration<double>(clk::now() - t0).count();
    const auto st = w.stats();
    std::sort(lat.begin(), lat.end());
    std::printf("writer alone     %d messages in %.2f s: %.0f messages/s, %llu commits (%.1f per commit), p50 %.2f ms p99 %.2f ms\n",
                n, secs, n / secs, static_cast<unsigned long long>(st.commits), double(n) / double(st.commits),
                pct(lat, 0.5), pct(lat, 0.99));
  }

  std::printf("inbound SMS webhook bench: %d messages (every 20th twice), %d connections, %d learners, synchronous=FULL\n",
              messages, connections, learners);

  std::promise<std::pair<asio::io_context*, std::uint16_t>> ready;
  app::RunOptions opts;
  opts.console = false;
  opts.moodle = false;
  opts.chat = false;
  opts.on_ready = [&](asio::io_context& io, std::uint16_t port) { ready.set_value({&io, port}); };
  std::istringstream in;
  std::ostringstream out;
  std::thread service([&] { app::run_service(*fx.engine, opts, in, out); });
  auto [service_io, port] = ready.get_future().get();

  Totals totals;
  std::vector<std::vector<double>> per(static_cast<std::size_t>(connections));
  asio::io_context cio(1);
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  const auto start = clk::now();
  for (int c = 0; c < connections; ++c)
    asio::co_spawn(cio, client(ep, totals, per[std::size_t(c)], messages, learners), asio::detached);
  cio.run();
  const double secs = std::chrono::duration<double>(clk::now() - start).count();
  asio::post(*service_io, [service_io] { service_io->stop(); });
  service.join();

  for (auto& v : per) totals.latency_ms.insert(totals.latency_ms.end(), v.begin(), v.end());
  auto& lat = totals.latency_ms;
  std::sort(lat.begin(), lat.end());
  const int stored = fx.db->sql().execAndGet("SELECT COUNT(*) FROM inbound_message WHERE provider = 'kannel'").getInt();
  const int journal = fx.db->sql().execAndGet("SELECT COUNT(*) FROM journal WHERE action = 'learner.replied'").getInt();
  std::printf("answered         %zu requests in %.2f s: %.0f messages/s\n", lat.size(), secs, double(lat.size()) / secs);
  std::printf("latency          p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", pct(lat, 0.5), pct(lat, 0.9),
              pct(lat, 0.99), pct(lat, 1.0));
  std::printf("stored           %d messages (expected %d distinct), %d replies journaled; errors %d, non-200 %d\n", stored,
              messages - messages / 20, journal, totals.errors.load(), totals.non200.load());
  std::printf("peak RSS         %.1f MiB (service and client in one process)\n", double(peak_rss_kib()) / 1024.0);
  return totals.errors.load() == 0 && totals.non200.load() == 0 ? 0 : 1;
}
