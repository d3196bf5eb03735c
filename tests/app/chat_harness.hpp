// The real service (run_service on its own thread, a real SQLite file, the
// HTTP port on 127.0.0.1) against the in-process fake chat servers, for the
// staff-chat scenario tests. The test thread plays the staff through the
// fakes and reads the database through its own connection.
#pragma once

#include "bot/app/runtime.hpp"
#include "bot/app/zone.hpp"
#include "store/repositories.hpp"
#include "test_support.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

namespace relance::test::chat_scn {

using namespace std::chrono_literals;

// A port free right now on 127.0.0.1 (public_url must name it before the
// service starts; the window until the service binds it is tiny).
inline std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::address_v4::loopback(), 0});
  return a.local_endpoint().port();
}

// Monday 2026-11-23 10:00 in Paris, moving with real time (retries and
// backoff in the outbox are computed from this clock, so it must advance).
struct MovingClock {
  Timestamp base = utc("2026-11-23T09:00:00Z");
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  Timestamp operator()() const {
    return base + std::chrono::floor<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
  }
};

// Shared config parts: roles, staff (alice and bob at the front desk,
// paul in pedagogy) and a policy whose plan starts with a step a week later,
// so that opening a case posts exactly one alert per room.
inline std::string base_toml(std::uint16_t http_port) {
  return R"(
[organisation]
name = "Organisme test"
timezone = "Europe/Paris"

[http]
listen = "127.0.0.1"
port = )" + std::to_string(http_port) +
         R"(

[roles]
secretariat = "Secrétariat"
pedagogie = "Responsable pédagogique"
direction = "Direction"

[[staff]]
id = "alice"
name = "Alice Martin"
roles = ["secretariat"]
mattermost = "alice"
matrix = "@alice:fake.test"

[[staff]]
id = "bob"
name = "Bob Durand"
roles = ["secretariat"]
mattermost = "bob"
matrix = "@bob:fake.test"

[[staff]]
id = "paul"
name = "Paul Roux"
roles = ["pedagogie", "direction"]

[[plan]]
id = "later"
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "secretariat"
  template = "ladder_3"
  after_days = 7

[[policy]]
id = "001"
cohorts = ["permis-b"]
sources = ["lesson", "lms", "visit", "call"]
days = 30
plan = "later"
)";
}

inline Learner make_learner(const std::string& id, const std::string& cohort, Timestamp last) {
  Learner l;
  l.id = id;
  l.first_name = "Élodie";
  l.last_name = "Apprenant " + id;
  l.phone = "+33612345678";
  l.email = "elodie@example.org";
  l.cohort = cohort;
  l.activity.observe(Source::lesson, last);
  return l;
}

// `n` learners inactive for 100 days (a case opens at the first scan).
inline void add_inactive(app::Engine& engine, int n, Timestamp now, const std::string& cohort = "permis-b",
                         const std::string& prefix = "L") {
  store::WriteTransaction tx(engine.db());
  for (int i = 1; i <= n; ++i) {
    Learner l = make_learner(prefix + std::to_string(i), cohort, now - std::chrono::days(100));
    engine.upsert_learner(l, now);
  }
  tx.commit();
}

// run_service on a thread; stop() (or the destructor) ends it like a kill
// between two steps of the event loop: nothing is flushed on purpose.
class Service {
public:
  Service(app::Engine& engine, std::function<Timestamp()> clock) {
    app::RunOptions o;
    o.console = false;
    o.http = true;
    o.moodle = false;
    o.chat = true;
    o.clock = std::move(clock);
    o.on_ready = [this](boost::asio::io_context& io, std::uint16_t port) {
      io_ = &io;
      port_ = port;
      ready_ = true;
    };
    thread_ = std::thread([this, &engine, o] {
      std::istringstream in;
      std::ostringstream out;
      try {
        rc_ = app::run_service(engine, o, in, out);
      } catch (const std::exception& e) {
        error_ = e.what();
        rc_ = 99;
      }
      done_ = true;
    });
    if (!wait_until([this] { return ready_.load() || done_.load(); }, 20s) || !ready_) {
      stop();
      FAIL("the service did not start: " << error_);
    }
  }
  ~Service() { stop(); }
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  std::uint16_t port() const { return port_; }
  bool running() const { return ready_ && !done_; }

  void stop() {
    if (!thread_.joinable()) return;
    if (ready_ && !done_) io_->stop();  // io_context::stop is thread-safe
    thread_.join();
  }

private:
  std::thread thread_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> done_{false};
  boost::asio::io_context* io_ = nullptr;
  std::uint16_t port_ = 0;
  int rc_ = 0;
  std::string error_;
};

// A second connection on the service's database file, for the test thread.
struct DbView {
  explicit DbView(const std::filesystem::path& file) : db(file) {}
  int count(const std::string& sql) { return db.sql().execAndGet(sql).getInt(); }
  std::string text(const std::string& sql) { return db.sql().execAndGet(sql).getString(); }
  store::Database db;
};

// A fresh Engine over the same file and config: what a restarted process has.
struct Restarted {
  Restarted(const Fixture& f)
      : db(f.config.database), engine(f.config, db, *f.zone, f.catalog) {}
  store::Database db;
  app::Engine engine;
};

}  // namespace relance::test::chat_scn

// ------------------------------------------------------------------ logs

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <utility>
#include <vector>

namespace relance::test::chat_scn {

// What the service logged while it lives (added to the default logger's
// sinks; create it before the service starts, destroy it after it stopped).
class LogCapture {
public:
  using Line = std::pair<spdlog::level::level_enum, std::string>;
  LogCapture() : sink_(std::make_shared<Sink>()) { spdlog::default_logger()->sinks().push_back(sink_); }
  ~LogCapture() { std::erase(spdlog::default_logger()->sinks(), sink_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<Line> lines() const { return sink_->lines(); }
  // Lines at `level` that contain `text`.
  int count(spdlog::level::level_enum level, const std::string& text) const {
    int n = 0;
    for (const auto& [l, m] : lines())
      if (l == level && m.find(text) != std::string::npos) ++n;
    return n;
  }
  std::string dump() const {
    std::string out;
    for (const auto& [l, m] : lines()) out += std::string(spdlog::level::to_string_view(l).data()) + ": " + m + "\n";
    return out;
  }

private:
  class Sink : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::vector<Line> lines() {
      std::lock_guard lock(mutex_);
      return lines_;
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      lines_.emplace_back(msg.level, std::string(msg.payload.data(), msg.payload.size()));
    }
    void flush_() override {}

  private:
    std::vector<Line> lines_;
  };
  std::shared_ptr<Sink> sink_;
};

}  // namespace relance::test::chat_scn
