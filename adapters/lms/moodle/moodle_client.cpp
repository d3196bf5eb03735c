#include "adapters/lms/moodle/moodle_client.hpp"

namespace relance::moodle {

namespace {

std::pair<net::Headers, std::string> build_call(const std::string& token, std::string_view function,
                                                net::FormFields params) {
  net::FormFields form{{"wstoken", token}, {"wsfunction", std::string(function)}, {"moodlewsrestformat", "json"}};
  form.insert(form.end(), std::make_move_iterator(params.begin()), std::make_move_iterator(params.end()));
  net::Headers headers{{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  return {std::move(headers), net::form_encode(form)};
}

}  // namespace

MoodleClient::MoodleClient(net::HttpClient& http, std::string base_url, std::string token,
                           std::chrono::milliseconds timeout)
    : http_(http), endpoint_(endpoint(base_url)), token_(std::move(token)), timeout_(timeout) {}

std::string MoodleClient::endpoint(std::string_view base_url) {
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  return std::string(base_url) + "/webservice/rest/server.php";
}

net::FormFields MoodleClient::enrolled_users_form(std::string_view token, std::int64_t course_id) {
  return {
      {"wstoken", std::string(token)},
      {"wsfunction", "core_enrol_get_enrolled_users"},
      {"moodlewsrestformat", "json"},
      {"courseid", std::to_string(course_id)},
      {"options[0][name]", "userfields"},
      {"options[0][value]", std::string(enrolled_user_fields)},
  };
}

boost::asio::awaitable<std::variant<std::string, MoodleError>> MoodleClient::async_call(std::string_view function,
                                                                                        net::FormFields params) {
  // Built by a plain function: g++ 12 miscompiles brace-initialised lists of
  // strings inside a coroutine body ("array used as initializer").
  auto [headers, body] = build_call(token_, function, std::move(params));
  // POST, not GET: the token stays out of the web server's access log (NOTES §1).
  auto res = co_await http_.async_request(net::Method::post, endpoint_, std::move(headers), std::move(body), timeout_);
  if (!res.answered()) {
    MoodleError e;
    e.kind = MoodleError::Kind::transport;
    e.code = std::string(net::to_string(res.failure));
    e.message = res.error;
    co_return e;
  }
  if (res.status != 200) {
    MoodleError e;
    e.kind = MoodleError::Kind::http;
    e.code = "http_" + std::to_string(res.status);
    e.http_status = res.status;
    // An error page says more than the status; keep it short for the log.
    e.message = res.body.substr(0, 200);
    co_return e;
  }
  co_return std::move(res.body);
}

boost::asio::awaitable<EnrolledUsersResult> MoodleClient::async_enrolled_users(std::int64_t course_id) {
  auto form = enrolled_users_form(token_, course_id);
  // async_call adds the first three fields itself.
  form.erase(form.begin(), form.begin() + 3);
  auto body = co_await async_call("core_enrol_get_enrolled_users", std::move(form));
  if (auto* e = std::get_if<MoodleError>(&body)) co_return *e;
  co_return decode_enrolled_users(std::get<std::string>(body));
}

}  // namespace relance::moodle
