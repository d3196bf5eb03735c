#include "fake_moodle.hpp"

#include <sstream>

namespace relance::test {

using nlohmann::json;

namespace {

const std::set<std::string>& known_functions() {
  static const std::set<std::string> all{"core_enrol_get_enrolled_users", "core_webservice_get_site_info",
                                         "core_course_get_courses", "core_user_get_users_by_field"};
  return all;
}

FakeResponse exception(std::string cls, std::string code, std::string message, std::string debuginfo = {}) {
  // NOTES §2: the REST server answers errors with HTTP 200.
  json j{{"exception", std::move(cls)}, {"errorcode", std::move(code)}, {"message", std::move(message)}};
  if (!debuginfo.empty()) j["debuginfo"] = std::move(debuginfo);
  return FakeResponse{200, "application/json", {}, j.dump(), false, false};
}

FakeResponse json_answer(const json& j) { return FakeResponse{200, "application/json", {}, j.dump(), false, false}; }

// PHP bracket notation: options[0][name]=userfields&options[0][value]=...
std::map<std::string, std::string> options_of(const net::FormFields& params) {
  std::map<std::string, std::string> names, values, out;
  for (const auto& [k, v] : params) {
    if (k.rfind("options[", 0) != 0) continue;
    auto close = k.find(']');
    if (close == std::string::npos) continue;
    auto index = k.substr(8, close - 8);
    auto rest = k.substr(close + 1);
    if (rest == "[name]") names[index] = v;
    if (rest == "[value]") values[index] = v;
  }
  for (const auto& [i, name] : names) out[name] = values.count(i) ? values[i] : std::string{};
  return out;
}

std::set<std::string> split_fields(const std::string& s) {
  std::set<std::string> out;
  std::stringstream ss(s);
  std::string f;
  while (std::getline(ss, f, ','))
    if (!f.empty()) out.insert(f);
  return out;
}

}  // namespace

FakeMoodle::FakeMoodle(std::string token)
    : token_(std::move(token)),
      functions_(known_functions()),
      server_([this](const FakeRequest& r) { return handle(r); }) {}

void FakeMoodle::add_course(std::int64_t id) {
  std::lock_guard lock(mutex_);
  courses_[id];
}

void FakeMoodle::add_user(std::int64_t course, json user) {
  std::lock_guard lock(mutex_);
  courses_[course].push_back(std::move(user));
}

void FakeMoodle::add_raw_entry(std::int64_t course, json entry) {
  std::lock_guard lock(mutex_);
  courses_[course];
  raw_[course].push_back(std::move(entry));
}

void FakeMoodle::clear_users(std::int64_t course) {
  std::lock_guard lock(mutex_);
  courses_[course].clear();
  raw_[course].clear();
}

void FakeMoodle::set_service_functions(std::set<std::string> functions) {
  std::lock_guard lock(mutex_);
  functions_ = std::move(functions);
}

void FakeMoodle::set_can_view_participants(bool can) {
  std::lock_guard lock(mutex_);
  can_view_participants_ = can;
}

void FakeMoodle::set_hidden_fields(std::set<std::string> fields) {
  std::lock_guard lock(mutex_);
  hidden_ = std::move(fields);
}

void FakeMoodle::fail_http(int status, int count) {
  std::lock_guard lock(mutex_);
  fail_status_ = status;
  fail_count_ = count;
}

std::vector<FakeMoodle::Call> FakeMoodle::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

json FakeMoodle::user(std::int64_t id, std::string firstname, std::string lastname, std::string role) {
  json u{{"id", id},
         {"username", firstname.substr(0, 1) + "." + lastname},
         {"firstname", firstname},
         {"lastname", lastname},
         {"fullname", firstname + " " + lastname},
         {"email", firstname + "." + lastname + "@example.org"},
         {"firstaccess", 0},
         {"lastaccess", 0},
         {"lastcourseaccess", 0},
         {"roles", json::array({{{"roleid", role == "student" ? 5 : 3}, {"name", ""}, {"shortname", role}, {"sortorder", 0}}})}};
  return u;
}

FakeResponse FakeMoodle::handle(const FakeRequest& req) {
  std::lock_guard lock(mutex_);
  if (req.path != "/webservice/rest/server.php")
    return FakeResponse{404, "text/html", {}, "<html><body>Not found</body></html>", false, false};
  if (fail_count_ > 0) {
    --fail_count_;
    return FakeResponse{fail_status_, "text/html", {}, "<html><body>Bad gateway</body></html>", false, false};
  }
  // GET with the same parameters also works (NOTES §1).
  auto params = net::form_decode(req.method == "GET" ? req.query : req.body);
  Call call;
  call.http_method = req.method;
  call.content_type = req.header("Content-Type");
  call.params = params;
  if (auto* f = net::form_find(params, "wsfunction")) call.wsfunction = *f;
  if (auto* f = net::form_find(params, "moodlewsrestformat")) call.format = *f;
  calls_.push_back(call);

  if (call.format != "json") {
    // The default format is XML; a client that forgets the parameter gets this.
    return FakeResponse{200, "application/xml", {}, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE></RESPONSE>\n",
                        false, false};
  }
  auto* token = net::form_find(params, "wstoken");
  if (!token || *token != token_)
    return exception("moodle_exception", "invalidtoken", "Invalid token - token not found");
  if (!known_functions().count(call.wsfunction))
    return exception("dml_missing_record_exception", "invalidrecord",
                     "Can't find data record in database table external_functions.");
  if (!functions_.count(call.wsfunction))
    return exception("webservice_access_exception", "accessexception", "Access control exception");
  if (call.wsfunction == "core_enrol_get_enrolled_users") return enrolled_users(params);
  if (call.wsfunction == "core_webservice_get_site_info") {
    json fns = json::array();
    for (const auto& f : functions_) fns.push_back({{"name", f}, {"version", "2024042200"}});
    return json_answer({{"sitename", "Fake Moodle"}, {"username", "relance-bot"}, {"userid", 2},
                        {"release", "4.4 (Build: 20240422)"}, {"version", "2024042200"}, {"functions", fns}});
  }
  return exception("coding_exception", "codingerror", "Coding error detected, it must be fixed by a programmer");
}

FakeResponse FakeMoodle::enrolled_users(const net::FormFields& params) {
  auto* course = net::form_find(params, "courseid");
  if (!course || course->empty() || course->find_first_not_of("0123456789") != std::string::npos)
    return exception("invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected",
                     "courseid => Invalid parameter value detected: Missing required key in single structure: courseid");
  const auto id = std::stoll(*course);
  auto it = courses_.find(id);
  if (it == courses_.end())
    return exception("dml_missing_record_exception", "invalidrecord",
                     "Can't find data record in database table course.");
  if (!can_view_participants_)
    return exception("required_capability_exception", "nopermissions",
                     "Sorry, but you do not currently have permissions to do that (View participants).");

  auto options = options_of(params);
  std::set<std::string> wanted;
  if (auto f = options.find("userfields"); f != options.end()) {
    wanted = split_fields(f->second);
    wanted.insert("id");  // always added (NOTES §3)
    wanted.insert("fullname");
  }
  json out = json::array();
  for (const auto& u : it->second) {
    json v = json::object();
    for (const auto& [k, val] : u.items()) {
      if (!wanted.empty() && !wanted.count(k)) continue;
      if (hidden_.count(k)) continue;
      // user_get_user_details() leaves these out when empty (NOTES §3).
      static const std::set<std::string> dropped_when_empty{"email", "phone1", "phone2", "idnumber"};
      if (val.is_string() && val.get<std::string>().empty() && dropped_when_empty.count(k)) continue;
      v[k] = val;
    }
    out.push_back(std::move(v));
  }
  if (auto r = raw_.find(id); r != raw_.end())
    for (const auto& e : r->second) out.push_back(e);
  return json_answer(out);
}

}  // namespace relance::test
