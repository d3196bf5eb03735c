// The Moodle poller against the in-process fake Moodle, over a real engine
// and SQLite file: learners and activity land; every error is a value that
// changes nothing; a malformed user is skipped; the loop retries with backoff.
#include "adapters/common/http_client.hpp"
#include "bot/app/moodle_apply.hpp"
#include "adapters/lms/moodle/moodle_poller.hpp"
#include "store/repositories.hpp"
#include "test_support.hpp"
#include "tests/support/fake_moodle.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

using namespace relance;
using namespace std::chrono_literals;
using relance::test::FakeMoodle;
using relance::test::utc;

namespace {

const std::string policy_toml = std::string(test::staff_and_task_plan_toml) + R"(
[[policy]]
id = "lms-30"
sources = ["lms"]
days = 30
plan = "ladder"
)";

constexpr std::int64_t camille_access = 1777901230;  // NOTES §3

// The NOTES' course 42: a learner with an idnumber and a phone, one who never
// came, a teacher.
void seed_course_42(FakeMoodle& moodle) {
  auto camille = FakeMoodle::user(231, "Camille", "Martin");
  camille["idnumber"] = "STG-2026-014";
  camille["phone1"] = "0612345678";
  camille["firstaccess"] = 1767261600;
  camille["lastaccess"] = 1778493045;
  camille["lastcourseaccess"] = camille_access;
  moodle.add_user(42, camille);
  moodle.add_user(42, FakeMoodle::user(232, "Lucas", "Petit"));
  auto anne = FakeMoodle::user(12, "Anne", "Leroy", "editingteacher");
  anne["lastaccess"] = 1778500000;
  anne["lastcourseaccess"] = 1778499000;
  moodle.add_user(42, anne);
}

struct PollerHarness {
  explicit PollerHarness(FakeMoodle& moodle, std::string_view config_toml = "")
      : fixture(config_toml), now(utc("2026-05-12T09:00:00Z")) {
    config.enabled = true;
    config.url = moodle.url();
    config.token = moodle.token();
    config.courses = {42};
    config.course_cohorts[42] = "code-mai";
  }

  // Built on demand, after the test has adjusted `config`.
  moodle::MoodlePoller& poller(moodle::MoodlePoller::Options options = {}) {
    if (!poller_) {
      options.request_timeout = 5s;
      poller_ = std::make_unique<moodle::MoodlePoller>(
          io.get_executor(), http, config, app::moodle_apply(*fixture.engine), [this] { return now; },
          [this] { ++changes; }, options);
    }
    return *poller_;
  }
  moodle::PollReport poll_once() { return test::run_awaitable(io, poller().async_poll_once()); }

  std::optional<Learner> learner(const std::string& id) { return store::LearnerRepo(*fixture.db).find(id); }
  std::int64_t learners() { return store::LearnerRepo(*fixture.db).count(); }

  test::Fixture fixture;
  Timestamp now;
  moodle::MoodleConfig config;
  int changes = 0;
  boost::asio::io_context io;
  net::HttpClient http{io.get_executor()};
  std::unique_ptr<moodle::MoodlePoller> poller_;
};

}  // namespace

TEST_CASE("moodle poller: learners and their last course access land", "[moodle][poller]") {
  FakeMoodle moodle;
  seed_course_42(moodle);
  PollerHarness h(moodle);

  auto report = h.poll_once();
  REQUIRE(report.ok());
  REQUIRE(report.courses.size() == 1);
  const auto& course = report.courses[0];
  CHECK(course.users == 3);
  CHECK(course.kept == 2);
  CHECK(course.skipped == 0);
  CHECK(course.applied.inserted == 2);
  CHECK(h.changes == 1);

  auto camille = h.learner("STG-2026-014");
  REQUIRE(camille);
  CHECK(camille->first_name == "Camille");
  CHECK(camille->last_name == "Martin");
  CHECK(camille->email == "camille.martin@example.org");
  CHECK(camille->phone == "+33612345678");
  CHECK(camille->cohort == "code-mai");
  CHECK(camille->activity.last[std::size_t(Source::lms)] == camille_access);

  // Never in the course: the learner exists, with no activity at all.
  auto lucas = h.learner("moodle:232");
  REQUIRE(lucas);
  CHECK_FALSE(lucas->activity.last_over(SourceSet::all()).has_value());
  CHECK_FALSE(h.learner("moodle:12"));  // the teacher
  CHECK(h.learners() == 2);

  // What went over the wire (NOTES §1).
  auto calls = moodle.calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].http_method == "POST");
  CHECK(calls[0].content_type == "application/x-www-form-urlencoded");
  CHECK(calls[0].wsfunction == "core_enrol_get_enrolled_users");
  CHECK(calls[0].format == "json");
  CHECK(*net::form_find(calls[0].params, "wstoken") == moodle.token());
  CHECK(*net::form_find(calls[0].params, "courseid") == "42");
  CHECK(*net::form_find(calls[0].params, "options[0][name]") == "userfields");
  // The token never travels in the URL.
  CHECK(moodle.server().requests()[0].target == "/webservice/rest/server.php");

  SECTION("polling again changes nothing") {
    auto again = h.poll_once();
    REQUIRE(again.ok());
    CHECK(again.courses[0].applied.inserted == 0);
    CHECK(again.courses[0].applied.updated == 0);
    CHECK(again.courses[0].applied.activity == 0);
    CHECK(h.changes == 1);
  }
  SECTION("a language set elsewhere survives the next poll") {
    {
      auto l = *h.learner("STG-2026-014");
      l.language = "en";
      store::WriteTransaction tx(*h.fixture.db);
      h.fixture.engine->upsert_learner(l, h.now);
      tx.commit();
    }
    REQUIRE(h.poll_once().ok());
    CHECK(h.learner("STG-2026-014")->language == "en");
    CHECK(h.learner("moodle:232")->language == "fr");
  }
  SECTION("a later access moves the activity forward") {
    moodle.clear_users(42);
    auto camille_later = FakeMoodle::user(231, "Camille", "Martin");
    camille_later["idnumber"] = "STG-2026-014";
    camille_later["lastcourseaccess"] = camille_access + 86400;
    moodle.add_user(42, camille_later);
    auto again = h.poll_once();
    CHECK(again.courses[0].applied.activity == 1);
    CHECK(h.learner("STG-2026-014")->activity.last[std::size_t(Source::lms)] == camille_access + 86400);
    CHECK(h.learner("STG-2026-014")->phone == "+33612345678");  // absent now, kept
  }
}

TEST_CASE("moodle poller: each Moodle error is a value and changes nothing", "[moodle][poller]") {
  FakeMoodle moodle;
  seed_course_42(moodle);
  PollerHarness h(moodle);

  std::string expected_code;
  std::string expected_exception;
  SECTION("invalidtoken") {
    h.config.token = "ffffffffffffffffffffffffffffffff";
    expected_code = "invalidtoken";
    expected_exception = "moodle_exception";
  }
  SECTION("accessexception: the function is not in the token's service") {
    moodle.set_service_functions({"core_webservice_get_site_info"});
    expected_code = "accessexception";
    expected_exception = "webservice_access_exception";
  }
  SECTION("nopermissions: a missing capability") {
    moodle.set_can_view_participants(false);
    expected_code = "nopermissions";
    expected_exception = "required_capability_exception";
  }
  SECTION("invalidrecord: an unknown course") {
    h.config.courses = {999};
    expected_code = "invalidrecord";
    expected_exception = "dml_missing_record_exception";
  }
  auto report = h.poll_once();
  CHECK_FALSE(report.ok());
  REQUIRE(report.courses.size() == 1);
  REQUIRE(report.courses[0].error);
  const auto& e = *report.courses[0].error;
  CHECK(e.kind == moodle::MoodleError::Kind::moodle);
  CHECK(e.code == expected_code);
  CHECK(e.exception == expected_exception);
  CHECK_FALSE(e.message.empty());
  CHECK(h.learners() == 0);
  CHECK(h.changes == 0);
}

TEST_CASE("moodle poller: transport and HTTP failures are values too", "[moodle][poller]") {
  FakeMoodle moodle;
  seed_course_42(moodle);
  PollerHarness h(moodle);

  SECTION("a proxy answering 502") {
    moodle.fail_http(502);
    auto report = h.poll_once();
    REQUIRE(report.courses[0].error);
    CHECK(report.courses[0].error->kind == moodle::MoodleError::Kind::http);
    CHECK(report.courses[0].error->code == "http_502");
    CHECK(report.courses[0].error->http_status == 502);
  }
  SECTION("nobody listening") {
    const auto url = moodle.url();
    moodle.server().stop();
    h.config.url = url;
    auto report = h.poll_once();
    REQUIRE(report.courses[0].error);
    CHECK(report.courses[0].error->kind == moodle::MoodleError::Kind::transport);
    CHECK(report.courses[0].error->code == "connect");
  }
  SECTION("one course failing does not stop the others") {
    h.config.courses = {999, 42};
    auto report = h.poll_once();
    REQUIRE(report.courses.size() == 2);
    CHECK(report.courses[0].error);
    CHECK_FALSE(report.courses[1].error);
    CHECK(report.courses[1].applied.inserted == 2);
  }
  CHECK(h.learners() == (h.config.courses.size() == 2 ? 2 : 0));
}

TEST_CASE("moodle poller: a malformed user is skipped, the rest lands", "[moodle][poller]") {
  FakeMoodle moodle;
  seed_course_42(moodle);
  moodle.add_raw_entry(42, {{"fullname", "Sans Identifiant"}, {"roles", {{{"roleid", 5}, {"shortname", "student"}}}}});
  moodle.add_raw_entry(42, {{"id", 77}, {"fullname", "Bad Time"}, {"lastcourseaccess", "hier"},
                            {"roles", {{{"roleid", 5}, {"shortname", "student"}}}}});
  PollerHarness h(moodle);
  auto report = h.poll_once();
  REQUIRE(report.ok());
  CHECK(report.courses[0].users == 5);
  CHECK(report.courses[0].skipped == 2);
  CHECK(report.courses[0].applied.inserted == 2);
  CHECK_FALSE(h.learner("moodle:77"));
  CHECK(h.learner("STG-2026-014"));
}

TEST_CASE("moodle poller: a hidden lastcourseaccess falls back on the site's lastaccess", "[moodle][poller]") {
  FakeMoodle moodle;
  seed_course_42(moodle);
  moodle.set_hidden_fields({"lastcourseaccess", "phone1"});
  PollerHarness h(moodle);
  REQUIRE(h.poll_once().ok());
  auto camille = h.learner("STG-2026-014");
  REQUIRE(camille);
  CHECK(camille->activity.last[std::size_t(Source::lms)] == 1778493045);
  CHECK(camille->phone.empty());
}

TEST_CASE("moodle poller: a course access closes an open case as resumed", "[moodle][poller]") {
  FakeMoodle moodle;
  PollerHarness h(moodle, policy_toml);
  h.config.courses = {42};
  moodle.add_course(42);
  // Camille was last seen 40 days ago: a case opens.
  {
    Learner l;
    l.id = "STG-2026-014";
    l.cohort = "code-mai";
    l.activity.observe(Source::lms, h.now - std::chrono::days(40));
    store::WriteTransaction tx(*h.fixture.db);
    h.fixture.engine->upsert_learner(l, h.now - std::chrono::days(40));
    tx.commit();
  }
  REQUIRE(h.fixture.engine->scan(h.now).opened.size() == 1);
  store::CaseRepo cases(*h.fixture.db);
  REQUIRE(cases.active().size() == 1);

  auto camille = FakeMoodle::user(231, "Camille", "Martin");
  camille["idnumber"] = "STG-2026-014";
  camille["lastcourseaccess"] = to_unix(h.now + std::chrono::hours(1));
  moodle.add_user(42, camille);
  h.now += std::chrono::hours(2);
  auto report = h.poll_once();
  REQUIRE(report.ok());
  CHECK(report.courses[0].applied.activity == 1);
  CHECK(cases.active().empty());
  CHECK(cases.get(1)->state == CaseState::resumed);
}

TEST_CASE("moodle poller loop: polls at start, retries with backoff after a failure", "[moodle][poller]") {
  FakeMoodle moodle;
  seed_course_42(moodle);
  moodle.fail_http(503, 2);  // two failed rounds, then Moodle is back
  PollerHarness h(moodle);
  h.config.interval = std::chrono::minutes{60};
  moodle::MoodlePoller::Options options;
  options.retry_initial = 40ms;
  auto& poller = h.poller(options);
  poller.start();
  // Rounds 1 and 2 fail; round 3 comes after ~20-40 ms and ~40-80 ms of
  // backoff, not after the hour of `interval`.
  REQUIRE(test::run_io_until(h.io, [&] { return h.learners() == 2; }, 10s));
  CHECK(poller.rounds() == 3);
  CHECK(moodle.server().request_count() == 3);
  // Then it waits the full interval: nothing more happens meanwhile.
  test::run_io_until(h.io, [] { return false; }, 200ms);
  CHECK(moodle.server().request_count() == 3);
  poller.stop();
  // A stopped poller lets the io_context run dry.
  h.io.restart();
  CHECK(test::run_io_until(h.io, [&] { return h.io.stopped(); }, 5s));
}

TEST_CASE("moodle poller: disabled or without courses, start() does nothing", "[moodle][poller]") {
  FakeMoodle moodle;
  PollerHarness h(moodle);
  h.config.enabled = false;
  h.poller().start();
  test::run_io_until(h.io, [] { return false; }, 100ms);
  CHECK(moodle.server().request_count() == 0);
}
