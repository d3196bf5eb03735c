// Calls to Moodle's REST web services (NOTES §1): POST form-encoded to
// <site>/webservice/rest/server.php with wstoken, wsfunction and
// moodlewsrestformat=json (the default format is XML).
#pragma once

#include "adapters/common/form.hpp"
#include "adapters/common/http_client.hpp"
#include "adapters/lms/moodle/moodle_wire.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace relance::moodle {

// The fields asked for through `userfields`: what mapping reads, and roles
// to tell learners from teachers. Fewer fields, smaller answers.
inline constexpr std::string_view enrolled_user_fields =
    "id,username,firstname,lastname,fullname,email,phone1,idnumber,firstaccess,lastaccess,lastcourseaccess,roles";

class MoodleClient {
public:
  // `base_url`: the site, e.g. https://moodle.example.org (a trailing '/' or
  // a path prefix such as /moodle is fine). `token` is never logged.
  MoodleClient(net::HttpClient& http, std::string base_url, std::string token,
               std::chrono::milliseconds timeout = std::chrono::seconds{30});

  // core_enrol_get_enrolled_users for one course.
  boost::asio::awaitable<EnrolledUsersResult> async_enrolled_users(std::int64_t course_id);

  // Any function: the JSON body of an HTTP 200, or why not. Moodle's own
  // exception objects are left for the caller's decoder (they come with 200).
  boost::asio::awaitable<std::variant<std::string, MoodleError>> async_call(std::string_view function,
                                                                            net::FormFields params);

  static std::string endpoint(std::string_view base_url);
  // The whole form, token included (tests compare it; never log it).
  static net::FormFields enrolled_users_form(std::string_view token, std::int64_t course_id);

private:
  net::HttpClient& http_;
  std::string endpoint_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace relance::moodle
