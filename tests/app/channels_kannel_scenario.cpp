// A real Kannel round trip through the real service: a relaunch step sends
// an SMS with French accents through Kannel (sendsms, UCS-2, concatenated),
// fakesmsc receives it intact; Kannel's delivery reports come back to
// /hooks/sms/kannel/dlr and are recorded on the outbox row; the learner's
// reply, injected at fakesmsc, comes through Kannel's sms-service to
// /hooks/sms/kannel, is stored, closes the case as a sign of life and is
// posted for staff; STOP opts the learner out.
#include "channels_harness.hpp"
#include "kannel_process.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::test;
using namespace relance::test::channels_scn;

namespace {

const char* kannel_secret = "kannel-scenario-secret-0123456789";

std::string config_toml(std::uint16_t port, const KannelProcess& k) {
  return R"(
[organisation]
name = "Centre « Forêt & Cœur »"
timezone = "Europe/Paris"
platform_url = "https://formation.example.org"

[http]
port = )" + std::to_string(port) +
         R"(

[roles]
secretariat = "Secrétariat"

[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]

[[plan]]
id = "ladder"
on_exhausted = "keep_open"
  [[plan.step]]
  action = "message"
  means = "sms"
  role = "secretariat"
  template = "ladder_1"

[[policy]]
id = "001"
cohorts = ["permis-b"]
sources = ["lesson", "message"]
days = 90
plan = "ladder"

[sms]
gateway = "kannel"
max_parts = 6
[sms.kannel]
sendsms_url = ")" + k.sendsms_url() +
         R"("
username = ")" + k.username() + R"("
password = ")" + k.password() +
         R"("
from = "12345"
public_url = "http://127.0.0.1:)" +
         std::to_string(port) + R"("
secret = ")" + kannel_secret + R"("
)";
}

// The UTF-8 text of fakesmsc's MT lines: concatenated parts in order, UCS-2 decoded.
std::string received_text(const std::vector<KannelMt>& mts) {
  std::string utf16, text;
  bool ucs2 = false;
  std::vector<const KannelMt*> parts;
  for (const auto& m : mts) parts.push_back(&m);
  std::sort(parts.begin(), parts.end(), [](auto* a, auto* b) { return a->concat_seq < b->concat_seq; });
  for (const auto* m : parts) {
    if (m->type == "ucs-2" || (m->type == "udh" && m->data.size() % 2 == 0 && !m->data.empty() && m->data[0] == '\0')) {
      ucs2 = true;
      utf16 += m->data;
    } else {
      text += m->text;
    }
  }
  return ucs2 ? utf16be_to_utf8(utf16) : text;
}

}  // namespace

TEST_CASE("Kannel round trip: accents intact, delivery report recorded, reply and STOP reach the case",
          "[learner][sms][kannel][scenario]") {
  if (const auto why = KannelProcess::missing(); !why.empty()) FAIL(why);
  const std::uint16_t port = free_port();
  KannelOptions ko;
  ko.bot_url = "http://127.0.0.1:" + std::to_string(port) + "/hooks/sms/kannel?secret=" + kannel_secret;
  KannelProcess kannel(ko);
  Fixture f(config_toml(port, kannel));
  {
    Learner l;
    l.id = "L1";
    l.first_name = "Hélène-Françoise";
    l.last_name = "Test";
    l.phone = "+33600000001";
    l.cohort = "permis-b";
    l.activity.observe(Source::lesson, utc("2026-08-01T09:00:00Z"));
    store::WriteTransaction tx(*f.db);
    f.engine->upsert_learner(l, utc("2026-11-23T09:00:00Z"));
    tx.commit();
  }
  TestClock clock(utc("2026-11-23T09:00:00Z"));  // Monday 10:00 in Paris: the window is open
  Service svc(*f.engine, clock);
  DbView view(f.config.database);

  // Out: the relaunch reaches the handset intact.
  INFO(kannel.logs());
  REQUIRE(kannel.wait_mt(1, std::chrono::seconds(20)));
  // The other parts of a concatenated SMS follow: wait for the whole text.
  wait_until([&] {
    const std::string t = received_text(kannel.mt());
    return t.find("Bonjour Hélène-Françoise") != std::string::npos && t.find("« Forêt & Cœur »") != std::string::npos;
  }, std::chrono::seconds(10));
  const auto mts = kannel.mt();
  const std::string got = received_text(mts);
  INFO("fakesmsc got: " << got);
  CHECK_THAT(got, Catch::Contains("Bonjour Hélène-Françoise"));
  CHECK_THAT(got, Catch::Contains("« Forêt & Cœur »"));
  CHECK_THAT(mts.front().to, Catch::Contains("33600000001"));
  REQUIRE(wait_until([&] { return view.count("SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND status = 'sent'") == 1; }));
  CHECK(view.text("SELECT provider FROM outbox WHERE channel = 'sms'") == "kannel");

  // Delivery reports (fake SMSC: 8 then 1) land on the row: delivered.
  CHECK(wait_until([&] { return view.count("SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND delivery = 'delivered'") == 1; },
                   std::chrono::seconds(20)));

  // In: the learner answers from the handset.
  kannel.inject_text("33600000001", "12345", "Merci, ça va mieux : je reviens lundi à 9 h !");
  REQUIRE(wait_until([&] { return view.count("SELECT COUNT(*) FROM inbound_message WHERE provider = 'kannel'") == 1; },
                     std::chrono::seconds(20)));
  CHECK(view.text("SELECT body FROM inbound_message") == "Merci, ça va mieux : je reviens lundi à 9 h !");
  CHECK(view.text("SELECT sender FROM inbound_message") == "+33600000001");
  CHECK(view.count("SELECT COUNT(*) FROM inbound_message WHERE case_id = 1") == 1);
  CHECK(wait_until([&] { return view.count("SELECT COUNT(*) FROM learner_case WHERE state = 'resumed'") == 1; }));
  CHECK(view.count("SELECT COUNT(*) FROM outbox WHERE channel = 'staff' AND template = 'alert.learner_reply'") == 1);

  // STOP, in capitals with an accent, through Kannel: consent log and flag.
  kannel.inject_text("33600000001", "12345", "ARRÊT");
  REQUIRE(wait_until([&] { return view.count("SELECT COUNT(*) FROM consent_log WHERE action = 'opt_out'") == 1; },
                     std::chrono::seconds(20)));
  CHECK(view.count("SELECT COUNT(*) FROM learner WHERE id = 'L1' AND sms_opt_out > 0") == 1);
  CHECK(view.text("SELECT message FROM consent_log") == "ARRÊT");
}
