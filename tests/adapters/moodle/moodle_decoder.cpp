// The decoder and the mapping on payloads recorded from the NOTES
// (../shared/specs/moodle/NOTES.md §2, §3).
#include "adapters/lms/moodle/moodle_client.hpp"
#include "adapters/lms/moodle/moodle_mapping.hpp"
#include "adapters/lms/moodle/moodle_wire.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::moodle;

namespace {

// NOTES §3, core_enrol_get_enrolled_users example.
constexpr const char* notes_enrolled_users = R"json([
  {"id": 231, "username": "c.martin", "firstname": "Camille", "lastname": "Martin",
   "fullname": "Camille Martin", "email": "camille.martin@example.org",
   "phone1": "0612345678", "department": "", "idnumber": "STG-2026-014",
   "firstaccess": 1767261600, "lastaccess": 1778493045, "lastcourseaccess": 1777901230,
   "profileimageurlsmall": "https://moodle.example.org/theme/image.php/boost/core/1/u/f2",
   "profileimageurl": "https://moodle.example.org/theme/image.php/boost/core/1/u/f1",
   "roles": [{"roleid": 5, "name": "", "shortname": "student", "sortorder": 0}],
   "groups": [], "enrolledcourses": [{"id": 42, "fullname": "Code de la route — session mai", "shortname": "CODE-0526"}]},
  {"id": 232, "username": "l.petit", "firstname": "Lucas", "lastname": "Petit",
   "fullname": "Lucas Petit", "email": "lucas.petit@example.org",
   "firstaccess": 0, "lastaccess": 0, "lastcourseaccess": 0,
   "roles": [{"roleid": 5, "name": "", "shortname": "student", "sortorder": 0}]},
  {"id": 12, "username": "formateur1", "fullname": "Anne Leroy", "firstname": "Anne", "lastname": "Leroy",
   "lastaccess": 1778500000, "lastcourseaccess": 1778499000,
   "roles": [{"roleid": 3, "name": "", "shortname": "editingteacher", "sortorder": 0}]}
])json";

const EnrolledUsers& users_of(const EnrolledUsersResult& r) {
  REQUIRE(std::holds_alternative<EnrolledUsers>(r));
  return std::get<EnrolledUsers>(r);
}

const MoodleError& error_of(const EnrolledUsersResult& r) {
  REQUIRE(std::holds_alternative<MoodleError>(r));
  return std::get<MoodleError>(r);
}

moodle::MoodleConfig config_for(std::int64_t course) {
  moodle::MoodleConfig cfg;
  cfg.enabled = true;
  cfg.courses = {course};
  return cfg;
}

}  // namespace

TEST_CASE("moodle decoder reads the NOTES' enrolled users", "[moodle][decoder]") {
  const auto r = decode_enrolled_users(notes_enrolled_users);
  const auto& users = users_of(r).users;
  REQUIRE(users.size() == 3);
  CHECK(users_of(r).skipped.empty());

  const auto& camille = users[0];
  CHECK(camille.id == 231);
  CHECK(camille.firstname == "Camille");
  CHECK(camille.lastname == "Martin");
  CHECK(camille.email == "camille.martin@example.org");
  CHECK(camille.phone1 == "0612345678");
  CHECK(camille.idnumber == "STG-2026-014");
  CHECK(camille.lastaccess == 1778493045);
  CHECK(camille.lastcourseaccess == 1777901230);
  CHECK(camille.has_role("student"));

  const auto& lucas = users[1];
  CHECK(lucas.phone1.empty());  // absent: empty or not visible
  CHECK(lucas.idnumber.empty());
  CHECK(lucas.lastcourseaccess == 0);

  CHECK(users[2].has_role("editingteacher"));
  CHECK_FALSE(users[2].has_role("student"));
}

TEST_CASE("moodle decoder turns every documented exception into a value", "[moodle][decoder]") {
  struct Case {
    const char* body;
    const char* exception;
    const char* errorcode;
  };
  const Case cases[] = {
      {R"({"exception":"moodle_exception","errorcode":"invalidtoken","message":"Invalid token - token not found"})",
       "moodle_exception", "invalidtoken"},
      {R"({"exception":"webservice_access_exception","errorcode":"accessexception","message":"Access control exception"})",
       "webservice_access_exception", "accessexception"},
      {R"({"exception":"required_capability_exception","errorcode":"nopermissions","message":"Sorry, but you do not currently have permissions to do that (View participants)."})",
       "required_capability_exception", "nopermissions"},
      {R"({"exception": "dml_missing_record_exception", "errorcode": "invalidrecord",
           "message": "Can't find data record in database table course."})",
       "dml_missing_record_exception", "invalidrecord"},
      {R"({"exception":"invalid_parameter_exception","errorcode":"invalidparameter","message":"Invalid parameter value detected","debuginfo":"courseid => Missing required key"})",
       "invalid_parameter_exception", "invalidparameter"},
  };
  for (const auto& c : cases) {
    INFO(c.errorcode);
    const auto r = decode_enrolled_users(c.body);
    const auto& e = error_of(r);
    CHECK(e.kind == MoodleError::Kind::moodle);
    CHECK(e.exception == c.exception);
    CHECK(e.code == c.errorcode);
    CHECK_FALSE(e.message.empty());
  }
  const auto with_debug = decode_enrolled_users(cases[4].body);
  CHECK(error_of(with_debug).debuginfo == "courseid => Missing required key");
}

TEST_CASE("moodle decoder refuses what is not a JSON list of users", "[moodle][decoder]") {
  CHECK(error_of(decode_enrolled_users("<?xml version=\"1.0\"?><RESPONSE/>")).code == "bad_json");
  CHECK(error_of(decode_enrolled_users("")).code == "bad_json");
  CHECK(error_of(decode_enrolled_users(R"({"users":[]})")).code == "unexpected_response");
  CHECK(error_of(decode_enrolled_users("null")).code == "unexpected_response");
  CHECK(users_of(decode_enrolled_users("[]")).users.empty());
}

TEST_CASE("moodle decoder skips one malformed user, not the batch", "[moodle][decoder]") {
  const auto r = decode_enrolled_users(R"json([
    {"id": 1, "fullname": "A B", "roles": [{"roleid": 5, "shortname": "student"}]},
    {"fullname": "no id"},
    {"id": "3", "fullname": "string id"},
    {"id": 4, "fullname": "bad time", "lastcourseaccess": "yesterday"},
    {"id": 5, "fullname": "bad roles", "roles": [{"roleid": 5}]},
    42,
    {"id": 7, "fullname": "fine", "lastaccess": null, "email": null}
  ])json");
  const auto& ok = users_of(r);
  REQUIRE(ok.users.size() == 2);
  CHECK(ok.users[0].id == 1);
  CHECK(ok.users[1].id == 7);
  CHECK_FALSE(ok.users[1].lastaccess.has_value());
  REQUIRE(ok.skipped.size() == 5);
  CHECK(ok.skipped[0].index == 1);
  CHECK_FALSE(ok.skipped[0].id.has_value());
  CHECK(ok.skipped[2].index == 3);
  CHECK(ok.skipped[2].id == 4);
  CHECK_THAT(ok.skipped[2].reason, Catch::Contains("lastcourseaccess"));
  CHECK(ok.skipped[4].index == 5);
}

TEST_CASE("moodle mapping keeps learners and reads last course access", "[moodle][mapping]") {
  auto cfg = config_for(42);
  cfg.course_cohorts[42] = "code-mai-2026";
  const auto decoded = decode_enrolled_users(notes_enrolled_users);
  const auto& users = users_of(decoded).users;
  const auto mapped = map_course(users, 42, cfg);
  REQUIRE(mapped.updates.size() == 2);  // the teacher is left out
  CHECK(mapped.ignored_roles == 1);
  CHECK(mapped.notes.empty());

  const auto& camille = mapped.updates[0];
  CHECK(camille.learner.id == "STG-2026-014");  // idnumber when set
  CHECK(camille.learner.first_name == "Camille");
  CHECK(camille.learner.last_name == "Martin");
  CHECK(camille.learner.email == "camille.martin@example.org");
  CHECK(camille.learner.cohort == "code-mai-2026");
  CHECK(camille.learner.phone.empty());  // normalised when applied
  CHECK(camille.phone_raw == "0612345678");
  REQUIRE(camille.lms_activity.has_value());
  CHECK(to_unix(*camille.lms_activity) == 1777901230);  // the course, not the site

  const auto& lucas = mapped.updates[1];
  CHECK(lucas.learner.id == "moodle:232");
  CHECK_FALSE(lucas.lms_activity.has_value());  // 0 = never: no activity

  SECTION("cohort defaults to the course id") {
    cfg.course_cohorts.clear();
    CHECK(map_course(users, 42, cfg).updates[0].learner.cohort == "42");
  }
  SECTION("configured roles decide who is a learner") {
    cfg.roles = {"student", "editingteacher"};
    CHECK(map_course(users, 42, cfg).updates.size() == 3);
  }
}

TEST_CASE("moodle mapping: never in the course is never, whatever the site says", "[moodle][mapping]") {
  User u;
  u.id = 9;
  u.lastaccess = 1778500000;
  u.lastcourseaccess = 0;
  CHECK_FALSE(course_activity(u).has_value());
  u.lastcourseaccess.reset();  // hidden field or old site: fall back on the site
  REQUIRE(course_activity(u).has_value());
  CHECK(to_unix(*course_activity(u)) == 1778500000);
  u.lastaccess = 0;
  CHECK_FALSE(course_activity(u).has_value());
}

TEST_CASE("moodle mapping leaves out users it cannot classify or tell apart", "[moodle][mapping]") {
  const auto r = decode_enrolled_users(R"json([
    {"id": 1, "fullname": "No Roles"},
    {"id": 2, "fullname": "Same One", "idnumber": "F-1", "roles": [{"roleid": 5, "shortname": "student"}]},
    {"id": 3, "fullname": "Same Two", "idnumber": " F-1 ", "roles": [{"roleid": 5, "shortname": "student"}]},
    {"id": 4, "fullname": "Only Fullname", "email": " Only.Fullname@Example.ORG ", "roles": [{"roleid": 5, "shortname": "student"}]}
  ])json");
  const auto mapped = map_course(users_of(r).users, 7, config_for(7));
  REQUIRE(mapped.updates.size() == 2);
  CHECK(mapped.updates[0].moodle_user_id == 2);
  CHECK(mapped.updates[1].learner.last_name == "Only Fullname");
  CHECK(mapped.updates[1].learner.email == "only.fullname@example.org");
  CHECK(mapped.notes.size() == 2);
}

TEST_CASE("moodle request form follows the REST protocol", "[moodle][client]") {
  CHECK(MoodleClient::endpoint("https://moodle.example.org") == "https://moodle.example.org/webservice/rest/server.php");
  CHECK(MoodleClient::endpoint("https://example.org/moodle/") == "https://example.org/moodle/webservice/rest/server.php");
  const auto form = MoodleClient::enrolled_users_form("tok", 42);
  auto find = [&](std::string_view name) {
    auto* v = net::form_find(form, name);
    return v ? *v : std::string("<absent>");
  };
  CHECK(find("wstoken") == "tok");
  CHECK(find("wsfunction") == "core_enrol_get_enrolled_users");
  CHECK(find("moodlewsrestformat") == "json");
  CHECK(find("courseid") == "42");
  CHECK(find("options[0][name]") == "userfields");
  CHECK_THAT(find("options[0][value]"), Catch::Contains("lastcourseaccess") && Catch::Contains("roles"));
}
