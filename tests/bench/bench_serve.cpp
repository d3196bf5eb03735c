// Benchmark: the service over a large store. Prints figures; never fails on
// speed. Targets (issue "one way in, one clock"):
//   - `relance serve` answers /healthz < 100 ms after start (1M learners);
//   - while a full pass over every learner runs, the I/O thread never stalls
//     more than 20 ms (a 1 ms timer on it; its worst lateness);
//   - a pass when nothing changed takes < 10 ms (1M learners);
//   - idle RSS of `relance serve` < 20 MB (100,000 learners).
//
//   bench_serve [--learners N] [--events M] [--db FILE] [--window S]
//
// The cohort's activity falls in the last 400 days and the policies wait
// 450 days, so a pass examines every learner and opens no case: what is
// measured is the examination itself, not case openings.
//
//  1. start to ready: `relance serve` as a child process with every learner
//     due for examination; time until GET /healthz answers 200; then its RSS
//     once its CPU has been idle for a second (the first pass done).
//  2. I/O stalls: the same service in this process (run_service), a 1 ms
//     timer on its I/O thread for `--window` seconds from ready, while the
//     pass at start runs (on the scheduler's thread) and, a little later,
//     the pass one activity event (POST /api/v1/activity) causes; that
//     request's status and time (a write of the I/O thread while the pass
//     takes the write lock group after group).
//  3. the full pass alone, in the scheduler's slices of 50 ms.
//  4. a pass when nothing changed: Engine::scan twice; the second is timed.
#include "bench_cohort.hpp"
#include "bot/app/config.hpp"
#include "bot/app/engine.hpp"
#include "bot/app/runtime.hpp"
#include "bot/app/zone.hpp"
#include "messages/catalog.hpp"
#include "store/checkpointer.hpp"
#include "store/database.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace relance;
using clk = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double ms_since(clk::time_point t) { return std::chrono::duration<double, std::milli>(clk::now() - t).count(); }

std::uint16_t free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

// One HTTP/1.1 exchange on a fresh connection; the status code, or 0 when
// nothing answers.
int http_status(std::uint16_t port, const std::string& request) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int status = 0;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(s, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size())) {
    char buf[256];
    const ssize_t n = ::recv(s, buf, sizeof buf - 1, 0);
    if (n > 12) {
      buf[n] = 0;
      status = std::atoi(buf + 9);
    }
  }
  ::close(s);
  return status;
}

std::string healthz_request() { return "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"; }

std::string activity_request(const std::string& learner, Timestamp at) {
  const std::string body = R"({"events":[{"learner":")" + learner + R"(","source":"lms","at":)" +
                           std::to_string(to_unix(at)) + "}]}";
  return "POST /api/v1/activity HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench-token\r\n"
         "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string config_text(const std::string& db, std::uint16_t port) {
  std::ostringstream c;
  c << "[organisation]\nname = \"Bench\"\ntimezone = \"Europe/Paris\"\n"
    << "[store]\npath = \"" << db << "\"\n"
    << "[http]\nlisten = \"127.0.0.1\"\nport = " << port << "\napi_token = \"bench-token\"\n"
    << "[roles]\nsecretariat = \"Secrétariat\"\n"
    << "[[staff]]\nid = \"marie\"\nname = \"Marie\"\nroles = [\"secretariat\"]\n"
    << "[[plan]]\nid = \"p\"\non_exhausted = \"keep_open\"\n"
    << "  [[plan.step]]\n  name = \"appel\"\n  action = \"task\"\n  means = \"phone\"\n  role = \"secretariat\"\n"
    << "  template = \"call_30d\"\n";
  const char* sources[] = {"[\"lms\"]", "[\"lms\", \"lesson\", \"booking\", \"visit\", \"call\"]", "[\"lms\"]"};
  for (int i = 0; i < 3; ++i)
    c << "[[policy]]\nid = \"p" << i << "\"\nlabel = \"Politique " << i << "\"\ncohorts = [\"" << bench::cohorts[i]
      << "\"]\nsources = " << sources[i] << "\ncondition = \"inactive_for\"\ndays = 450\nplan = \"p\"\n";
  return c.str();
}

// Every learner due for examination again, as after an upgrade or a change
// of policies (a store without the column is examined in full anyway).
void make_all_due(const std::string& db_path) {
  store::Database db(db_path);
  SQLite::Statement has(db.sql(), "SELECT 1 FROM pragma_table_info('learner') WHERE name = 'detect_at'");
  if (has.executeStep()) db.sql().exec("UPDATE learner SET detect_at = 0");
  db.sql().exec("DELETE FROM kv WHERE key LIKE 'detection.%'");
}

long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  const auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

void start_to_ready(const std::string& db_path, const fs::path& dir) {
  make_all_due(db_path);
  const std::uint16_t port = free_port();
  const fs::path cfg = dir / "bench-serve.toml";
  std::ofstream(cfg) << config_text(db_path, port);
  const auto t0 = clk::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(RELANCE_BINARY, "relance", "--config", cfg.c_str(), "serve", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  double ready_ms = -1;
  while (ms_since(t0) < 60'000) {
    if (http_status(port, healthz_request()) == 200) {
      ready_ms = ms_since(t0);
      break;
    }
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::printf("  start to ready: /healthz answered %.1f ms after `relance serve` started\n", ready_ms);
  // Idle: no CPU used for a whole second.
  long last = cpu_ticks(pid);
  const auto idle_from = clk::now();
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const long now_ticks = cpu_ticks(pid);
    if (now_ticks == last) break;
    last = now_ticks;
  }
  const std::string status = "/proc/" + std::to_string(pid) + "/status";
  std::printf("  idle after %.1f s: RSS %.1f MB (peak %.1f MB)\n", ms_since(idle_from) / 1000.0,
              bench::status_kb(status, "VmRSS") / 1024.0, bench::status_kb(status, "VmHWM") / 1024.0);
  ::kill(pid, SIGTERM);
  int st = 0;
  ::waitpid(pid, &st, 0);
}

// The service's parts over the bench's store, as `relance serve` builds them.
struct Service {
  Service(const std::string& db_path, std::uint16_t port)
      : config(app::parse_config(config_text(db_path, port), "bench-serve.toml")), zone(app::make_zone(config.timezone)),
        catalog(messages::Catalog::load(messages::Catalog::default_dir())), db(config.database) {
    db.ensure_schema();
  }
  app::Config config;
  std::unique_ptr<ZoneRules> zone;
  messages::Catalog catalog;
  store::Database db;
  app::Engine engine{config, db, *zone, catalog};
};

void io_stalls(const std::string& db_path, double window_s) {
  make_all_due(db_path);
  const std::uint16_t port = free_port();
  Service svc(db_path, port);
  auto& engine = svc.engine;

  std::vector<double> late_ms;
  late_ms.reserve(std::size_t(window_s * 1000) + 16);
  std::thread poster;
  int post_status = 0;
  double post_ms = 0;
  app::RunOptions opts;
  opts.moodle = opts.chat = opts.learner_channels = false;
  const auto t0 = clk::now();
  double ready_ms = 0;
  opts.on_ready = [&](boost::asio::io_context& io, std::uint16_t) {
    ready_ms = ms_since(t0);
    auto timer = std::make_shared<boost::asio::steady_timer>(io);
    const auto end = clk::now() + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(window_s));
    auto tick = std::make_shared<std::function<void(boost::system::error_code)>>();
    *tick = [&, timer, tick, end](boost::system::error_code ec) {
      if (ec) return;
      late_ms.push_back(std::chrono::duration<double, std::milli>(clk::now() - timer->expiry()).count());
      if (clk::now() >= end) {
        io.stop();
        return;
      }
      timer->expires_after(std::chrono::milliseconds(1));
      timer->async_wait(*tick);
    };
    timer->expires_after(std::chrono::milliseconds(1));
    timer->async_wait(*tick);
    // One activity event: the API pokes the scheduler, which runs a pass.
    poster = std::thread([port, &post_status, &post_ms] {
      const auto p0 = clk::now();
      post_status = http_status(port, activity_request("L1", app::system_now()));
      post_ms = ms_since(p0);
    });
  };
  std::istringstream in;
  std::ostringstream out;
  app::run_service(engine, opts, in, out);
  if (poster.joinable()) poster.join();
  std::sort(late_ms.begin(), late_ms.end());
  const auto pct = [&](double p) { return late_ms.empty() ? 0.0 : late_ms[std::size_t(p * double(late_ms.size() - 1))]; };
  std::printf("  in-process: ready (on_ready) %.1f ms after run_service; over %.0f s, %zu ticks of a 1 ms timer: "
              "lateness median %.2f ms, p99 %.2f ms, worst %.1f ms\n",
              ready_ms, window_s, late_ms.size(), pct(0.5), pct(0.99), late_ms.empty() ? 0.0 : late_ms.back());
  std::printf("  the activity event during the pass: HTTP %d in %.1f ms\n", post_status, post_ms);
}

// The pass the service runs (on the scheduler's thread), in slices of 50 ms,
// every learner due.
void sliced_pass(const std::string& db_path) {
  make_all_due(db_path);
  Service svc(db_path, 0);
  auto& engine = svc.engine;
  std::vector<double> slice_ms;
  store::Checkpointer checkpointer(svc.db, std::chrono::seconds(1));  // as the service does
  const auto t0 = clk::now();
  app::Pass pass = engine.begin_pass(app::system_now());
  for (bool done = false; !done;) {
    const auto s0 = clk::now();
    const auto phase = pass.phase;
    done = engine.run_pass(pass, std::chrono::milliseconds(50));
    slice_ms.push_back(ms_since(s0));
    if (std::getenv("BENCH_VERBOSE") && slice_ms.back() > 100)
      std::printf("    slice %zu (phase %d): %.1f ms\n", slice_ms.size(), int(phase), slice_ms.back());
  }
  const double total = ms_since(t0);
  std::sort(slice_ms.begin(), slice_ms.end());
  std::printf("  full pass in slices of 50 ms: %.0f ms, %lld examined, %zu slices: median %.2f ms, p99 %.2f ms, worst %.1f ms\n",
              total, static_cast<long long>(pass.report.learners_examined), slice_ms.size(),
              slice_ms[slice_ms.size() / 2], slice_ms[std::size_t(0.99 * double(slice_ms.size() - 1))], slice_ms.back());
}

void unchanged_pass(const std::string& db_path) {
  Service svc(db_path, 0);
  auto& engine = svc.engine;
  const Timestamp now = app::system_now();
  auto t0 = clk::now();
  auto first = engine.scan(now);
  const double first_ms = ms_since(t0);
  t0 = clk::now();
  auto second = engine.scan(now + std::chrono::seconds(1));
  const double second_ms = ms_since(t0);
  std::printf("  passes: first %.1f ms (%lld examined, %zu opened), then with nothing changed %.2f ms (%lld examined)\n",
              first_ms, static_cast<long long>(first.learners_examined), first.opened.size(), second_ms,
              static_cast<long long>(second.learners_examined));
}

}  // namespace

int main(int argc, char** argv) {
  long learners = 1'000'000, events = 10'000'000;
  double window = 10;
  std::string db_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--learners")) learners = std::stol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--events")) events = std::stol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--db")) db_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--window")) window = std::stod(argv[i + 1]);
  }
  const fs::path dir = fs::temp_directory_path() / ("relance-bench-serve-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const bool temp_db = db_path.empty();
  if (temp_db) db_path = (dir / "bench.db").string();
  std::printf("bench_serve: %ld learners, %ld events, db %s\n", learners, events, db_path.c_str());
  if (temp_db || !fs::exists(db_path)) {
    const auto t0 = clk::now();
    store::Database db(db_path);
    db.ensure_schema();
    bench::generate_cohort(db, learners, events, app::system_now());
    std::printf("  generate + store: %.1f s\n", ms_since(t0) / 1000.0);
  }
  start_to_ready(db_path, dir);
  io_stalls(db_path, window);
  sliced_pass(db_path);
  unchanged_pass(db_path);
  if (temp_db) fs::remove_all(dir);
  return 0;
}
