// Scaffolding for the learner-channel scenarios (channels_*_scenario.cpp):
// the real service on a thread (chat_harness.hpp's Service) with a clock the
// test can move, a way to make the service look again after moving it, raw
// HTTP requests to its port, and the staff posts as a person would read them.
#pragma once

#include "chat_harness.hpp"

#include "adapters/common/http_client.hpp"
#include "store/repositories.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace relance::test::channels_scn {

using namespace std::chrono_literals;
using chat_scn::DbView;
using chat_scn::free_port;
using chat_scn::Service;

// The bearer token of /api/v1 in every scenario config (the test pokes the
// scheduler through the API, like a learner feed would).
inline constexpr const char* api_token = "scenario-api-token-0123456789";

// Real time moving from `start`, plus jumps the test makes (set / advance).
// Copies share the same time, so the service and the test agree.
class TestClock {
public:
  explicit TestClock(Timestamp start)
      : origin_(std::chrono::steady_clock::now()), shift_(std::make_shared<std::atomic<std::int64_t>>(0)), start_(start) {}
  Timestamp operator()() const {
    return start_ + std::chrono::floor<std::chrono::seconds>(std::chrono::steady_clock::now() - origin_) +
           std::chrono::seconds(shift_->load());
  }
  void set(Timestamp t) { *shift_ += (t - (*this)()).count(); }
  void advance(std::chrono::seconds d) { *shift_ += d.count(); }

private:
  std::chrono::steady_clock::time_point origin_;
  std::shared_ptr<std::atomic<std::int64_t>> shift_;  // seconds added by the test
  Timestamp start_;
};

// Runs a coroutine to its end on a private io_context of the test thread.
template <class T>
T run_co(std::function<boost::asio::awaitable<T>(boost::asio::any_io_executor)> f) {
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(io, f(io.get_executor()), boost::asio::use_future);
  io.run();
  return fut.get();
}

// One HTTP request to the service's port.
inline net::HttpResult http_request(std::uint16_t port, net::Method method, const std::string& target, net::Headers headers,
                                    std::string body) {
  return run_co<net::HttpResult>([&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<net::HttpResult> {
    net::HttpClient client(ex);
    co_return co_await client.async_request(method, "http://127.0.0.1:" + std::to_string(port) + target,
                                            std::move(headers), std::move(body), std::chrono::seconds(15));
  });
}

// Makes the service run a detection pass soon (a new learner through the API:
// the scheduler is poked, scans within its coalescing delay, and wakes the
// learner dispatchers after the pass). The learner is in a cohort no policy
// watches, so it opens nothing. Returns the HTTP status.
inline int poke_scan(std::uint16_t port) {
  static std::atomic<int> n{0};
  const nlohmann::json doc{{"learners",
                            {{{"id", "poke-" + std::to_string(++n)},
                              {"first_name", "Réveil"},
                              {"last_name", "Test"},
                              {"cohort", "veille"}}}}};
  const auto r = http_request(port, net::Method::post, "/api/v1/learners",
                              {{"Authorization", std::string("Bearer ") + api_token}, {"Content-Type", "application/json"}},
                              doc.dump());
  return r.status;
}

// The test's own view of the service's database: a second connection and an
// Engine over it, to render outbox rows exactly as the service would.
struct View {
  explicit View(const Fixture& f) : db(f.config.database), engine(f.config, db, *f.zone, f.catalog) {}
  int count(const std::string& sql) { return db.sql().execAndGet(sql).getInt(); }
  std::string text(const std::string& sql) { return db.sql().execAndGet(sql).getString(); }
  std::optional<store::OutboxItem> outbox(std::int64_t id) { return store::OutboxRepo(db).get(id); }
  // Learner rows of a channel for one learner (by external id), in id order.
  std::vector<store::OutboxItem> learner_rows(const std::string& channel, const std::string& learner_id) {
    std::vector<store::OutboxItem> out;
    SQLite::Statement q(db.sql(),
                        "SELECT o.id FROM outbox o JOIN learner l ON l.key = o.learner_key "
                        "WHERE o.channel = ? AND l.id = ? ORDER BY o.id");
    q.bind(1, channel);
    q.bind(2, learner_id);
    store::OutboxRepo repo(db);
    while (q.executeStep())
      if (auto item = repo.get(q.getColumn(0).getInt64())) out.push_back(*item);
    return out;
  }
  // The console staff posts ("staff" channel, nobody reads them in a test):
  // (template key, rendered text), in order.
  std::vector<std::pair<std::string, std::string>> staff_posts() {
    std::vector<std::pair<std::string, std::string>> out;
    SQLite::Statement q(db.sql(), "SELECT id FROM outbox WHERE channel = 'staff' ORDER BY id");
    store::OutboxRepo repo(db);
    while (q.executeStep())
      if (auto item = repo.get(q.getColumn(0).getInt64())) out.emplace_back(item->template_key, engine.render_outbox(*item));
    return out;
  }
  // Whether a staff post of this template mentions `text`.
  bool staff_told(const std::string& template_key, const std::string& text) {
    for (const auto& [key, body] : staff_posts())
      if (key == template_key && body.find(text) != std::string::npos) return true;
    return false;
  }
  store::Database db;
  app::Engine engine;
};

// Inserts learners straight into the store (before the service starts).
inline void add_learners(app::Engine& engine, const std::vector<Learner>& learners, Timestamp now) {
  store::WriteTransaction tx(engine.db());
  for (auto l : learners) engine.upsert_learner(l, now);
  tx.commit();
}

}  // namespace relance::test::channels_scn
