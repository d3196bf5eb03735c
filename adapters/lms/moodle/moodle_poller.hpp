// Polls core_enrol_get_enrolled_users for every configured course, on
// MoodleConfig::interval, and hands each course's learners to the app, which
// applies them in one transaction (bot/app/moodle_apply.hpp).
//
// Wiring (runtime):
//   net::HttpClient http(io.get_executor(), {.ca_files = {config.moodle.ca_file}});
//   moodle::MoodlePoller poller(io.get_executor(), http, config.moodle,
//                               app::moodle_apply(engine), clock, on_change);
//   poller.start();
//
// Everything runs on the caller's executor (the io_context that owns the
// engine and SQLite); `apply` is called there, never concurrently.
#pragma once

#include "adapters/common/http_client.hpp"
#include "adapters/lms/moodle/moodle_mapping.hpp"
#include "adapters/lms/moodle/moodle_wire.hpp"
#include "adapters/lms/moodle/moodle_config.hpp"
#include "bot/domain/time.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace relance::moodle {

// What applying one course changed.
struct ApplyCounts {
  int inserted = 0;
  int updated = 0;
  int unchanged = 0;
  int activity = 0;  // learners whose lms activity moved forward
  bool changed() const { return inserted || updated || activity; }
};

// The port to the core: applies one course's learners, all or nothing (one
// transaction). May throw (a database error); the poller logs it as that
// course's failure and goes on.
using ApplyFn = std::function<ApplyCounts(std::int64_t course_id, const std::vector<LearnerUpdate>& updates, Timestamp now)>;

struct CourseReport {
  std::int64_t course_id = 0;
  std::optional<MoodleError> error;  // the call failed: nothing was applied
  std::size_t users = 0;             // entries decoded
  std::size_t kept = 0;              // learners (configured roles)
  std::size_t skipped = 0;           // malformed or unusable entries left out
  ApplyCounts applied;
};

struct PollReport {
  std::vector<CourseReport> courses;
  bool ok() const;       // every course answered
  bool changed() const;  // something was applied
};

class MoodlePoller {
public:
  struct Options {
    std::chrono::milliseconds request_timeout{std::chrono::seconds{30}};
    // After a failed round, retry sooner than `interval`: 1 min, 2, 4, ...
    // (with jitter), never later than `interval`.
    std::chrono::milliseconds retry_initial{std::chrono::minutes{1}};
  };

  MoodlePoller(boost::asio::any_io_executor ex, net::HttpClient& http, const MoodleConfig& config, ApplyFn apply,
               std::function<Timestamp()> clock, std::function<void()> on_change = {});
  MoodlePoller(boost::asio::any_io_executor ex, net::HttpClient& http, const MoodleConfig& config, ApplyFn apply,
               std::function<Timestamp()> clock, std::function<void()> on_change, Options options);
  ~MoodlePoller();  // stops
  MoodlePoller(const MoodlePoller&) = delete;
  MoodlePoller& operator=(const MoodlePoller&) = delete;

  // Starts the loop: a round at once, then every `interval`. Does nothing when
  // the config is disabled or lists no course.
  void start();
  // Stops waiting; a request in flight ends on its own deadline and its
  // answer is dropped.
  void stop();

  // One round over every course (tests, `relance scan`). Logs as the loop does.
  boost::asio::awaitable<PollReport> async_poll_once();

  // Rounds completed by the loop (tests wait on it).
  std::uint64_t rounds() const;

  struct State;

private:
  std::shared_ptr<State> state_;
};

}  // namespace relance::moodle
