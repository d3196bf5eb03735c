// Email to learners, end to end: the real service sends procedure 000's
// 10-day reminder through [email] to a real SMTP server (the recipes' aiosmtpd
// sink, plain SMTP so require_tls = false), and what arrived is decoded by
// Python's email package (tests/adapters/email/parse_eml.py), a parser
// independent of ours. A server refusing the address (550) and one busy
// (451) show what staff see and what is retried.
#include "channels_harness.hpp"
#include "smtp_sink.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace relance;
using namespace relance::test::channels_scn;
using nlohmann::json;
using test::utc;
using test::wait_until;
namespace fs = std::filesystem;

namespace {

using namespace relance::test::smtp_scn;

// Procedure 000 as in deploy/relance.example.toml.
std::string config_text(const std::string& smtp_url) {
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
  name = "rappel à 10 jours"
  action = "message"
  means = "email"
  role = "pedagogie"
  template = "reminder_10d"
  [[plan.step]]
  name = "contact prioritaire à 30 jours"
  action = "task"
  means = "phone"
  role = "pedagogie"
  template = "call_30d"
  at_inactive_days = 30
  priority = true

[[policy]]
id = "000-elearning"
label = "Procédure 000 — plateforme e-learning"
cohorts = ["bureautique-en-ligne"]
sources = ["lms"]
condition = "inactive_for"
days = 10
plan = "plan-000"

[email]
smtp_url = ")" + smtp_url + R"("
from = "Centre Cœur & Forêt <relance@example.org>"
require_tls = false
reply_to = "secretariat@example.org"
message_id_domain = "relance.example.org"
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

std::string lf(std::string s) {  // Python hands back LF line endings
  for (auto p = s.find("\r\n"); p != std::string::npos; p = s.find("\r\n", p)) s.erase(p, 1);
  return s;
}

}  // namespace

TEST_CASE("email: procedure 000's 10-day reminder arrives through the real SMTP server", "[learner][email][scenario]") {
  REQUIRE_SINK();
  Sink sink("smtp_sink_handler.MaildirSink");
  TestClock clock(utc("2026-11-23T09:00:00Z"));  // Monday 10:00 Paris
  test::Fixture f(config_text(sink.url()));
  add_learners(*f.engine, {learner("A-1", "Léa", "Dupré-Çelik", "lea@example.fr", clock() - std::chrono::days(11))},
               clock());
  Service svc(*f.engine, clock);
  View v(f);

  std::vector<json> index;
  REQUIRE(wait_until([&] { return (index = sink.index()).size() == 1; }, 20s));
  const auto rows = v.learner_rows("email", "A-1");
  REQUIRE(rows.size() == 1);
  REQUIRE(wait_until([&] { return v.outbox(rows[0].id)->status == "sent"; }));
  const auto row = *v.outbox(rows[0].id);
  CHECK(row.template_key == "learner.reminder_10d");
  CHECK(row.provider == "smtp");
  CHECK(row.attempts == 1);
  const auto expected = v.engine.render_learner(row);

  CHECK(index[0]["mail_from"] == "relance@example.org");
  CHECK(index[0]["rcpt_tos"] == json::array({"lea@example.fr"}));
  const auto m = sink.parsed(index[0]);
  INFO(m.dump(2));
  CHECK(m["defects"].empty());
  CHECK(m["to"] == json({{"name", "Léa Dupré-Çelik"}, {"addr", "lea@example.fr"}}));
  CHECK(m["from"] == json({{"name", "Centre Cœur & Forêt"}, {"addr", "relance@example.org"}}));
  CHECK(m["reply_to"]["addr"] == "secretariat@example.org");
  // The subject, RFC 2047-encoded on the wire, decoded whole.
  CHECK(m["subject"] == "Léa, votre formation bureautique-en-ligne vous attend");
  CHECK(m["subject"] == expected.subject);
  CHECK(m["message_id"] == "<relance." + std::to_string(row.id) + "@relance.example.org>");
  CHECK(m["content_type"] == "multipart/alternative");
  REQUIRE(m["parts"].size() == 2);
  CHECK(m["parts"][0]["type"] == "text/plain");
  CHECK(m["parts"][1]["type"] == "text/html");
  const std::string text = lf(m["parts"][0]["body"]), html = lf(m["parts"][1]["body"]);
  CHECK(text == expected.body);
  CHECK_THAT(text, Catch::StartsWith("Bonjour Léa,") && Catch::Contains("https://formation.example.org/cours") &&
                       Catch::Contains("L’équipe Centre de formation Cœur & Forêt"));
  CHECK_THAT(html, Catch::Contains("Bonjour Léa,") &&
                       Catch::Contains("<a href=\"https://formation.example.org/cours\">") &&
                       Catch::Contains("Cœur &amp; Forêt"));
  CHECK(m["bare_lf"] == 0);
  CHECK(m["max_line"] <= 78);
  // Once: the case goes on to its 30-day step, no second email.
  CHECK_FALSE(wait_until([&] { return sink.index().size() > 1; }, 500ms));
  CHECK(svc.running());
}

TEST_CASE("email: an address the server refuses fails and staff are told, a busy server is retried",
          "[learner][email][scenario]") {
  REQUIRE_SINK();
  // The recipe's sink, except RCPT unknown@... gets 550 and busy@... 451.
  Sink sink("reject_sink.RejectingSink");
  TestClock clock(utc("2026-11-23T09:00:00Z"));
  test::Fixture f(config_text(sink.url()));
  const Timestamp last = clock() - std::chrono::days(11);
  add_learners(*f.engine,
               {learner("U-1", "Ugo", "Inconnu", "unknown@example.fr", last),
                learner("B-1", "Bérénice", "Occupée", "busy@example.fr", last)},
               clock());
  Service svc(*f.engine, clock);
  View v(f);

  REQUIRE(wait_until([&] { return v.learner_rows("email", "U-1").size() == 1 && v.learner_rows("email", "B-1").size() == 1; }, 20s));
  const auto refused = v.learner_rows("email", "U-1")[0].id;
  const auto busy = v.learner_rows("email", "B-1")[0].id;

  // 550: permanent, not retried; the case's people are told to reach Ugo otherwise.
  REQUIRE(wait_until([&] { return v.outbox(refused)->status == "failed"; }, 20s));
  CHECK_THAT(v.outbox(refused)->last_error, Catch::Contains("550"));
  REQUIRE(wait_until([&] { return v.staff_told("alert.message_failed", "Ugo"); }));
  CHECK(v.staff_told("alert.message_failed", "550"));

  // 451: transient, kept for a later attempt with backoff.
  REQUIRE(wait_until([&] { return v.outbox(busy)->attempts == 1; }, 20s));
  auto row = *v.outbox(busy);
  CHECK(row.status == "pending");
  CHECK_THAT(row.last_error, Catch::Contains("451"));
  CHECK(row.next_attempt >= clock() + std::chrono::seconds(50));
  CHECK_FALSE(v.staff_told("alert.message_failed", "Bérénice"));

  // A minute later the service tries again (still busy: a second attempt).
  clock.advance(std::chrono::seconds(61));
  REQUIRE(poke_scan(svc.port()) == 200);
  REQUIRE(wait_until([&] { return v.outbox(busy)->attempts == 2; }, 20s));
  CHECK(v.outbox(busy)->status == "pending");
  CHECK(v.outbox(refused)->attempts == 1);
  CHECK(sink.index().empty());
}
