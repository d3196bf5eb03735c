#include "adapters/lms/moodle/moodle_mapping.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_set>

namespace relance::moodle {

namespace {

std::string trim(std::string_view s) {
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::string lower_ascii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

}  // namespace

std::string learner_id(const User& u) {
  auto idnumber = trim(u.idnumber);
  if (!idnumber.empty()) return idnumber;
  return "moodle:" + std::to_string(u.id);
}

std::string course_cohort(std::int64_t course_id, const MoodleConfig& cfg) {
  if (auto it = cfg.course_cohorts.find(course_id); it != cfg.course_cohorts.end() && !it->second.empty())
    return it->second;
  return std::to_string(course_id);
}

std::optional<Timestamp> course_activity(const User& u) {
  const auto& at = u.lastcourseaccess ? u.lastcourseaccess : u.lastaccess;
  if (!at || *at <= 0) return std::nullopt;
  return from_unix(*at);
}

MappedCourse map_course(const std::vector<User>& users, std::int64_t course_id, const MoodleConfig& cfg) {
  MappedCourse out;
  std::unordered_set<std::string> seen;
  const auto cohort = course_cohort(course_id, cfg);
  for (const auto& u : users) {
    if (!u.roles) {
      out.notes.push_back("user " + std::to_string(u.id) + ": no roles returned, cannot tell a learner; left out");
      continue;
    }
    const bool kept = std::any_of(cfg.roles.begin(), cfg.roles.end(), [&](const std::string& r) { return u.has_role(r); });
    if (!kept) {
      ++out.ignored_roles;
      continue;
    }
    LearnerUpdate up;
    up.moodle_user_id = u.id;
    up.learner.id = learner_id(u);
    if (!seen.insert(up.learner.id).second) {
      out.notes.push_back("user " + std::to_string(u.id) + ": learner id already used by another user of course " +
                          std::to_string(course_id) + "; left out");
      continue;
    }
    up.learner.first_name = trim(u.firstname);
    up.learner.last_name = trim(u.lastname);
    if (up.learner.first_name.empty() && up.learner.last_name.empty()) up.learner.last_name = trim(u.fullname);
    // Moodle compares emails case-insensitively on MySQL and not on PostgreSQL
    // (NOTES §3); store one form.
    up.learner.email = lower_ascii(trim(u.email));
    up.learner.cohort = cohort;
    // Moodle does not tell the language here: leave it empty so an update
    // keeps the stored one (the store uses "fr" for a new learner).
    up.learner.language.clear();
    up.phone_raw = trim(u.phone1);
    up.lms_activity = course_activity(u);
    out.updates.push_back(std::move(up));
  }
  return out;
}

}  // namespace relance::moodle
