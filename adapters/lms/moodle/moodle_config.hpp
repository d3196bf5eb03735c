// [moodle]: the web services the poller reads. The app reads it from the
// configuration file (bot/app/config.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace relance::moodle {

struct MoodleConfig {
  bool enabled = false;
  std::string url;             // https://moodle.example.org (server.php is appended)
  std::string token;           // RELANCE_MOODLE_TOKEN
  std::vector<std::int64_t> courses;
  std::vector<std::string> roles{"student"};  // roles[].shortname kept
  std::map<std::int64_t, std::string> course_cohorts;  // course id -> cohort (default: course id)
  std::chrono::minutes interval{60};
  std::string ca_file;         // optional extra CA bundle
};

}  // namespace relance::moodle
