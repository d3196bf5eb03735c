// The configuration: one TOML file, secrets overridable by RELANCE_* environment
// variables, validated at start with file:line:column errors.
#pragma once

#include "bot/domain/policy.hpp"
#include "bot/domain/time.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace relance::app {

// A configuration error: where, and why. what() is "file:line:column: reason".
class ConfigError : public std::runtime_error {
public:
  ConfigError(std::string file, int line, int column, std::string reason);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& reason() const { return reason_; }

private:
  std::string file_;
  int line_;
  int column_;
  std::string reason_;
};

struct StaffMember {
  std::string id;                  // used in commands and the journal
  std::string name;
  std::vector<std::string> roles;  // e.g. "secretariat", "pedagogie", "direction"
  std::string mattermost;          // chat user names (staff-chat issue)
  std::string matrix;
};

// Column mapping of the generic CSV import. Empty = column absent.
struct CsvMapping {
  std::string id;
  std::string first_name;
  std::string last_name;
  std::string full_name;      // alternative to first/last ("Prénom / Nom")
  std::string email;
  std::string phone;
  std::string cohort;
  std::string start_date;
  std::string last_activity;
  std::string source;         // column holding the source name, per row
  std::string default_source = "lms";  // when `source` is empty or absent
  std::string default_cohort;
  // Date formats accepted in date columns, strptime-like, tried in order.
  std::vector<std::string> date_formats{"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                                        "%Y-%m-%d", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"};
};

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

struct HttpConfig {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_body_bytes = 1 << 20;
  std::string api_token;       // RELANCE_API_TOKEN; empty disables /api/v1
};

struct Config {
  std::filesystem::path source_file;  // where it was read from (empty: defaults)
  std::string organisation = "Organisme de formation";
  std::string timezone = "Europe/Paris";
  std::string platform_url;           // link given to learners
  std::filesystem::path database = "relance.db";
  std::filesystem::path messages_dir; // empty: the shipped messages
  std::string default_language = "fr";
  ContactWindow contact_window;
  HttpConfig http;
  MoodleConfig moodle;
  CsvMapping csv;
  std::vector<StaffMember> staff;
  std::map<std::string, std::string> role_labels;  // role id -> "Secrétariat"
  std::vector<Policy> policies;       // plans resolved into each policy
  std::string console_staff;          // who the console user acts as
  std::chrono::days return_window{14};  // "returned" when active within this after a relaunch
  std::chrono::days task_due{2};        // a staff task is overdue after this

  const StaffMember* find_staff(std::string_view id) const;
};

// Reads and validates a file. Throws ConfigError.
Config load_config(const std::filesystem::path& file);
// Parses TOML text (tests); `name` is used in errors.
Config parse_config(std::string_view toml_text, const std::string& name);
// Applies RELANCE_* environment overrides (RELANCE_API_TOKEN, RELANCE_MOODLE_TOKEN,
// RELANCE_DATABASE, ...). Called by load_config.
void apply_env_overrides(Config& c);
// The effective configuration as TOML, secrets masked.
std::string describe(const Config& c);

}  // namespace relance::app
