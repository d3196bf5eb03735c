// Learners' email replies: how fast relance reads them.
//  1. Parsing alone (GMime + what relance decides: quotes stripped, kind,
//     refs): a Gmail reply, an Outlook out-of-office, a Postfix bounce, and a
//     reply carrying a 1 MiB attachment.
//  2. The mailbox: a real Dovecot holding N replies from N learners, read by
//     one EmailInbox::poll_once() (fresh connection, UID SEARCH, one UID FETCH
//     per message pinned to UIDVALIDITY, parse, store through the inbound
//     writer with the cursor, fsync) on a migrated SQLite file.
// Prints figures; never fails on speed.
//
//   bench_email_replies [--messages 2000] [--parse 20000]
#include "adapters/email/received.hpp"
#include "bot/app/email_inbox.hpp"
#include "dovecot_process.hpp"
#include "test_support.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace relance;
using clk = std::chrono::steady_clock;

namespace {

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

using test::crlf;

std::string gmail_reply(int i) {
  const std::string n = std::to_string(i);
  return crlf(R"(MIME-Version: 1.0
Date: Mon, 23 Nov 2026 11:42:17 +0100
References: <relance.)" + n + R"(@relance.example.org>
In-Reply-To: <relance.)" + n + R"(@relance.example.org>
Message-ID: <CAF7xq=)" + n + R"(@mail.gmail.com>
Subject: =?UTF-8?Q?Re=3A_L=C3=A9a=2C_votre_formation_vous_attend?=
From: =?UTF-8?Q?L=C3=A9a_Dupr=C3=A9?= <learner)" + n + R"(@example.fr>
To: secretariat@example.org
Content-Type: multipart/alternative; boundary="0000000000004a1b2c"

--0000000000004a1b2c
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Bonjour,

D=C3=A9sol=C3=A9e, j'ai eu un souci d'ordinateur. Je reprends les modules=
 d=C3=A8s demain.

L=C3=A9a

Le lun. 23 nov. 2026 =C3=A0 10:00, Centre C=C5=93ur & For=C3=AAt <
relance@example.org> a =C3=A9crit :

> Bonjour L=C3=A9a,
> Nous avons remarqu=C3=A9 que vous ne vous =C3=AAtes pas connect=C3=A9e
> depuis 10 jours. Votre formation vous attend : https://formation.example.org
>
> L=E2=80=99=C3=A9quipe

--0000000000004a1b2c
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Bonjour,<br><br>D=C3=A9sol=C3=A9e, j'ai eu un souci d'ordi=
nateur. Je reprends les modules d=C3=A8s demain.<br><br>L=C3=A9a</div><div =
class=3D"gmail_quote"><blockquote>Bonjour L=C3=A9a</blockquote></div>

--0000000000004a1b2c--
)");
}

const std::string out_of_office = crlf(R"(From: Bruno Marchal <bruno@example.fr>
Subject: =?iso-8859-1?Q?R=E9ponse_automatique=A0:_votre_formation?=
Date: Mon, 23 Nov 2026 10:00:05 +0000
Message-ID: <AM0PR01MB1234-ooo@EURPRD01.prod.outlook.com>
In-Reply-To: <relance.7@relance.example.org>
Auto-Submitted: auto-replied
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

Bonjour, je suis absent jusqu'au 3 d=E9cembre.
)");

const std::string bounce = crlf(R"(From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain; charset=us-ascii

<chloe@exmaple.fr>: host said: 550 5.1.1 User unknown

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; chloe@exmaple.fr
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <chloe@exmaple.fr>: User unknown

--B
Content-Type: text/rfc822-headers

Message-ID: <relance.9@relance.example.org>

--B--
)");

std::string with_attachment() {
  std::string b64;
  b64.reserve(1400 * 1024);
  for (int line = 0; line < 1024 * 1024 / 57; ++line) b64 += std::string(76, 'Q') + "\r\n";
  return crlf(R"(From: lea@example.fr
Message-ID: <att@example.fr>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: text/plain; charset=utf-8

Voici mon certificat médical.

--m
Content-Type: application/pdf; name="certificat.pdf"
Content-Disposition: attachment; filename="certificat.pdf"
Content-Transfer-Encoding: base64

)") + b64 + "\r\n--m--\r\n";
}

void parse_bench(const char* name, const std::string& raw, int n) {
  std::size_t check = 0;
  const auto t0 = clk::now();
  for (int i = 0; i < n; ++i) check += email::parse_received(raw).text.size();
  const double s = std::chrono::duration<double>(clk::now() - t0).count();
  std::printf("  %-22s %7.1f KiB  %9.0f msg/s  %7.1f MiB/s  (%zu)\n", name, double(raw.size()) / 1024.0, n / s,
              double(raw.size()) * n / s / 1048576.0, check / std::size_t(n));
}

}  // namespace

int main(int argc, char** argv) {
  int messages = 2000, parses = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--messages")) messages = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--parse")) parses = std::atoi(argv[i + 1]);
  }
  spdlog::set_level(spdlog::level::warn);

  std::printf("parsing (GMime + quotes, kind, refs), one thread:\n");
  parse_bench("Gmail reply", gmail_reply(1), parses);
  parse_bench("Outlook out-of-office", out_of_office, parses);
  parse_bench("Postfix bounce", bounce, parses);
  parse_bench("1 MiB attachment", with_attachment(), std::max(1, parses / 200));

  if (const auto why = test::DovecotProcess::missing(); !why.empty()) {
    std::printf("mailbox: skipped, %s\n", why.c_str());
    return 0;
  }
  test::DovecotProcess imap;
  test::Fixture fx(R"(
[organisation]
name = "Bench"
timezone = "Europe/Paris"
)");
  const Timestamp now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  {
    store::WriteTransaction tx(*fx.db);
    for (int i = 0; i < messages; ++i) {
      Learner l;
      l.id = "L" + std::to_string(i);
      l.first_name = "Léa";
      l.last_name = "N" + std::to_string(i);
      l.email = "learner" + std::to_string(i) + "@example.fr";
      l.cohort = "bureautique";
      l.activity.observe(Source::lms, now - std::chrono::days(3));
      fx.engine->upsert_learner(l, now);
    }
    tx.commit();
  }
  for (int i = 0; i < messages; ++i) imap.deliver(gmail_reply(i));

  app::InboundWriter writer(fx.config, *fx.zone, fx.catalog, fx.db->path(), [now] { return now; });
  email::ImapConfig c;
  c.url = imap.url();
  c.username = imap.username();
  c.password = imap.password();
  c.require_tls = false;
  c.first_read_days = 1;  // the mailbox already holds them: read from yesterday on
  app::EmailInbox inbox(c, writer, std::nullopt, [now] { return now; });
  const auto t0 = clk::now();
  const bool ok = inbox.poll_once();
  const double s = std::chrono::duration<double>(clk::now() - t0).count();
  const auto st = inbox.stats();
  const auto ws = writer.stats();
  std::printf("mailbox (Dovecot on loopback, one poll, synchronous=FULL):\n");
  std::printf("  %d replies read in %.2f s: %.0f msg/s, %.2f ms each (fetch + parse + store + fsync)%s\n", messages, s,
              double(st.fetched) / s, s * 1000.0 / std::max<double>(1, double(st.fetched)), ok ? "" : "  [poll failed]");
  std::printf("  stored %llu new message(s), %llu commit(s)\n", static_cast<unsigned long long>(ws.messages),
              static_cast<unsigned long long>(ws.commits));
  std::printf("peak RSS %.1f MiB\n", double(peak_rss_kib()) / 1024.0);
  return ok && ws.messages == std::uint64_t(messages) ? 0 : 1;
}
