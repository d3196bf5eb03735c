// A crash while reading the replies mailbox: the real binary (`relance
// serve`, [email.imap] polled every second) reads 300 learners' replies from
// a real Dovecot and is killed (SIGKILL) in the middle, then restarted. The
// mailbox cursor is committed in the same transaction as each message, so
// at every kill the cursor says exactly how many are stored, and at the end
// each reply is stored once, posted once, with the cursor at the last UID.
// Also killed right after start (before or while the first read), twice.
#include "dovecot_process.hpp"
#include "test_support.hpp"

#include "adapters/email/imap.hpp"
#include "bot/app/email_inbox.hpp"
#include "bot/app/zone.hpp"
#include "store/repositories.hpp"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

extern char** environ;

using namespace relance;
using relance::test::DovecotProcess;

namespace {

constexpr int total = 300;

using Service = test::ServiceProcess;

using test::crlf;

std::string learner_email(int i) { return "apprenant" + std::to_string(i) + "@example.fr"; }

std::string reply(int i) {
  return crlf("From: Apprenant " + std::to_string(i) + " <" + learner_email(i) +
              ">\nTo: secretariat@example.org\nSubject: Re: votre formation\n"
              "Date: Mon, 23 Nov 2026 11:42:17 +0100\nMessage-ID: <reponse-" + std::to_string(i) +
              "@mail.example.fr>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
              "Content-Transfer-Encoding: 8bit\n\nBonjour, je reprends la formation (réponse " + std::to_string(i) + ").\n");
}

// A migrated database with `total` learners, each with an open case (a
// phone task for the front desk: nothing is sent by email), and the config
// of a service reading the Dovecot mailbox.
struct Scene {
  test::TempDir dir;
  DovecotProcess imap;
  std::filesystem::path db_path = dir / "relance.db";
  std::string config = (dir / "relance.toml").string();
  int runs = 0;

  explicit Scene(int first_read_days) {
    const std::string toml = R"(
[organisation]
name = "Organisme test"
timezone = "Europe/Paris"

[store]
path = ")" + db_path.string() + R"("

[http]
listen = "127.0.0.1"
port = 0

[roles]
secretariat = "Secrétariat"
)" + std::string(test::staff_and_task_plan_toml) + R"(
[[policy]]
id = "p"
cohorts = ["c"]
sources = ["lms", "message"]
days = 10
plan = "ladder"

[email]
smtp_url = "smtp://127.0.0.1:9"
from = "relance@example.org"
require_tls = false
reply_to = "secretariat@example.org"
message_id_domain = "relance.example.org"
timeout_seconds = 2

[email.imap]
url = ")" + imap.url() + R"("
username = ")" + imap.username() + R"("
password = ")" + imap.password() + R"("
require_tls = false
poll_seconds = 1
timeout_seconds = 5
first_read_days = )" + std::to_string(first_read_days) + "\n";
    test::write_file(config, toml);
    REQUIRE(std::system((std::string(RELANCE_BINARY) + " --config " + config + " migrate > /dev/null 2>&1").c_str()) == 0);

    const app::Config cfg = app::parse_config(toml, config);
    const auto zone = app::make_zone(cfg.timezone);
    const auto catalog = messages::Catalog::load(messages::Catalog::default_dir());
    store::Database db(db_path);
    app::Engine engine(cfg, db, *zone, catalog);
    const Timestamp now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    {
      store::WriteTransaction tx(db);
      for (int i = 0; i < total; ++i) {
        Learner l;
        l.id = "L" + std::to_string(i);
        l.first_name = "Apprenant";
        l.last_name = std::to_string(i);
        l.email = learner_email(i);
        l.cohort = "c";
        l.activity.observe(Source::lms, now - std::chrono::days(11));
        engine.upsert_learner(l, now);
      }
      tx.commit();
    }
    engine.scan(now);
    REQUIRE(count("SELECT COUNT(*) FROM learner_case") == total);
  }

  std::unique_ptr<Service> start() { return std::make_unique<Service>(config, dir / ("serve-" + std::to_string(++runs) + ".log")); }
  void deliver_all() {
    for (int i = 0; i < total; ++i) imap.deliver(reply(i));
  }

  // A fresh connection per look (the service may have died mid-transaction).
  int count(const std::string& sql) const {
    store::Database db(db_path, store::Database::Mode::read_only);
    return db.sql().execAndGet(sql).getInt();
  }
  int stored() const { return count("SELECT COUNT(*) FROM inbound_message"); }
  std::optional<email::ImapCursor> cursor() const {
    store::Database db(db_path, store::Database::Mode::read_only);
    const auto v = store::kv_get(db, app::imap_cursor_key);
    return v ? email::parse_cursor(*v) : std::nullopt;
  }
  std::uint64_t uidvalidity() const {
    email::ImapConfig c;
    c.url = imap.url();
    c.username = imap.username();
    c.password = imap.password();
    c.require_tls = false;
    email::ImapSession s(c);
    email::ImapError err;
    const auto st = s.status(err);
    INFO(err.message);
    REQUIRE(st);
    return st->uidvalidity;
  }
  std::string logs() const {
    std::string out;
    for (int r = 1; r <= runs; ++r) {
      const auto p = dir / ("serve-" + std::to_string(r) + ".log");
      std::string text = std::filesystem::exists(p) ? test::read_file(p) : "";
      if (text.size() > 3000) text = "..." + text.substr(text.size() - 3000);
      out += "--- run " + std::to_string(r) + " ---\n" + text;
    }
    return out;
  }

  // What every kill must leave: the cursor says exactly how many replies are
  // stored (every message is a reply, UIDs 1..total: stored together).
  void check_consistent() const {
    const int rows = stored();
    const auto c = cursor();
    INFO("rows " << rows);
    if (!c) {
      CHECK(rows == 0);
      return;
    }
    CHECK(c->last_uid == std::uint64_t(rows));
    CHECK(count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff' AND template = 'alert.learner_reply'") == rows);
  }

  // The last run reads everything; SIGTERM; then each reply once.
  void finish(std::uint64_t validity) {
    auto svc = start();
    const bool all = test::wait_until(
        [&] {
          const auto c = cursor();
          return stored() == total && c && c->last_uid == std::uint64_t(total);
        },
        std::chrono::seconds(20));
    INFO(logs());
    REQUIRE(all);
    CHECK(svc->stop());
    CHECK(stored() == total);
    CHECK(count("SELECT COUNT(DISTINCT provider_id) FROM inbound_message") == total);
    CHECK(count("SELECT COUNT(DISTINCT learner_key) FROM inbound_message WHERE case_id IS NOT NULL") == total);
    CHECK(count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff' AND template = 'alert.learner_reply'") == total);
    CHECK(count("SELECT COUNT(*) FROM journal WHERE action = 'learner.replied'") == total);
    CHECK(cursor() == email::ImapCursor{validity, std::uint64_t(total)});
  }
};

}  // namespace

TEST_CASE("email_crash: killed while reading the replies mailbox, each reply ends up stored and posted once",
          "[email_crash][email][imap][crash]") {
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  Scene s(0);
  {
    // The service reads the (empty) mailbox once: what comes next is new mail.
    auto svc = s.start();
    const bool ready = test::wait_until([&] { return s.cursor().has_value(); }, std::chrono::seconds(10));
    INFO(s.logs());
    REQUIRE(ready);
    CHECK(s.cursor()->last_uid == 0);
    s.deliver_all();
    // Killed a fifth of the way in.
    const bool reading = test::wait_until([&] { return s.stored() >= total / 5; }, std::chrono::seconds(15));
    svc->kill_now();
    REQUIRE(reading);
  }
  INFO(s.logs());
  const int first = s.stored();
  INFO("stored at the first kill: " << first);
  REQUIRE(first >= 1);
  REQUIRE(first < total);  // killed mid-stream
  s.check_consistent();
  {
    // Restarted, and killed again past half-way.
    auto svc = s.start();
    const bool reading = test::wait_until([&] { return s.stored() >= total * 3 / 5; }, std::chrono::seconds(15));
    svc->kill_now();
    REQUIRE(reading);
  }
  const int second = s.stored();
  INFO("stored at the second kill: " << second);
  REQUIRE(second < total);
  s.check_consistent();
  s.finish(s.uidvalidity());
}

TEST_CASE("email_crash: killed right after start, the mailbox is read whole and once", "[email_crash][email][imap][crash]") {
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  // The replies are there before the service ever ran: first_read_days takes them.
  Scene s(1);
  s.deliver_all();
  const std::uint64_t validity = s.uidvalidity();
  {
    auto svc = s.start();
    svc->kill_now();  // at once: before it opened anything, or barely
  }
  s.check_consistent();
  for (const auto delay : {std::chrono::milliseconds(50), std::chrono::milliseconds(300)}) {
    auto svc = s.start();
    std::this_thread::sleep_for(delay);
    CHECK(svc->running());
    svc->kill_now();
    INFO("killed after " << delay.count() << " ms: " << s.stored() << " stored");
    s.check_consistent();
  }
  INFO(s.logs());
  s.finish(validity);
}
