// The mailbox reader (EmailInbox) on a real Dovecot and a real migrated
// SQLite file, through the real InboundWriter, one poll_once() at a time (no
// thread: every step is deterministic). What is checked is what the cursor
// "uidvalidity:last_uid" promises: it moves exactly when what was read is
// stored (same transaction), so a message is never lost (a storage failure
// leaves it to be read again) and never doubled (read again from an older
// cursor, as after a crash before the commit, it changes nothing). Also: the
// first read of a mailbox does not replay it (unless first_read_days says
// so), unreadable messages do not block it, a server that is down changes
// nothing; and the pure email_batch() (what a message becomes).
#include "dovecot_process.hpp"
#include "test_support.hpp"

#include "adapters/email/imap.hpp"
#include "adapters/email/received.hpp"
#include "bot/app/email_inbox.hpp"
#include "bot/app/inbound.hpp"
#include "store/repositories.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

using namespace relance;
using relance::test::DovecotProcess;

namespace {

namespace fs = std::filesystem;

// Its plans message learners: SMS and email are configured (nothing is
// sent: no dispatcher runs here), else their steps would be staff tasks.
const std::string config_toml = std::string(R"(
[organisation]
name = "Organisme test"
timezone = "Europe/Paris"
platform_url = "https://lms.test"

[roles]
secretariat = "Secrétariat"

[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]

[[plan]]
id = "mail"
on_exhausted = "keep_open"
  [[plan.step]]
  action = "message"
  means = "email"
  role = "secretariat"
  template = "reminder_10d"

[[policy]]
id = "000"
cohorts = ["bureautique"]
sources = ["lms", "message"]
days = 10
plan = "mail"
)") + std::string(test::learner_channels_toml);

// Dovecot dates messages by the real clock (SEARCH SINCE): so does the reader here.
Timestamp wall() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

using test::crlf;

// A plain reply. `in_reply_to` empty: none (the From address finds the learner).
std::string reply(const std::string& message_id, const std::string& from, const std::string& text,
                  const std::string& in_reply_to = "") {
  std::string head = "From: Léa Martin <" + from + ">\nTo: secretariat@example.org\nSubject: Re: votre formation\n"
                     "Date: Mon, 23 Nov 2026 11:42:17 +0100\nMIME-Version: 1.0\n";
  if (!message_id.empty()) head += "Message-ID: <" + message_id + ">\n";
  if (!in_reply_to.empty()) head += "In-Reply-To: " + in_reply_to + "\nReferences: " + in_reply_to + "\n";
  return crlf(head + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + text + "\n");
}

// Postfix's RFC 3464 report for the message `bounced_id` (with < >).
std::string bounce(const std::string& bounced_id) {
  return crlf(R"(Return-Path: <>
Date: Mon, 23 Nov 2026 10:00:09 +0100 (CET)
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: relance@example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="8F2A31C0A1.1795500009/mx.example.org"
Message-Id: <20261123090009.9C1D2C0A2@mx.example.org>

This is a MIME-encapsulated message.

--8F2A31C0A1.1795500009/mx.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--8F2A31C0A1.1795500009/mx.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; chloe@exmaple.fr
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <chloe@exmaple.fr>: Recipient address
    rejected: User unknown

--8F2A31C0A1.1795500009/mx.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Staff <accueil@example.org>
To: chloe@exmaple.fr
Subject: Votre dossier
Message-ID: )" + bounced_id + R"(

--8F2A31C0A1.1795500009/mx.example.org--
)");
}

// A port nothing listens on (free a moment ago).
int closed_port() { return test::free_loopback_port(); }

// Léa (with a case and our relaunch email pending), a Dovecot mailbox and
// the writer; inboxes are made by the test.
struct Bench {
  std::unique_ptr<DovecotProcess> imap = std::make_unique<DovecotProcess>();
  test::Fixture f{config_toml};
  const Timestamp now = wall();
  std::int64_t key = 0;
  std::int64_t case_id = 0;
  std::int64_t email_id = 0;  // our relaunch email's outbox id
  std::unique_ptr<app::InboundWriter> writer;

  Bench() {
    Learner l;
    l.id = "L1";
    l.first_name = "Léa";
    l.last_name = "Martin";
    l.email = "lea.martin@example.fr";
    l.cohort = "bureautique";
    l.activity.observe(Source::lms, now - std::chrono::days(11));
    {
      store::WriteTransaction tx(*f.db);
      f.engine->upsert_learner(l, now);
      tx.commit();
    }
    key = l.key;
    f.engine->scan(now);
    store::OutboxRepo outbox(*f.db);
    const auto mails = outbox.pending("email");
    REQUIRE(mails.size() == 1);
    email_id = mails.front().id;
    REQUIRE(mails.front().case_id);
    case_id = *mails.front().case_id;
    writer = std::make_unique<app::InboundWriter>(f.config, *f.zone, f.catalog, f.db->path(), wall);
  }
  ~Bench() { writer.reset(); }  // before the fixture it reads

  email::ImapConfig imap_config(int first_read_days = 0) const {
    email::ImapConfig c;
    c.url = imap->url();
    c.username = imap->username();
    c.password = imap->password();
    c.require_tls = false;
    c.timeout = std::chrono::seconds(5);
    c.poll_every = std::chrono::seconds(1);
    c.first_read_days = first_read_days;
    return c;
  }
  std::unique_ptr<app::EmailInbox> inbox(std::optional<email::ImapCursor> start, int first_read_days = 0) {
    return std::make_unique<app::EmailInbox>(imap_config(first_read_days), *writer, start, wall);
  }
  std::uint64_t uidvalidity() const {
    email::ImapSession s(imap_config());
    email::ImapError err;
    const auto st = s.status(err);
    INFO(err.message);
    REQUIRE(st);
    return st->uidvalidity;
  }
  std::optional<email::ImapCursor> saved_cursor() {
    const auto v = store::kv_get(*f.db, app::imap_cursor_key);
    if (!v) return std::nullopt;
    return email::parse_cursor(*v);
  }
  int count(const std::string& sql) { return f.db->sql().execAndGet(sql).getInt(); }
  int stored() { return count("SELECT COUNT(*) FROM inbound_message"); }
  int staff_posts(const std::string& template_key) {
    return count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff' AND template = '" + template_key + "'");
  }
  // Delivers `raw` with a received date (Maildir: the file's mtime) `age` ago.
  void deliver_dated(std::string_view raw, std::chrono::hours age) {
    const fs::path dir = imap->work_dir() / "mail" / "Maildir" / "new";
    std::set<fs::path> before;
    for (const auto& e : fs::directory_iterator(dir)) before.insert(e.path());
    imap->deliver(raw);
    int changed = 0;
    for (const auto& e : fs::directory_iterator(dir))
      if (!before.count(e.path())) {
        fs::last_write_time(e.path(), fs::file_time_type::clock::now() - age);
        ++changed;
      }
    REQUIRE(changed == 1);
  }
};

email::ReceivedEmail parsed(const std::string& raw) {
  auto m = email::parse_received(raw);
  INFO(m.problem);
  REQUIRE(m.problem.empty());
  return m;
}

app::InboundBatch batch_of(const std::string& raw, bool truncated = false) {
  email::FetchedMessage f{7, raw, truncated};
  return app::email_batch(f, parsed(raw));
}

}  // namespace

TEST_CASE("email_inbox: the first read skips what is already in the mailbox, then reads what arrives",
          "[email_inbox][email][imap]") {
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  Bench b;
  // A front-desk mailbox with mail in it before relance is configured.
  b.imap->deliver(reply("old-1@example.fr", "lea.martin@example.fr", "Ancien message 1"));
  b.imap->deliver(reply("old-2@example.fr", "lea.martin@example.fr", "Ancien message 2"));
  const std::uint64_t validity = b.uidvalidity();

  auto inbox = b.inbox(std::nullopt, 0);
  REQUIRE(inbox->poll_once());
  CHECK(inbox->cursor() == email::ImapCursor{validity, 2});
  CHECK(b.saved_cursor() == email::ImapCursor{validity, 2});
  CHECK(b.stored() == 0);
  CHECK(inbox->stats().fetched == 0);
  CHECK(inbox->stats().polls == 1);

  // Nothing new: nothing read.
  REQUIRE(inbox->poll_once());
  CHECK(inbox->stats().fetched == 0);

  b.imap->deliver(reply("new-3@example.fr", "lea.martin@example.fr", "Je reprends lundi."));
  REQUIRE(inbox->poll_once());
  CHECK(inbox->stats().fetched == 1);
  CHECK(inbox->stats().stored == 1);
  CHECK(b.stored() == 1);
  CHECK(b.count("SELECT COUNT(*) FROM inbound_message WHERE provider_id = 'new-3@example.fr' AND body = 'Je reprends lundi.'") == 1);
  CHECK(inbox->cursor() == email::ImapCursor{validity, 3});
  CHECK(b.saved_cursor() == email::ImapCursor{validity, 3});

  // A new process starting from the saved cursor reads nothing again.
  auto next = b.inbox(b.saved_cursor(), 0);
  REQUIRE(next->poll_once());
  CHECK(next->stats().fetched == 0);
  CHECK(b.stored() == 1);
}

TEST_CASE("email_inbox: first_read_days reads the recent mail already there on the first run",
          "[email_inbox][email][imap]") {
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  Bench b;
  b.deliver_dated(reply("ten-days@example.fr", "lea.martin@example.fr", "Il y a dix jours"), std::chrono::hours(24 * 10));
  b.imap->deliver(reply("today-1@example.fr", "lea.martin@example.fr", "Ce matin"));
  b.imap->deliver(reply("today-2@example.fr", "lea.martin@example.fr", "Ce midi"));
  const std::uint64_t validity = b.uidvalidity();

  auto inbox = b.inbox(std::nullopt, 2);
  REQUIRE(inbox->poll_once());
  CHECK(b.stored() == 2);
  CHECK(b.count("SELECT COUNT(*) FROM inbound_message WHERE provider_id IN ('today-1@example.fr', 'today-2@example.fr')") == 2);
  CHECK(b.count("SELECT COUNT(*) FROM inbound_message WHERE provider_id = 'ten-days@example.fr'") == 0);
  CHECK(inbox->stats().fetched == 2);
  CHECK(b.saved_cursor() == email::ImapCursor{validity, 3});

  SECTION("with nothing recent, the cursor starts at the end") {
    Bench c;
    c.deliver_dated(reply("old@example.fr", "lea.martin@example.fr", "Vieux"), std::chrono::hours(24 * 30));
    auto fresh = c.inbox(std::nullopt, 2);
    REQUIRE(fresh->poll_once());
    CHECK(c.stored() == 0);
    CHECK(c.saved_cursor() == email::ImapCursor{c.uidvalidity(), 1});
  }
}

TEST_CASE("email_batch: what one fetched message becomes", "[email_inbox][email]") {
  SECTION("our own copy (a Bcc, reply_to = the sender) is nothing") {
    const auto b = batch_of(reply("relance.42@relance.example.org", "relance@example.org", "Bonjour Léa"));
    CHECK(b.messages.empty());
    CHECK(b.reports.empty());
    CHECK(b.settings.empty());
  }
  SECTION("a bounce of someone else's message is nothing, of ours a failed delivery") {
    const auto other = batch_of(bounce("<20261120.abc@example.org>"));
    CHECK(other.messages.empty());
    CHECK(other.reports.empty());
    const auto ours = batch_of(bounce("<relance.17@relance.example.org>"));
    CHECK(ours.messages.empty());
    REQUIRE(ours.reports.size() == 1);
    CHECK(ours.reports[0].provider == "smtp");
    CHECK(ours.reports[0].outbox_id == 17);
    CHECK(ours.reports[0].state == "failed");
    CHECK_THAT(ours.reports[0].detail, Catch::Contains("5.1.1"));
  }
  SECTION("without a Message-ID the bytes name it: the same bytes, the same id") {
    const std::string raw = reply("", "lea.martin@example.fr", "Pas d'identifiant");
    const auto a = batch_of(raw);
    const auto again = batch_of(raw);
    const auto other = batch_of(reply("", "lea.martin@example.fr", "Pas d'identifiant non plus"));
    REQUIRE(a.messages.size() == 1);
    const std::string& id = a.messages[0].provider_id;
    CHECK_THAT(id, Catch::StartsWith("sha256:"));
    CHECK(id.size() == 7 + 64);
    CHECK(id.find_first_not_of("0123456789abcdef", 7) == std::string::npos);
    REQUIRE(again.messages.size() == 1);
    CHECK(again.messages[0].provider_id == id);
    REQUIRE(other.messages.size() == 1);
    CHECK(other.messages[0].provider_id != id);
    CHECK(a.messages[0].channel == "email");
    CHECK(a.messages[0].provider == "imap");
    CHECK(a.messages[0].sender == "lea.martin@example.fr");
    CHECK(a.messages[0].text == "Pas d'identifiant");
    CHECK(a.messages[0].sent_at == test::utc("2026-11-23T10:42:17Z"));
    CHECK_FALSE(a.messages[0].answers);
    CHECK_FALSE(a.messages[0].automatic);
  }
  SECTION("attachments are named, an empty text is the subject") {
    const std::string with_text = crlf(R"(From: lea.martin@example.fr
Subject: Mon attestation
Message-ID: <att-1@example.fr>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Voici le document.
--b1
Content-Type: application/pdf; name="attestation.pdf"
Content-Disposition: attachment; filename="attestation.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--b1--
)");
    const auto a = batch_of(with_text);
    REQUIRE(a.messages.size() == 1);
    CHECK(a.messages[0].text == "Voici le document.\n📎 attestation.pdf");

    const std::string only_attachment = crlf(R"(From: lea.martin@example.fr
Subject: Certificat médical
Message-ID: <att-2@example.fr>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b2"

--b2
Content-Type: image/jpeg; name="certificat.jpg"
Content-Disposition: attachment; filename="certificat.jpg"
Content-Transfer-Encoding: base64

/9j/4AAQ
--b2--
)");
    const auto b = batch_of(only_attachment);
    REQUIRE(b.messages.size() == 1);
    CHECK(b.messages[0].text == "Certificat médical\n📎 certificat.jpg");

    const auto c = batch_of(reply("empty@example.fr", "lea.martin@example.fr", ""));
    REQUIRE(c.messages.size() == 1);
    CHECK(c.messages[0].text == "Re: votre formation");

    // Too large to fetch whole: only the header was read.
    const auto t = batch_of(crlf("From: lea.martin@example.fr\nSubject: Photos\nMessage-ID: <big@example.fr>\n\n"), true);
    REQUIRE(t.messages.size() == 1);
    CHECK(t.messages[0].text == "Photos\n📎 …");
  }
  SECTION("the message of ours it answers comes from In-Reply-To or References") {
    const auto direct = batch_of(reply("r1@gmail.com", "lea.perso@gmail.com", "Oui", "<relance.42@relance.example.org>"));
    REQUIRE(direct.messages.size() == 1);
    CHECK(direct.messages[0].answers == 42);
    // In-Reply-To names a message of staff's, References one of ours further back.
    const std::string thread = crlf(R"(From: lea.perso@gmail.com
Subject: Re: Re: votre formation
Message-ID: <r2@gmail.com>
In-Reply-To: <staff-answer@example.org>
References: <relance.9@relance.example.org> <staff-answer@example.org>

Merci.
)");
    const auto deep = batch_of(thread);
    REQUIRE(deep.messages.size() == 1);
    CHECK(deep.messages[0].answers == 9);
    const auto none = batch_of(reply("r3@gmail.com", "lea.perso@gmail.com", "Oui", "<staff-answer@example.org>"));
    REQUIRE(none.messages.size() == 1);
    CHECK_FALSE(none.messages[0].answers);
  }
  SECTION("an out-of-office is automatic") {
    const auto b = batch_of(crlf(R"(From: lea.martin@example.fr
Subject: Automatic reply: votre formation
Message-ID: <ooo@example.fr>
Auto-Submitted: auto-replied

Absente jusqu'au 3 décembre.
)"));
    REQUIRE(b.messages.size() == 1);
    CHECK(b.messages[0].automatic);
  }
  SECTION("nothing fetched (expunged meanwhile) is nothing") {
    email::FetchedMessage f{3, "", false};
    const auto b = app::email_batch(f, email::parse_received(""));
    CHECK(b.messages.empty());
    CHECK(b.reports.empty());
  }
}

TEST_CASE("email_inbox: a learner's reply is stored once, even read again from an older cursor",
          "[email_inbox][email][imap]") {
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  Bench b;
  auto first = b.inbox(std::nullopt);
  REQUIRE(first->poll_once());
  const auto before = b.saved_cursor();
  REQUIRE(before);
  const int posts_before = b.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff'");

  // Léa answers our email from another address.
  b.imap->deliver(reply("CAF-lea@mail.gmail.com", "lea.perso@gmail.com", "Désolée, je reprends demain.",
                        "<relance." + std::to_string(b.email_id) + "@relance.example.org>"));
  REQUIRE(first->poll_once());
  CHECK(b.stored() == 1);
  CHECK(b.count("SELECT COUNT(*) FROM inbound_message WHERE learner_key = " + std::to_string(b.key) +
                " AND case_id = " + std::to_string(b.case_id) +
                " AND provider_id = 'CAF-lea@mail.gmail.com' AND sender = 'lea.perso@gmail.com' AND kind = 'reply'") == 1);
  CHECK(b.staff_posts("alert.learner_reply") == 1);
  CHECK(b.count("SELECT COUNT(*) FROM learner_case WHERE state = 'resumed'") == 1);
  const auto after = b.saved_cursor();
  REQUIRE(after);
  CHECK(after->last_uid == before->last_uid + 1);
  const int posts_after = b.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff'");
  CHECK(posts_after > posts_before);
  const int journal_after = b.count("SELECT COUNT(*) FROM journal");

  // What a crash before the cursor's commit would leave: a new process
  // starting from the older cursor. The message is read again and changes
  // nothing; the cursor comes back to where it was.
  auto again = b.inbox(before);
  REQUIRE(again->poll_once());
  CHECK(again->stats().fetched == 1);
  // (The writer counts after it answered: its stats may lag a moment.)
  CHECK(test::wait_until([&] { return b.writer->stats().duplicates == 1; }));
  CHECK(b.stored() == 1);
  CHECK(b.staff_posts("alert.learner_reply") == 1);
  CHECK(b.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff'") == posts_after);
  CHECK(b.count("SELECT COUNT(*) FROM journal") == journal_after);
  CHECK(b.saved_cursor() == after);
  CHECK(again->cursor() == after);

  // Twice more, for good measure (a crash loop).
  for (int i = 0; i < 2; ++i) {
    auto loop = b.inbox(before);
    REQUIRE(loop->poll_once());
  }
  CHECK(b.stored() == 1);
  CHECK(b.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff'") == posts_after);
}

TEST_CASE("email_inbox: a message that could not be stored keeps the cursor before it and is stored at the next poll",
          "[email_inbox][email][imap]") {
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  Bench b;
  auto inbox = b.inbox(std::nullopt);
  REQUIRE(inbox->poll_once());
  const auto start = b.saved_cursor();
  REQUIRE(start);

  b.imap->deliver(reply("m1@example.fr", "lea.martin@example.fr", "Premier"));
  b.imap->deliver(reply("m2@example.fr", "lea.martin@example.fr", "Second"));
  // The disk "fills up" for inbound messages (another connection, as an
  // administrator's or another process's would be).
  {
    SQLite::Database other(b.f.db->path().string(), SQLite::OPEN_READWRITE);
    other.exec("CREATE TRIGGER full_disk BEFORE INSERT ON inbound_message BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  }
  CHECK_FALSE(inbox->poll_once());
  CHECK(test::wait_until([&] { return b.writer->stats().failed == 1; }));
  CHECK(b.stored() == 0);
  CHECK(inbox->cursor() == start);
  CHECK(b.saved_cursor() == start);  // rolled back with the message, in the same savepoint
  CHECK(inbox->stats().stored == 0);
  // Still failing: still not past it.
  CHECK_FALSE(inbox->poll_once());
  CHECK(b.saved_cursor() == start);

  {
    SQLite::Database other(b.f.db->path().string(), SQLite::OPEN_READWRITE);
    other.exec("DROP TRIGGER full_disk");
  }
  REQUIRE(inbox->poll_once());
  CHECK(b.stored() == 2);
  CHECK(b.count("SELECT COUNT(*) FROM inbound_message WHERE provider_id IN ('m1@example.fr', 'm2@example.fr')") == 2);
  CHECK(b.saved_cursor() == email::ImapCursor{start->uidvalidity, start->last_uid + 2});
  CHECK(inbox->cursor() == b.saved_cursor());
  CHECK(b.staff_posts("alert.learner_reply") == 2);
}

TEST_CASE("email_inbox: unreadable and empty messages are skipped and do not block the mailbox",
          "[email_inbox][email][imap]") {
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  Bench b;
  auto inbox = b.inbox(std::nullopt);
  REQUIRE(inbox->poll_once());
  const auto start = b.saved_cursor();
  REQUIRE(start);

  static constexpr char junk[] = "\x01\x02\xff\xfe\x00\x13 binary junk, no header at all\r\n";
  b.imap->deliver(std::string(junk, sizeof junk - 1));
  b.imap->deliver("");      // a 0-byte file in the Maildir
  b.imap->deliver("\r\n\r\n");  // only blank lines
  b.imap->deliver(reply("after-junk@example.fr", "lea.martin@example.fr", "Toujours là"));
  INFO(b.imap->log_tail());
  REQUIRE(inbox->poll_once());
  // All three are counted (a message expunged between the search and the
  // fetch is not: FetchedMessage::gone).
  CHECK(inbox->stats().unparsed == 3);
  CHECK(inbox->stats().fetched == 4);
  CHECK(b.stored() == 1);
  CHECK(b.count("SELECT COUNT(*) FROM inbound_message WHERE provider_id = 'after-junk@example.fr'") == 1);
  CHECK(b.saved_cursor() == email::ImapCursor{start->uidvalidity, start->last_uid + 4});

  // Read again from the start: the junk is skipped again, nothing doubles.
  auto again = b.inbox(start);
  REQUIRE(again->poll_once());
  CHECK(again->stats().unparsed == 3);
  CHECK(b.stored() == 1);
}

TEST_CASE("email_inbox: a mailbox server that is down changes nothing", "[email_inbox][email][imap]") {
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  Bench b;
  SECTION("never reachable: no cursor is saved") {
    email::ImapConfig c = b.imap_config();
    c.url = "imap://127.0.0.1:" + std::to_string(closed_port()) + "/INBOX";
    app::EmailInbox inbox(c, *b.writer, std::nullopt, wall);
    CHECK_FALSE(inbox.poll_once());
    CHECK_FALSE(inbox.poll_once());
    CHECK(inbox.stats().failed_polls == 2);
    CHECK(inbox.stats().polls == 0);
    CHECK_FALSE(inbox.cursor());
    CHECK_FALSE(b.saved_cursor());
    CHECK(b.writer->stats().requests == 0);
  }
  SECTION("gone after a first read: the cursor stays") {
    const email::ImapConfig config = b.imap_config();
    auto inbox = b.inbox(std::nullopt);
    b.imap->deliver(reply("before@example.fr", "lea.martin@example.fr", "Avant"));
    REQUIRE(inbox->poll_once());
    const auto saved = b.saved_cursor();
    REQUIRE(saved);
    b.imap.reset();  // the server stops
    CHECK_FALSE(inbox->poll_once());
    CHECK(inbox->stats().failed_polls == 1);
    CHECK(inbox->stats().polls == 1);
    CHECK(inbox->cursor() == saved);
    CHECK(b.saved_cursor() == saved);
    CHECK(b.stored() == 0);
    // A process started meanwhile does not move it either.
    app::EmailInbox other(config, *b.writer, saved, wall);
    CHECK_FALSE(other.poll_once());
    CHECK(b.saved_cursor() == saved);
  }
}

TEST_CASE("email_inbox: stopping the thread during a backlog waits for the message in progress, not the backlog",
          "[email_inbox][email][imap]") {
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  Bench b;
  auto inbox = b.inbox(std::nullopt);
  REQUIRE(inbox->poll_once());
  const auto start = b.saved_cursor();
  REQUIRE(start);
  constexpr int backlog = 300;
  for (int i = 0; i < backlog; ++i)
    b.imap->deliver(reply("backlog-" + std::to_string(i) + "@example.fr", "lea.martin@example.fr", "Message " + std::to_string(i)));

  inbox->start();
  REQUIRE(test::wait_until([&] { return inbox->stats().fetched >= 5; }));
  const auto t0 = std::chrono::steady_clock::now();
  inbox->stop();
  const auto took = std::chrono::steady_clock::now() - t0;
  const auto read = inbox->stats().fetched;
  INFO("read before the stop: " << read << ", stop took "
                                << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(read < std::uint64_t(backlog));
  CHECK(took < std::chrono::milliseconds(500));
  // What was read is stored, with the cursor just past it.
  CHECK(b.stored() == int(read));
  CHECK(b.saved_cursor() == email::ImapCursor{start->uidvalidity, start->last_uid + read});
  CHECK(inbox->cursor() == b.saved_cursor());

  // The next process reads the rest.
  auto next = b.inbox(b.saved_cursor());
  REQUIRE(next->poll_once());
  CHECK(b.stored() == backlog);
  CHECK(b.count("SELECT COUNT(DISTINCT provider_id) FROM inbound_message") == backlog);
  CHECK(b.saved_cursor() == email::ImapCursor{start->uidvalidity, start->last_uid + backlog});
}
