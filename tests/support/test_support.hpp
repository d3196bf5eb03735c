// Shared test helpers: temporary folders, a migrated database, a fake clock.
#pragma once

#include "bot/app/config.hpp"
#include "bot/app/engine.hpp"
#include "bot/domain/time.hpp"
#include "messages/catalog.hpp"
#include "store/database.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace relance::test {

void write_file(const std::filesystem::path& p, std::string_view bytes);
std::string read_file(const std::filesystem::path& p);

// A shell command's exit status (-1: did not exit normally) and its output,
// stderr included.
struct Ran {
  int status = -1;
  std::string out;
};
Ran run_command(const std::string& cmd);
// `s` as one shell word: 'it'\''s'.
std::string shell_quote(std::string_view s);
// A port nobody listens on right now on 127.0.0.1. Racy by nature (another
// process may take it first): servers started on it must be retried.
int free_loopback_port();
// The real `relance --config <config> serve` as a child process, its stdout
// and stderr appended to `log` (crash tests SIGKILL it mid-work).
class ServiceProcess {
public:
  ServiceProcess(const std::string& config, const std::filesystem::path& log);  // throws if it cannot start
  ~ServiceProcess() { kill_now(); }
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;
  void kill_now();  // SIGKILL, reaped
  bool stop();      // SIGTERM, reaped; true when it exited with status 0
  bool running();   // not exited yet
private:
  int pid_ = -1;
};

// LF line ends as CRLF (a message as an IMAP server or an SMTP client sends it).
std::string crlf(std::string_view lf);

// "2026-11-23T10:00:00Z" -> Timestamp (throws on bad input).
Timestamp utc(std::string_view iso);

// A migrated database in a temp dir, a config, the Paris zone, the shipped
// messages and an Engine over them. `config_toml` is parsed as a config file.
struct Fixture {
  explicit Fixture(std::string_view config_toml = "");
  TempDir dir;
  app::Config config;
  std::unique_ptr<ZoneRules> zone;
  messages::Catalog catalog;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<app::Engine> engine;
};

// One staff member (marie, front desk) and a one-step plan "ladder" (a phone
// task for the front desk). Append a [[policy]] with plan = "ladder".
inline constexpr std::string_view staff_and_task_plan_toml = R"(
[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]

[[plan]]
id = "ladder"
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "secretariat"
  template = "ladder_3"
)";

// [sms] (Kannel) and [email] (SMTP) sections pointing at a closed loopback
// port: for engine tests whose plans message learners, so that their steps
// are queued (a plan step on a channel that is not configured becomes a staff
// task). Nothing is sent: no dispatcher runs in those tests.
inline constexpr std::string_view learner_channels_toml = R"(
[sms]
gateway = "kannel"
[sms.kannel]
sendsms_url = "http://127.0.0.1:9/cgi-bin/sendsms"
username = "relance"
password = "test-password"
from = "12345"
public_url = "http://127.0.0.1:9"
secret = "0123456789abcdef0123"

[email]
smtp_url = "smtp://127.0.0.1:9"
from = "Organisme test <relance@example.org>"
require_tls = false
reply_to = "secretariat@example.org"
)";

// Polls `cond` until true or the deadline passes (no blind sleeps in tests).
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds deadline = std::chrono::seconds(10));

}  // namespace relance::test
