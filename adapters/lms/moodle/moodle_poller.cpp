#include "adapters/lms/moodle/moodle_poller.hpp"

#include "adapters/common/retry.hpp"
#include "adapters/lms/moodle/moodle_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <exception>

namespace relance::moodle {

namespace asio = boost::asio;

bool PollReport::ok() const {
  for (const auto& c : courses)
    if (c.error) return false;
  return true;
}

bool PollReport::changed() const {
  for (const auto& c : courses)
    if (c.applied.changed()) return true;
  return false;
}

// Shared with the loop coroutine, so that destroying the poller while a
// request is in flight leaves the coroutine something valid to wake up to.
struct MoodlePoller::State {
  State(asio::any_io_executor e, net::HttpClient& http, MoodleConfig cfg, ApplyFn a,
        std::function<Timestamp()> c, std::function<void()> oc, Options o)
      : ex(std::move(e)),
        config(std::move(cfg)),
        client(http, config.url, config.token, o.request_timeout),
        apply(std::move(a)),
        clock(std::move(c)),
        on_change(std::move(oc)),
        options(o),
        timer(ex),
        backoff(o.retry_initial, std::max<std::chrono::milliseconds>(o.retry_initial, config.interval)) {}

  asio::any_io_executor ex;
  MoodleConfig config;
  MoodleClient client;
  ApplyFn apply;
  std::function<Timestamp()> clock;
  std::function<void()> on_change;
  Options options;
  asio::steady_timer timer;
  net::Backoff backoff;
  bool running = false;
  bool stopped = false;
  std::uint64_t rounds = 0;
};

namespace {

CourseReport apply_course(MoodlePoller::State& st, std::int64_t course_id, EnrolledUsers& decoded) {
  CourseReport report;
  report.course_id = course_id;
  report.users = decoded.users.size() + decoded.skipped.size();
  for (const auto& s : decoded.skipped)
    spdlog::warn("moodle: course {}: user entry #{}{} skipped: {}", course_id, s.index,
                 s.id ? " (id " + std::to_string(*s.id) + ")" : std::string{}, s.reason);
  auto mapped = map_course(decoded.users, course_id, st.config);
  for (const auto& note : mapped.notes) spdlog::warn("moodle: course {}: {}", course_id, note);
  report.kept = mapped.updates.size();
  report.skipped = decoded.skipped.size() + mapped.notes.size();
  try {
    report.applied = st.apply(course_id, mapped.updates, st.clock());
  } catch (const std::exception& e) {
    // The app's transaction rolled back: nothing of this course landed.
    MoodleError err;
    err.kind = MoodleError::Kind::response;
    err.code = "apply_failed";
    err.message = e.what();
    report.error = std::move(err);
    report.applied = {};
  }
  return report;
}

void log_course(const CourseReport& r) {
  if (r.error) {
    spdlog::error("moodle: course {}: {} error {}: {}", r.course_id, to_string(r.error->kind), r.error->code,
                  r.error->message);
    return;
  }
  spdlog::info("moodle: course {}: {} users, {} learners, {} skipped; {} new, {} updated, {} active again",
               r.course_id, r.users, r.kept, r.skipped, r.applied.inserted, r.applied.updated, r.applied.activity);
}

// `one_off`: a round asked for by async_poll_once, whose caller keeps the
// poller (and the engine) alive until it returns.
asio::awaitable<PollReport> poll_round(std::shared_ptr<MoodlePoller::State> st, bool one_off) {
  PollReport report;
  for (auto course_id : st->config.courses) {
    auto result = co_await st->client.async_enrolled_users(course_id);
    // Stopped while waiting: the engine may be gone; drop the answer.
    if (st->stopped && !one_off) co_return report;
    CourseReport course;
    course.course_id = course_id;
    if (auto* err = std::get_if<MoodleError>(&result))
      course.error = std::move(*err);
    else
      course = apply_course(*st, course_id, std::get<EnrolledUsers>(result));
    log_course(course);
    report.courses.push_back(std::move(course));
  }
  if (report.changed() && st->on_change) st->on_change();
  co_return report;
}

asio::awaitable<void> run_loop(std::shared_ptr<MoodlePoller::State> st) {
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
  while (!st->stopped) {
    std::chrono::milliseconds wait = st->config.interval;
    try {
      auto report = co_await poll_round(st, false);
      if (st->stopped) break;
      ++st->rounds;
      if (report.ok()) {
        st->backoff.reset();
      } else {
        wait = std::min(wait, st->backoff.next());
        spdlog::warn("moodle: round had errors; next try in {} s", wait.count() / 1000);
      }
    } catch (const std::exception& e) {
      // A bug, not a network failure: say so, and keep polling.
      spdlog::error("moodle: poll round failed: {}", e.what());
      wait = std::min(wait, st->backoff.next());
    }
    st->timer.expires_after(wait);
    co_await st->timer.async_wait(use_tuple);
  }
  st->running = false;
}

}  // namespace

MoodlePoller::MoodlePoller(asio::any_io_executor ex, net::HttpClient& http, const MoodleConfig& config,
                           ApplyFn apply, std::function<Timestamp()> clock, std::function<void()> on_change)
    : MoodlePoller(std::move(ex), http, config, std::move(apply), std::move(clock), std::move(on_change), Options{}) {}

MoodlePoller::MoodlePoller(asio::any_io_executor ex, net::HttpClient& http, const MoodleConfig& config,
                           ApplyFn apply, std::function<Timestamp()> clock, std::function<void()> on_change,
                           Options options)
    : state_(std::make_shared<State>(std::move(ex), http, config, std::move(apply), std::move(clock),
                                     std::move(on_change), options)) {}

MoodlePoller::~MoodlePoller() { stop(); }

void MoodlePoller::start() {
  if (state_->running || !state_->config.enabled || state_->config.courses.empty()) return;
  state_->running = true;
  state_->stopped = false;
  asio::co_spawn(state_->ex, run_loop(state_), asio::detached);
}

void MoodlePoller::stop() {
  state_->stopped = true;
  state_->timer.cancel();
}

std::uint64_t MoodlePoller::rounds() const { return state_->rounds; }

asio::awaitable<PollReport> MoodlePoller::async_poll_once() {
  // A one-off round works whatever start()/stop() did.
  return poll_round(state_, true);
}

}  // namespace relance::moodle
