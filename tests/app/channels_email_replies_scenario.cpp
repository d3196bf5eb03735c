// Learners' email replies, end to end: the real service sends procedure
// 000's reminder through the real SMTP sink, the test answers *that* email
// the way mail clients do (Gmail from another address, an Outlook
// out-of-office, a Postfix bounce, plus a newsletter nobody asked for) into
// a real Dovecot mailbox, and the service, polling it over IMAP, puts each
// where it belongs: the reply in the case's thread as a sign of life, the
// out-of-office shown but not counted, the bounce on our email, the
// newsletter left alone. Then the service stops, the mailbox is recreated
// (new UIDVALIDITY) and a new service reads it again: nothing is doubled.
#include "channels_harness.hpp"
#include "dovecot_process.hpp"
#include "smtp_sink.hpp"

#include <catch2/catch.hpp>

#include <optional>

using namespace relance;
using namespace relance::test::channels_scn;
using relance::test::DovecotProcess;
using test::utc;
using test::wait_until;

namespace {

using namespace relance::test::smtp_scn;

std::string config_text(const std::string& smtp_url, const DovecotProcess& imap) {
  return R"(
[organisation]
name = "Centre de formation Cœur & Forêt"
timezone = "Europe/Paris"
platform_url = "https://formation.example.org/cours"

[http]
listen = "127.0.0.1"
port = 0
api_token = ")" + std::string(api_token) + R"("

[roles]
pedagogie = "Responsable pédagogique"

[[staff]]
id = "paul"
name = "Paul Roux"
roles = ["pedagogie"]

[[plan]]
id = "plan-000"
on_exhausted = "keep_open"
  [[plan.step]]
  action = "message"
  means = "email"
  role = "pedagogie"
  template = "reminder_10d"

[[policy]]
id = "000-elearning"
cohorts = ["bureautique-en-ligne"]
sources = ["lms", "message"]
days = 10
plan = "plan-000"

[email]
smtp_url = ")" + smtp_url + R"("
from = "Centre Cœur & Forêt <relance@example.org>"
require_tls = false
reply_to = "secretariat@example.org"
message_id_domain = "relance.example.org"
timeout_seconds = 10

[email.imap]
url = ")" + imap.url() + R"("
username = ")" + imap.username() + R"("
password = ")" + imap.password() + R"("
require_tls = false
poll_seconds = 1
timeout_seconds = 10
)";
}

Learner learner(std::string id, std::string first, std::string last, std::string email, Timestamp last_lms) {
  Learner l;
  l.id = std::move(id);
  l.first_name = std::move(first);
  l.last_name = std::move(last);
  l.email = std::move(email);
  l.cohort = "bureautique-en-ligne";
  l.activity.observe(Source::lms, last_lms);
  return l;
}

using test::crlf;

// Léa answers from her personal Gmail address (not the one we know):
// quoted-printable UTF-8, Gmail's attribution wrapped over two lines, the
// original quoted under it, and an HTML alternative.
std::string gmail_reply(const std::string& our_id, const std::string& quoted_line) {
  return crlf(R"(Return-Path: <lea.perso@gmail.com>
MIME-Version: 1.0
Date: Mon, 23 Nov 2026 11:42:17 +0100
References: )" + our_id + R"(
In-Reply-To: )" + our_id + R"(
Message-ID: <CAF7xq=ZL3q2@mail.gmail.com>
Subject: =?UTF-8?Q?Re=3A_L=C3=A9a=2C_votre_formation_bureautique=2Den=2Dligne_vous_a?=
 =?UTF-8?Q?ttend?=
From: =?UTF-8?Q?L=C3=A9a_Dupr=C3=A9?= <lea.perso@gmail.com>
To: secretariat@example.org
Content-Type: multipart/alternative; boundary="0000000000004a1b2c"

--0000000000004a1b2c
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Bonjour,

D=C3=A9sol=C3=A9e, j'ai eu un souci d'ordinateur. Je reprends les modules=
 d=C3=A8s demain <b>promis</b> @channel.

L=C3=A9a

Le lun. 23 nov. 2026 =C3=A0 10:00, Centre C=C5=93ur & For=C3=AAt <
relance@example.org> a =C3=A9crit :

> )" + quoted_line + R"(
>
> L=E2=80=99=C3=A9quipe
>

--0000000000004a1b2c
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Bonjour,<br><br>D=C3=A9sol=C3=A9e, j'ai eu un souci d'ordi=
nateur.</div><div class=3D"gmail_quote">Le lun. 23 nov. 2026 ...</div>

--0000000000004a1b2c--
)");
}

std::string out_of_office(const std::string& our_id) {
  return crlf(R"(From: Bruno Marchal <bruno@example.fr>
To: <secretariat@example.org>
Subject: =?iso-8859-1?Q?R=E9ponse_automatique=A0:_L=E9a=2C_votre_formation?=
Date: Mon, 23 Nov 2026 10:00:05 +0000
Message-ID: <AM0PR01MB1234-ooo@EURPRD01.prod.outlook.com>
In-Reply-To: )" + our_id + R"(
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

Bonjour, je suis absent jusqu'au 3 d=E9cembre. Pour toute urgence : accueil.
)");
}

// Postfix's RFC 3464 report for our email to Chloé's mistyped address.
std::string postfix_bounce(const std::string& our_id) {
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

This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<chloe@exmaple.fr>: host mx.exmaple.fr[192.0.2.7] said: 550 5.1.1
    <chloe@exmaple.fr>: Recipient address rejected: User unknown

--8F2A31C0A1.1795500009/mx.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
Arrival-Date: Mon, 23 Nov 2026 10:00:05 +0100 (CET)

Final-Recipient: rfc822; chloe@exmaple.fr
Original-Recipient: rfc822;chloe@exmaple.fr
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.exmaple.fr
Diagnostic-Code: smtp; 550 5.1.1 <chloe@exmaple.fr>: Recipient address
    rejected: User unknown

--8F2A31C0A1.1795500009/mx.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: =?UTF-8?Q?Centre_C=C5=93ur_&_For=C3=AAt?= <relance@example.org>
To: =?UTF-8?Q?Chlo=C3=A9_Faure?= <chloe@exmaple.fr>
Subject: =?UTF-8?Q?Chlo=C3=A9=2C_votre_formation?=
Message-ID: )" + our_id + R"(

--8F2A31C0A1.1795500009/mx.example.org--
)");
}

std::string newsletter() {
  return crlf(R"(From: Fournitures Dupont <news@fournitures-dupont.fr>
To: secretariat@example.org
Subject: Nos offres de fin d'année
Date: Mon, 23 Nov 2026 08:00:00 +0000
Message-ID: <news-2026-11@fournitures-dupont.fr>
Precedence: bulk
Content-Type: text/plain; charset=utf-8

Profitez de -20 % sur les cartouches.
)");
}

}  // namespace

TEST_CASE("email replies: the answer to our reminder reaches the case, an out-of-office and a bounce are told, "
          "other mail is left alone, and nothing doubles after a restart",
          "[learner][email][imap][scenario]") {
  REQUIRE_SINK();
  INFO(DovecotProcess::missing());
  REQUIRE(DovecotProcess::missing().empty());
  Sink sink("smtp_sink_handler.MaildirSink");
  DovecotProcess imap;
  TestClock clock(utc("2026-11-23T09:00:00Z"));  // Monday 10:00 Paris
  test::Fixture f(config_text(sink.url(), imap));
  const Timestamp last = clock() - std::chrono::days(11);
  add_learners(*f.engine,
               {learner("A-1", "Léa", "Dupré", "lea@example.fr", last),
                learner("B-1", "Bruno", "Marchal", "bruno@example.fr", last),
                learner("C-1", "Chloé", "Faure", "chloe@exmaple.fr", last)},
               clock());
  std::optional<Service> svc;
  svc.emplace(*f.engine, clock);
  View v(f);

  // Our three reminders, as the SMTP server received them.
  REQUIRE(wait_until([&] { return sink.index().size() == 3; }, 20s));
  std::map<std::string, std::string> id_for;    // recipient -> our Message-ID, as sent
  std::map<std::string, std::string> body_for;  // recipient -> text part
  for (const auto& entry : sink.index()) {
    const auto m = sink.parsed(entry);
    const std::string to = m["to"]["addr"];
    id_for[to] = m["message_id"];
    body_for[to] = m["parts"][0]["body"];
  }
  REQUIRE(id_for.size() == 3);
  CHECK_THAT(id_for["lea@example.fr"], Catch::StartsWith("<relance.") && Catch::EndsWith("@relance.example.org>"));
  // The service must have read the (empty) mailbox once, so what comes next is new mail.
  REQUIRE(wait_until([&] { return v.text("SELECT COALESCE(MAX(value), '') FROM kv WHERE key = 'email.imap.cursor'") != ""; }, 10s));

  // The answers come in during the morning (Léa's is dated 11:42 Paris).
  clock.advance(std::chrono::hours(2));
  imap.deliver(newsletter());
  imap.deliver(gmail_reply(id_for["lea@example.fr"], "Bonjour Léa, nous avons remarqué votre absence"));
  imap.deliver(out_of_office(id_for["bruno@example.fr"]));
  imap.deliver(postfix_bounce(id_for["chloe@exmaple.fr"]));

  INFO(imap.log_tail());
  // Léa: her words in the case's thread, without the quoted reminder.
  REQUIRE(wait_until([&] { return v.staff_told("alert.learner_reply", "Je reprends les modules"); }, 20s));
  std::string reply_post;
  for (const auto& [key, text] : v.staff_posts())
    if (key == "alert.learner_reply") reply_post = text;
  CHECK_THAT(reply_post, Catch::Contains("Désolée, j'ai eu un souci d'ordinateur."));
  CHECK_THAT(reply_post, !Catch::Contains("a écrit"));
  CHECK_THAT(reply_post, !Catch::Contains("nous avons remarqué"));
  CHECK_THAT(reply_post, Catch::Contains("Léa Dupré"));
  // Found by In-Reply-To although she wrote from another address; a sign of
  // life dated when relance read it (its Date: header, 10:42 UTC, is only the
  // sender's claim), and the case resumes.
  CHECK(v.text("SELECT sender FROM inbound_message WHERE kind = 'reply'") == "lea.perso@gmail.com");
  CHECK(v.count("SELECT COUNT(*) FROM inbound_message i JOIN learner l ON l.key = i.learner_key "
                "WHERE l.id = 'A-1' AND i.channel = 'email' AND i.provider_id = 'CAF7xq=ZL3q2@mail.gmail.com'") == 1);
  REQUIRE(wait_until([&] {
    return v.count("SELECT COUNT(*) FROM learner_case c JOIN learner l ON l.key = c.learner_key "
                   "WHERE l.id = 'A-1' AND c.state = 'resumed'") == 1;
  }));
  const auto read_at = v.count("SELECT last_message FROM learner WHERE id = 'A-1'");
  CHECK(read_at != to_unix(utc("2026-11-23T10:42:17Z")));
  CHECK(read_at >= to_unix(utc("2026-11-23T09:00:00Z")));
  CHECK(read_at <= to_unix(clock()));

  // Bruno: his out-of-office is shown, but his case stays open.
  REQUIRE(wait_until([&] { return v.staff_told("alert.learner_auto_reply", "absent jusqu'au 3 décembre"); }, 20s));
  CHECK(v.count("SELECT COUNT(*) FROM learner_case c JOIN learner l ON l.key = c.learner_key "
                "WHERE l.id = 'B-1' AND c.state = 'open'") == 1);
  CHECK(v.count("SELECT last_message FROM learner WHERE id = 'B-1'") == 0);

  // Chloé: our email is marked undelivered, with the server's reason.
  const auto chloe = v.learner_rows("email", "C-1");
  REQUIRE(chloe.size() == 1);
  REQUIRE(wait_until([&] { return v.outbox(chloe[0].id)->delivery == "failed"; }, 20s));
  CHECK_THAT(v.outbox(chloe[0].id)->delivery_detail, Catch::Contains("5.1.1") && Catch::Contains("User unknown"));
  REQUIRE(wait_until([&] { return v.staff_told("alert.message_undelivered", "Chloé"); }));

  // The newsletter: not stored, not posted.
  REQUIRE(wait_until([&] {
    return v.text("SELECT value FROM kv WHERE key = 'email.imap.cursor'").ends_with(":4");
  }, 20s));
  CHECK(v.count("SELECT COUNT(*) FROM inbound_message") == 2);
  CHECK_FALSE(v.staff_told("alert.learner_unknown", "cartouches"));
  const auto posts_before = v.staff_posts().size();
  const auto cursor_before = v.text("SELECT value FROM kv WHERE key = 'email.imap.cursor'");

  // The mailbox is restored from a backup while the service is down: a new
  // UIDVALIDITY, the same four messages under new UIDs. Read again, they
  // change nothing.
  svc.reset();
  imap.reset_uidvalidity();
  svc.emplace(*f.engine, clock);
  REQUIRE(wait_until([&] {
    const auto c = v.text("SELECT value FROM kv WHERE key = 'email.imap.cursor'");
    return c != cursor_before && c.ends_with(":4");
  }, 20s));
  CHECK(v.count("SELECT COUNT(*) FROM inbound_message") == 2);
  CHECK(v.staff_posts().size() == posts_before);
  CHECK(svc->running());
}
