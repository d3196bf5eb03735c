#include "adapters/lms/moodle/moodle_wire.hpp"

#include <nlohmann/json.hpp>

namespace relance::moodle {

using nlohmann::json;

namespace {

// Optional string: absent or null -> empty. Another type is malformed.
void get_string(const json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  out = it->get<std::string>();
}

// Optional Unix time. Moodle sends integers; a null is treated as absent.
void get_time(const json& j, const char* key, std::optional<std::int64_t>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_number_integer())
    throw json::type_error::create(302, std::string("field '") + key + "' is not an integer", &*it);
  out = it->get<std::int64_t>();
}

}  // namespace

bool User::has_role(std::string_view shortname) const {
  if (!roles) return false;
  for (const auto& r : *roles)
    if (r.shortname == shortname) return true;
  return false;
}

void from_json(const json& j, Role& r) {
  r.roleid = j.value("roleid", std::int64_t{0});
  get_string(j, "name", r.name);
  r.shortname = j.at("shortname").get<std::string>();
}

void from_json(const json& j, User& u) {
  if (!j.is_object()) throw json::type_error::create(302, "user entry is not an object", &j);
  const auto& id = j.at("id");
  if (!id.is_number_integer()) throw json::type_error::create(302, "field 'id' is not an integer", &id);
  u.id = id.get<std::int64_t>();
  get_string(j, "username", u.username);
  get_string(j, "firstname", u.firstname);
  get_string(j, "lastname", u.lastname);
  get_string(j, "fullname", u.fullname);
  get_string(j, "email", u.email);
  get_string(j, "phone1", u.phone1);
  get_string(j, "idnumber", u.idnumber);
  get_time(j, "firstaccess", u.firstaccess);
  get_time(j, "lastaccess", u.lastaccess);
  get_time(j, "lastcourseaccess", u.lastcourseaccess);
  if (auto it = j.find("roles"); it != j.end() && !it->is_null()) u.roles = it->get<std::vector<Role>>();
}

std::string_view to_string(MoodleError::Kind k) {
  switch (k) {
    case MoodleError::Kind::transport: return "transport";
    case MoodleError::Kind::http: return "http";
    case MoodleError::Kind::response: return "response";
    case MoodleError::Kind::moodle: return "moodle";
  }
  return "moodle";
}

std::optional<MoodleError> decode_exception(const json& j) {
  if (!j.is_object() || !j.contains("exception")) return std::nullopt;
  MoodleError e;
  e.kind = MoodleError::Kind::moodle;
  auto str = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  e.exception = str("exception");
  e.code = str("errorcode");
  e.message = str("message");
  e.debuginfo = str("debuginfo");
  // Some exception classes carry no errorcode; the class is the next best key.
  if (e.code.empty()) e.code = e.exception.empty() ? "unknown" : e.exception;
  return e;
}

EnrolledUsersResult decode_enrolled_users(std::string_view body) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    // The default REST format is XML: an HTML or XML body here usually means
    // a proxy's error page or a missing moodlewsrestformat=json.
    return MoodleError{MoodleError::Kind::response, "bad_json", "the answer is not JSON", {}, {}, 200};
  }
  if (auto e = decode_exception(doc)) return *e;
  if (!doc.is_array())
    return MoodleError{MoodleError::Kind::response, "unexpected_response",
                       std::string("expected an array of users, got ") + doc.type_name(), {}, {}, 200};

  EnrolledUsers out;
  out.users.reserve(doc.size());
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto& entry = doc[i];
    try {
      out.users.push_back(entry.get<User>());
    } catch (const json::exception& e) {
      SkippedUser s;
      s.index = i;
      if (entry.is_object())
        if (auto it = entry.find("id"); it != entry.end() && it->is_number_integer()) s.id = it->get<std::int64_t>();
      s.reason = e.what();
      out.skipped.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace relance::moodle
