// The configuration: one TOML file, secrets overridable by RELANCE_* environment
// variables, validated at start with file:line:column errors.
#pragma once

#include "adapters/chat/route.hpp"
#include "adapters/email/email.hpp"
#include "adapters/email/imap.hpp"
#include "adapters/lms/moodle/moodle_config.hpp"
#include "adapters/matrix/matrix_config.hpp"
#include "adapters/mattermost/mattermost_config.hpp"
#include "adapters/sms/http/http_gateway.hpp"
#include "adapters/sms/kannel/kannel.hpp"
#include "adapters/sms/twilio/twilio.hpp"
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

// One column of activity dates in a generic CSV ([import.generic.activity]):
// a driving school's export has one per sign of life (procedure 001).
struct ActivityColumn {
  std::string column;                     // the header, as configured
  Source source = Source::lms;
  std::vector<std::string> date_formats;  // empty: the mapping's date_formats
};

// Column mapping of the generic CSV import. Empty = column absent.
struct CsvMapping {
  std::string id;
  std::string first_name;
  std::string last_name;
  std::string full_name;      // alternative to first/last ("Prénom / Nom")
  std::string email;
  std::string phone;
  std::string matrix;         // the learner's Matrix id, @localpart:server
  std::string cohort;
  std::string start_date;
  std::string last_activity;  // the single-column form: its source is `source` or default_source
  std::string source;         // column holding the source name, per row
  std::string default_source = "lms";  // when `source` is empty or absent
  std::string default_cohort;
  // Date formats accepted in date columns, strptime-like, tried in order.
  std::vector<std::string> date_formats{"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                                        "%Y-%m-%d", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"};
  // Several activity columns, each with its source (sorted by column name).
  std::vector<ActivityColumn> activity;
};

// Moodle's Participants export ([import.moodle]). The web-services poller
// filters by role shortnames ([moodle] roles); the export shows role names
// as the site displays them, which sites rename ("Stagiaire", "Apprenant").
struct MoodleExportConfig {
  std::vector<std::string> student_roles{"Étudiant", "Student"};
};

struct HttpConfig {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_body_bytes = 1 << 20;
  std::string api_token;       // RELANCE_API_TOKEN; empty disables /api/v1
  // Slow or hostile clients: open connections at once, in all and from one
  // address (behind a reverse proxy every client is the proxy's address),
  // and request bodies held in memory at once across connections.
  std::size_t max_connections = 512;
  std::size_t max_connections_per_client = 64;
  std::size_t max_body_bytes_in_flight = 64u << 20;
};

// Each adapter owns its settings; the configuration composes them.
using ChatRoute = chat::ChatRoute;
using MoodleConfig = moodle::MoodleConfig;
using MattermostConfig = mattermost::MattermostConfig;
using MatrixConfig = matrix::MatrixConfig;

// SMS to learners through one gateway. Quiet hours: [contact_window].
struct SmsConfig {
  std::string gateway;          // "" (no SMS), "kannel", "twilio", "http"
  int max_parts = 3;            // longer texts are refused (templates: by check-config)
  double rate_per_second = 5;   // at most this many sends a second
  std::string region = "FR";    // national numbers in replies
  sms::kannel::KannelConfig kannel;
  sms::twilio::TwilioConfig twilio;
  sms::http::HttpGatewayConfig http;
  bool enabled() const { return !gateway.empty(); }
};

// Email to learners through SMTP.
struct EmailConfig {
  bool enabled = false;
  email::SmtpConfig smtp;       // url, require_tls, username, password (RELANCE_SMTP_PASSWORD), from, ca_file, timeout
  std::string reply_to;         // where learners' answers go (a staff mailbox)
  double rate_per_second = 2;
  // [email.imap]: the mailbox reply_to delivers to, read for learners'
  // answers (url empty: not read; staff read it themselves).
  email::ImapConfig imap;
  bool reads_replies() const { return enabled && !imap.url.empty(); }
};

// Escalation of unclaimed alerts and the daily digest of overdue tasks.
struct EscalationConfig {
  bool enabled = false;
  std::vector<std::string> chain;          // roles in order: secretariat -> pedagogie -> direction
  std::chrono::minutes claim_within{240};  // business time an alert may stay unclaimed
  BusinessHours hours;                     // holidays follow [contact_window]
  std::optional<std::chrono::minutes> digest_at;  // daily digest of overdue tasks, local time
};

struct Config {
  std::filesystem::path source_file;  // where it was read from (empty: defaults)
  std::string organisation = "Organisme de formation";
  bool organisation_named = false;    // [organisation] name was given (not the default above)
  std::string timezone = "Europe/Paris";
  std::string platform_url;           // link given to learners
  std::filesystem::path database = "relance.db";
  std::filesystem::path messages_dir; // empty: the shipped messages
  std::string default_language = "fr";
  ContactWindow contact_window;
  HttpConfig http;
  MoodleConfig moodle;
  MattermostConfig mattermost;
  MatrixConfig matrix;
  EscalationConfig escalation;
  SmsConfig sms;
  EmailConfig email;
  CsvMapping csv;
  MoodleExportConfig moodle_export;
  std::vector<StaffMember> staff;
  std::map<std::string, std::string> role_labels;  // role id -> "Secrétariat"
  std::vector<Policy> policies;       // plans resolved into each policy
  std::string console_staff;          // who the console user acts as
  std::chrono::days return_window{14};  // "returned" when active within this after a relaunch
  std::chrono::days task_due{2};        // a staff task is overdue after this

  const StaffMember* find_staff(std::string_view id) const;
  // The staff member behind a chat user (Mattermost username, Matrix id), if any.
  const StaffMember* find_staff_by_chat(std::string_view network, std::string_view user) const;
};

// Reads and validates a file. Throws ConfigError.
Config load_config(const std::filesystem::path& file);
// Parses TOML text (tests); `name` is used in errors.
Config parse_config(std::string_view toml_text, const std::string& name);
// Applies RELANCE_* environment overrides (RELANCE_API_TOKEN, RELANCE_MOODLE_TOKEN,
// RELANCE_DATABASE, ...). Called by load_config.
void apply_env_overrides(Config& c);
// What the service still lacks to run the configured integrations (secrets
// that come from the environment, so only known after apply_env_overrides):
// "mattermost: no bot token (bot_token or RELANCE_MATTERMOST_TOKEN)". Empty
// when everything needed is there.
std::vector<std::string> missing_secrets(const Config& c);
// What a training organisation's configuration must say and does not:
// "[organisation] has no 'name' (...)". check-config refuses a
// configuration with any. Empty when nothing is missing.
std::vector<std::string> missing_organisation(const Config& c);
// The learner channels this configuration can send on: [sms] with a
// gateway, [email], [matrix] with learners on.
ChannelSet learner_channels(const Config& c);
// One line per plan step that messages learners on a channel that is not
// configured (such a step becomes a staff task): "plan \"ladder\" step 1:
// sms, but [sms] is not configured: staff get a task instead". check-config
// prints them; serve, scan and import log them as warnings.
std::vector<std::string> unconfigured_channel_warnings(const Config& c);
// The effective configuration as TOML, secrets masked.
std::string describe(const Config& c);

}  // namespace relance::app
