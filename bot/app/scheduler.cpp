#include "bot/app/scheduler.hpp"

#include "adapters/console/console.hpp"
#include "store/repositories.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <algorithm>

namespace relance::app {

namespace asio = boost::asio;

namespace {

// The pass thread returns to its loop this often: to stop when the service
// stops, and to tell the dispatchers what it has queued so far.
constexpr std::chrono::milliseconds slice{50};

}  // namespace

Scheduler::Scheduler(asio::io_context& io, Engine& engine, std::function<Timestamp()> clock,
                     console::ConsoleChannel* console)
    : io_(io), engine_(engine), clock_(std::move(clock)), console_(console), timer_(io) {
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Scheduler::poke() {
  if (running_) return;
  constexpr auto coalesce = std::chrono::seconds(3);
  const auto soon = std::chrono::steady_clock::now() + coalesce;
  if (timer_.expiry() > soon) arm(coalesce);
}

void Scheduler::deliver_staff(Timestamp now) {
  if (!console_) return;
  store::OutboxRepo outbox(engine_.db());
  for (int round = 0; round < 100; ++round) {
    auto items = outbox.ready("staff", now, 100);
    if (items.empty()) break;
    for (const auto& item : items) {
      console_->show(engine_.render_outbox(item));
      outbox.mark_sent(item.id, now, "console");
    }
  }
  // Learner messages of a channel that is not configured wait in the
  // outbox; the console shows each once so staff see what would be sent.
  const auto shown = store::kv_get(engine_.db(), "console.learner_shown");
  std::int64_t last = shown ? std::stoll(*shown) : 0;
  for (const char* ch : {"sms", "email", "matrix"})
    if (std::find(live_channels.begin(), live_channels.end(), ch) == live_channels.end())
      for (const auto& item : outbox.pending(ch))
        if (item.id > last) {
          console_->show(engine_.render_outbox(item));
          last = std::max(last, item.id);
        }
  store::kv_set(engine_.db(), "console.learner_shown", std::to_string(last));
}

void Scheduler::arm(std::chrono::steady_clock::duration d) {
  timer_.expires_after(d);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

void Scheduler::tick() {
  running_ = true;
  {
    std::lock_guard lk(mu_);
    request_ = clock_();
  }
  cv_.notify_one();
}

void Scheduler::pass_ended(Ended e) {
  running_ = false;
  if (!e.report) {
    spdlog::error("scheduler: pass failed: {}; retrying in 60 s", e.error);
    arm(std::chrono::seconds(60));
    return;
  }
  const ScanReport& rep = *e.report;
  try {
    deliver_staff(rep.now);
    if (after_pass) after_pass();
  } catch (const std::exception& ex) {
    spdlog::error("scheduler: after the pass: {}", ex.what());
  }
  // Wake at the next due instant; re-check at least every 6 hours in case
  // the wall clock jumped (NTP, suspend).
  const Timestamp now = clock_();
  auto wait = std::chrono::seconds(6 * 3600);
  if (rep.next_wake)
    wait = std::clamp(std::chrono::duration_cast<std::chrono::seconds>(*rep.next_wake - now), std::chrono::seconds(1), wait);
  spdlog::debug("scheduler: {} learners examined; next pass in {} s", rep.learners_examined, wait.count());
  arm(wait);
}

void Scheduler::run() {
  for (;;) {
    Timestamp now;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || request_; });
      if (stopping_) return;
      now = *request_;
      request_.reset();
    }
    Ended e;
    try {
      // A connection per pass: between two, an idle service holds neither
      // its page cache nor its mapping of the WAL index.
      store::Database db(engine_.db().path(), store::Database::Mode::read_write_one_thread);
      // The service's checkpointer copies the WAL back on its own thread.
      db.sql().exec("PRAGMA wal_autocheckpoint=0");
      // One group of learners per transaction, one after the other: a
      // write of the I/O thread waiting for the lock goes first.
      db.yield_to_waiting_writers();
      Engine engine(engine_.config(), db, engine_.zone(), engine_.catalog());
      e = run_pass(engine, now);
    } catch (const std::exception& ex) {
      e = Ended{std::nullopt, ex.what()};
    }
    if (stopping_) return;
    // The heap a pass over many learners left behind goes back to the
    // system: an idle service holds only what it uses.
    if (e.report && e.report->learners_examined > 10'000) ::malloc_trim(0);
    asio::post(io_, [this, e = std::move(e)]() mutable { pass_ended(std::move(e)); });
  }
}

Scheduler::Ended Scheduler::run_pass(Engine& engine, Timestamp now) {
  Pass pass = engine.begin_pass(now);
  // A long pass (every learner due, after an upgrade) must not hold its
  // first alerts until its end: the dispatchers look at the outbox when the
  // pass has queued something new, at most every half second.
  std::size_t woken_for = 0;
  std::chrono::steady_clock::time_point woken_at{};
  while (!engine.run_pass(pass, slice)) {
    if (stopping_) return {};
    const auto& r = pass.report;
    const std::size_t queued = r.opened.size() + r.steps.size() + r.closed.size() + r.escalated.size();
    const auto t = std::chrono::steady_clock::now();
    if (queued > woken_for && t - woken_at >= std::chrono::milliseconds(500)) {
      woken_for = queued;
      woken_at = t;
      asio::post(io_, [this] {
        if (after_pass) after_pass();
      });
    }
  }
  return Ended{std::move(pass.report), {}};
}

}  // namespace relance::app
