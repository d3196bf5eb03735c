// The register tells what happened, when it happened (issue: "the register
// must not claim what did not happen"). Through the engine on a real SQLite
// file: a bot relaunch is "queued" until the dispatcher records that it left,
// then "sent" at that time, "delivered" or "failed" from the provider; a step
// on a channel that is not configured is a task, never a relaunch; the
// return rate counts only messages that left. And a learner's answer stops the
// ladder even when the policy does not count messages as activity.
#include "test_support.hpp"

#include "bot/app/export.hpp"
#include "store/repositories.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace relance;
using relance::test::utc;

namespace {

const std::string ladder_toml = R"(
[organisation]
name = "Auto-école test"
timezone = "Europe/Paris"
platform_url = "https://lms.test"

[roles]
secretariat = "Secrétariat"
pedagogie = "Responsable pédagogique"

[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat", "pedagogie"]

[[plan]]
id = "ladder"
on_exhausted = "dropout"
dropout_after_days = 7
  [[plan.step]]
  name = "1re relance"
  action = "message"
  means = "sms"
  role = "secretariat"
  template = "ladder_1"
  [[plan.step]]
  name = "2e relance"
  action = "message"
  means = "email"
  role = "pedagogie"
  template = "ladder_2"
  after_days = 7

# Procedure 001 counts lessons, logins and visits: not messages.
[[policy]]
id = "001"
cohorts = ["permis-b"]
sources = ["lesson", "lms", "visit"]
days = 90
plan = "ladder"
)";

struct World {
  explicit World(bool channels)
      : f(ladder_toml + (channels ? std::string(test::learner_channels_toml) : std::string())) {}
  test::Fixture f;

  void add_learner(Timestamp now) {
    Learner l;
    l.id = "L1";
    l.first_name = "Léa";
    l.last_name = "Martin";
    l.phone = "+33612345678";
    l.email = "lea.martin@example.fr";
    l.cohort = "permis-b";
    l.activity.observe(Source::lesson, now - std::chrono::days(91));
    store::WriteTransaction tx(*f.db);
    f.engine->upsert_learner(l, now);
    tx.commit();
  }
  int count(const std::string& sql) { return f.db->sql().execAndGet(sql).getInt(); }
  std::string text(const std::string& sql) { return f.db->sql().execAndGet(sql).getString(); }
  std::string command(const std::string& line, Timestamp now) { return f.engine->handle_command("marie", line, now).text; }
  std::string register_csv(Timestamp now) {
    const auto out = f.dir / "register.csv";
    app::RegisterOptions o;
    o.format = app::RegisterFormat::csv;
    app::export_register(*f.engine, out, o, now);
    std::ifstream in(out);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::vector<std::string> staff_posts() {
    std::vector<std::string> out;
    store::OutboxRepo outbox(*f.db);
    for (const auto& item : outbox.pending("staff")) out.push_back(f.engine->render_outbox(item));
    return out;
  }
  store::OutboxItem the_sms() {
    store::OutboxRepo outbox(*f.db);
    auto rows = outbox.pending("sms");
    REQUIRE(rows.size() == 1);
    return rows.front();
  }
};

bool any_contains(const std::vector<std::string>& posts, const std::string& needle) {
  for (const auto& p : posts)
    if (p.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("without [sms] or [email], a messaging step is a task for staff and nothing claims it was sent",
          "[engine][register][truth]") {
  World w(false);
  const Timestamp now = utc("2026-11-23T09:00:00Z");  // a Monday, 10:00 in Paris
  w.add_learner(now);
  w.f.engine->scan(now);

  CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE channel IN ('sms','email','matrix')") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM relaunch") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM task WHERE case_id = 1 AND means = 'sms' AND done_at IS NULL") == 1);
  CHECK(w.count("SELECT COUNT(*) FROM journal WHERE action = 'step.task' AND detail LIKE '%channel not configured%'") == 1);
  CHECK(w.count("SELECT COUNT(*) FROM journal WHERE action IN ('step.sent','step.queued')") == 0);
  const auto posts = w.staff_posts();
  CHECK(any_contains(posts, "n'est pas configuré"));
  CHECK_FALSE(any_contains(posts, "programmé"));

  const std::string show = w.command("dossier 1", now);
  CHECK_THAT(show, Catch::Contains("Aucune relance"));
  CHECK_THAT(show, !Catch::Contains("envoyé"));
  CHECK_THAT(w.register_csv(now), !Catch::Contains("SMS"));
  CHECK_THAT(app::render_stats(*w.f.engine, std::nullopt, now), Catch::Contains("aucune relance"));

  // Staff do it by hand and log it: that is the relaunch.
  CHECK_THAT(w.command("relance 1 sms message \"SMS envoyé depuis le téléphone de l'accueil\"", now + std::chrono::hours(1)),
             Catch::Contains("Relance notée"));
  CHECK(w.count("SELECT COUNT(*) FROM relaunch WHERE automatic = 0 AND means = 'sms'") == 1);
  CHECK(w.count("SELECT COUNT(*) FROM task WHERE case_id = 1 AND done_at IS NULL") == 0);
}

TEST_CASE("a bot relaunch shows queued, then sent at the time it left, then delivered or failed", "[engine][register][truth]") {
  World w(true);
  // Saturday 21:30 in Paris: quiet hours, the SMS waits until Monday 08:00.
  const Timestamp sat = utc("2026-11-21T20:30:00Z");
  w.add_learner(sat);
  w.f.engine->scan(sat);
  const store::OutboxItem sms = w.the_sms();
  CHECK(sms.not_before == utc("2026-11-23T07:00:00Z"));

  CHECK(w.text("SELECT result FROM relaunch WHERE case_id = 1") == "queued");
  CHECK(w.count("SELECT at FROM relaunch WHERE case_id = 1") == to_unix(sat));
  CHECK(w.count("SELECT outbox_id FROM relaunch WHERE case_id = 1") == sms.id);
  CHECK(w.count("SELECT COUNT(*) FROM journal WHERE action = 'step.queued'") == 1);
  CHECK(w.count("SELECT COUNT(*) FROM journal WHERE action = 'step.sent'") == 0);
  CHECK_THAT(w.command("dossier 1", sat), Catch::Contains("en attente d'envoi"));
  CHECK_THAT(w.register_csv(sat), Catch::Contains("SMS automatique (en attente d'envoi)"));
  CHECK_THAT(app::render_stats(*w.f.engine, std::nullopt, sat), Catch::Contains("aucune relance"));

  SECTION("it left on Monday at 08:00:05: sent, at that time; delivered later keeps that time") {
    const Timestamp left = utc("2026-11-23T07:00:05Z");
    {
      store::WriteTransaction tx(*w.f.db);
      w.f.engine->learner_message_sent(sms, "kannel", "", left);
      tx.commit();
    }
    CHECK(w.text("SELECT result FROM relaunch WHERE case_id = 1") == "sent");
    CHECK(w.count("SELECT at FROM relaunch WHERE case_id = 1") == to_unix(left));
    CHECK(w.count("SELECT COUNT(*) FROM journal WHERE action = 'message.sent' AND at = " + std::to_string(to_unix(left))) == 1);
    CHECK_THAT(w.command("dossier 1", left), Catch::Contains("23/11/2026 08:00") && Catch::Contains("envoyé"));
    CHECK_THAT(w.register_csv(left), Catch::Contains("23/11/2026") && Catch::Contains("SMS automatique (envoyé)"));
    CHECK_THAT(app::render_stats(*w.f.engine, std::nullopt, left), Catch::Contains("(0/1)"));

    {
      store::WriteTransaction tx(*w.f.db);
      w.f.engine->record_delivery(sms.id, "kannel", "", "delivered", "", left + std::chrono::seconds(20));
      tx.commit();
    }
    CHECK(w.text("SELECT result FROM relaunch WHERE case_id = 1") == "delivered");
    CHECK(w.count("SELECT at FROM relaunch WHERE case_id = 1") == to_unix(left));
    CHECK_THAT(w.register_csv(left), Catch::Contains("SMS automatique (distribué)"));
    // A late "sent" never takes it back.
    {
      store::WriteTransaction tx(*w.f.db);
      w.f.engine->learner_message_sent(sms, "kannel", "", left + std::chrono::minutes(1));
      tx.commit();
    }
    CHECK(w.text("SELECT result FROM relaunch WHERE case_id = 1") == "delivered");

    // The learner comes back on Wednesday: the SMS that left earns the return.
    const Timestamp back = utc("2026-11-25T17:00:00Z");
    {
      store::WriteTransaction tx(*w.f.db);
      w.f.engine->record_activity(1, Source::lesson, back, back, "test");
      tx.commit();
    }
    CHECK_THAT(app::render_stats(*w.f.engine, std::nullopt, back), Catch::Contains("(1/1)"));
  }

  SECTION("the gateway refused it: failed, with the reason; not a relaunch in the return rate") {
    const Timestamp at = utc("2026-11-23T07:00:03Z");
    {
      store::WriteTransaction tx(*w.f.db);
      w.f.engine->learner_message_failed(sms, "403 Forbidden: bad credentials", false, at);
      tx.commit();
    }
    CHECK(w.text("SELECT result FROM relaunch WHERE case_id = 1") == "failed");
    CHECK(w.text("SELECT comment FROM relaunch WHERE case_id = 1") == "403 Forbidden: bad credentials");
    CHECK_THAT(w.command("dossier 1", at), Catch::Contains("échec d'envoi") && Catch::Contains("403 Forbidden"));
    CHECK_THAT(w.register_csv(at), Catch::Contains("SMS automatique (échec d'envoi)"));
    CHECK_THAT(app::render_stats(*w.f.engine, std::nullopt, at), Catch::Contains("aucune relance"));
  }

  SECTION("cancelled before it left (the learner opted out): not sent") {
    {
      store::WriteTransaction tx(*w.f.db);
      w.f.engine->learner_message_failed(sms, "opted out of SMS", true, sat + std::chrono::hours(1));
      tx.commit();
    }
    CHECK(w.text("SELECT result FROM relaunch WHERE case_id = 1") == "not_sent");
    CHECK_THAT(w.register_csv(sat), Catch::Contains("SMS automatique (non envoyé)"));
  }

  SECTION("the learner answers on Sunday, under a policy that does not count messages: the ladder stops") {
    const Timestamp sun = utc("2026-11-22T10:00:00Z");
    app::IncomingMessage m;
    m.channel = "sms";
    m.provider = "kannel";
    m.provider_id = "mo-1";
    m.sender = "+33612345678";
    m.text = "je reprends demain";
    {
      store::WriteTransaction tx(*w.f.db);
      CHECK(w.f.engine->receive_message(m, sun) == app::Received::reply);
      tx.commit();
    }
    // Still open (the policy does not count messages), but answered: staff conclude.
    CHECK(w.text("SELECT state FROM learner_case WHERE id = 1") == "in_progress");
    CHECK(w.count("SELECT answered FROM learner_case WHERE id = 1") == 1);
    CHECK(w.count("SELECT COUNT(*) FROM learner_case WHERE id = 1 AND next_due IS NULL") == 1);
    CHECK(w.count("SELECT COUNT(*) FROM journal WHERE action = 'case.answered'") == 1);
    // The SMS waiting for Monday morning is withdrawn, and says why.
    CHECK(w.text("SELECT status FROM outbox WHERE id = " + std::to_string(sms.id)) == "cancelled");
    CHECK(w.text("SELECT result FROM relaunch WHERE case_id = 1") == "not_sent");
    CHECK_THAT(w.text("SELECT comment FROM relaunch WHERE case_id = 1"), Catch::Contains("répondu"));
    CHECK(w.count("SELECT COUNT(*) FROM journal WHERE action = 'message.cancelled' AND case_id = 1") == 1);
    CHECK(any_contains(w.staff_posts(), "plus de relance automatique"));
    // Weeks later: no email step, no declared dropout.
    for (int d : {7, 14, 30}) w.f.engine->scan(sat + std::chrono::days(d));
    CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE channel = 'email'") == 0);
    CHECK(w.text("SELECT state FROM learner_case WHERE id = 1") == "in_progress");
    CHECK_THAT(w.command("dossier 1", sat + std::chrono::days(30)), Catch::Contains("à conclure"));
  }
}
