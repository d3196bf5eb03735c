// Moodle web-service wire types, separate from the domain's Learner (mtxclient
// habit): they say what Moodle sends, nothing more. Field names are Moodle's
// (../shared/specs/moodle/NOTES.md §3). Decoding a list skips one bad entry
// and goes on; a call that failed is a MoodleError value, never an exception.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace relance::moodle {

struct Role {
  std::int64_t roleid = 0;
  std::string name;       // "" when the role keeps its default name
  std::string shortname;  // "student", "editingteacher", ...
};

// One entry of core_enrol_get_enrolled_users. Every key but `id` (and
// `fullname`) is optional: absent when empty, not requested (`userfields`)
// or not visible to the token user.
struct User {
  std::int64_t id = 0;
  std::string username;
  std::string firstname;
  std::string lastname;
  std::string fullname;
  std::string email;
  std::string phone1;
  std::string idnumber;
  // Unix seconds; 0 = never; absent = not returned (hidden field, old site).
  std::optional<std::int64_t> firstaccess;
  std::optional<std::int64_t> lastaccess;        // the site
  std::optional<std::int64_t> lastcourseaccess;  // this course
  std::optional<std::vector<Role>> roles;        // absent: cannot tell the role

  bool has_role(std::string_view shortname) const;
};

// Throws nlohmann::json exceptions on a missing `id` or a wrongly typed field.
void from_json(const nlohmann::json& j, Role& r);
void from_json(const nlohmann::json& j, User& u);

// Why a call gave no usable answer.
struct MoodleError {
  enum class Kind : std::uint8_t {
    transport,  // no HTTP answer: code is the net::Failure name ("timeout", "connect", "tls", ...)
    http,       // an HTTP status other than 200: code is "http_<status>"
    response,   // HTTP 200 but not the JSON we expect: code "bad_json" or "unexpected_response"
    moodle,     // Moodle's exception object: code is its `errorcode` ("invalidtoken", ...)
  };
  Kind kind = Kind::moodle;
  std::string code;
  std::string message;    // Moodle's (localised) message, or our detail
  std::string exception;  // Moodle's PHP exception class, for Kind::moodle
  std::string debuginfo;  // only when the site has developer debugging on
  int http_status = 0;
};
std::string_view to_string(MoodleError::Kind k);

// Moodle answers errors with HTTP 200 and `{"exception":..,"errorcode":..}`
// (NOTES §2): the presence of `exception` is the test.
std::optional<MoodleError> decode_exception(const nlohmann::json& j);

struct SkippedUser {
  std::size_t index = 0;
  std::optional<std::int64_t> id;  // when the entry had a readable id
  std::string reason;              // the decoder's message (a field name, no personal data)
};

struct EnrolledUsers {
  std::vector<User> users;
  std::vector<SkippedUser> skipped;  // malformed entries, left out
};

using EnrolledUsersResult = std::variant<EnrolledUsers, MoodleError>;

// The body of a core_enrol_get_enrolled_users answer.
EnrolledUsersResult decode_enrolled_users(std::string_view body);

}  // namespace relance::moodle
