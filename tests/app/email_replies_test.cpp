// Learners' email replies in the engine, on a real SQLite file: a reply to
// one of our emails names its learner even from another address; the From
// address finds them otherwise; mail from nobody we know is left alone; an
// out-of-office is shown to staff but is no sign of life; a Message-ID seen
// again changes nothing; a bounce marks our email undelivered.
#include "test_support.hpp"

#include "messages/render/staff.hpp"
#include "bot/app/inbound.hpp"
#include "store/repositories.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using relance::test::utc;

namespace {

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

struct Scene {
  test::Fixture f{config_toml};
  Timestamp now = utc("2026-11-23T09:00:00Z");
  std::int64_t key = 0;
  std::int64_t email_id = 0;  // our relaunch email's outbox id

  Scene() {
    Learner l;
    l.id = "L1";
    l.first_name = "Léa";
    l.last_name = "Martin";
    l.email = "lea.martin@example.fr";
    l.cohort = "bureautique";
    l.activity.observe(Source::lms, now - std::chrono::days(11));
    store::WriteTransaction tx(*f.db);
    f.engine->upsert_learner(l, now);
    tx.commit();
    key = l.key;
    f.engine->scan(now);
    store::OutboxRepo outbox(*f.db);
    const auto mails = outbox.pending("email");
    REQUIRE(mails.size() == 1);
    email_id = mails.front().id;
  }

  app::Received receive(app::IncomingMessage m, Timestamp at) {
    store::WriteTransaction tx(*f.db);
    const auto r = f.engine->receive_message(m, at);
    tx.commit();
    return r;
  }
  int count(const std::string& sql) { return f.db->sql().execAndGet(sql).getInt(); }
  std::vector<std::string> staff_posts() {
    store::OutboxRepo outbox(*f.db);
    std::vector<std::string> out;
    for (const auto& item : outbox.pending("staff")) out.push_back(f.engine->render_outbox(item));
    return out;
  }
};

app::IncomingMessage mail(std::string message_id, std::string from, std::string text) {
  app::IncomingMessage m;
  m.channel = "email";
  m.provider = "imap";
  m.provider_id = std::move(message_id);
  m.sender = std::move(from);
  m.text = std::move(text);
  return m;
}

}  // namespace

TEST_CASE("an email answering our relaunch names its learner even from another address and is a sign of life",
          "[email][inbound]") {
  Scene s;
  const auto before = s.staff_posts().size();
  auto m = mail("CAF=abc@mail.gmail.com", "lea.perso@gmail.com", "Bonjour, j'ai eu un souci <b>d'ordinateur</b>, je reprends demain @all");
  m.answers = s.email_id;
  m.sent_at = s.now + std::chrono::hours(1);
  CHECK(s.receive(m, s.now + std::chrono::hours(2)) == app::Received::reply);

  store::InboundRepo inbound(*s.f.db);
  const auto stored = inbound.for_learner(s.key);
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].channel == "email");
  CHECK(stored[0].sender == "lea.perso@gmail.com");
  CHECK(stored[0].kind == "reply");
  CHECK(stored[0].case_id == 1);
  // The sign of life is when relance read it, not the Date: header it
  // carries (the sender's clock, or a forgery), and the case closes as resumed.
  CHECK(s.count("SELECT last_message FROM learner WHERE id = 'L1'") == to_unix(s.now + std::chrono::hours(2)));
  CHECK(s.count("SELECT sent_at FROM inbound_message") == to_unix(s.now + std::chrono::hours(1)));  // kept, as claimed
  CHECK(s.count("SELECT COUNT(*) FROM learner_case WHERE state = 'resumed'") == 1);
  const auto posts = s.staff_posts();
  REQUIRE(posts.size() >= before + 2);
  CHECK_THAT(posts[before], Catch::Contains("a répondu"));
  CHECK_THAT(posts[before], Catch::Contains("je reprends demain"));
  CHECK(render::escape_markdown(posts[before]).find("@all") == std::string::npos);
  CHECK(render::escape_html(posts[before]).find("<b>") == std::string::npos);

  SECTION("the same Message-ID read again (a mailbox recreated) changes nothing") {
    const int rows = s.count("SELECT COUNT(*) FROM outbox");
    CHECK(s.receive(m, s.now + std::chrono::hours(3)) == app::Received::duplicate);
    CHECK(inbound.count() == 1);
    CHECK(s.count("SELECT COUNT(*) FROM outbox") == rows);
  }
}

TEST_CASE("an email from the learner's known address counts without In-Reply-To, any case", "[email][inbound]") {
  Scene s;
  CHECK(s.receive(mail("m1@example.fr", "lea.martin@example.fr", "Je suis malade cette semaine."), s.now) ==
        app::Received::reply);
  CHECK(s.count("SELECT COUNT(*) FROM learner_case WHERE state = 'resumed'") == 1);
  // Addresses are compared in lower case (the reader lower-cases From; the
  // API and the import store them so).
  CHECK(s.count("SELECT COUNT(*) FROM inbound_message WHERE learner_key IS NOT NULL") == 1);
}

TEST_CASE("an email from nobody we know answering none of ours is left alone", "[email][inbound]") {
  Scene s;
  const auto before = s.staff_posts().size();
  const int rows = s.count("SELECT COUNT(*) FROM outbox");
  CHECK(s.receive(mail("promo@fournisseur.fr", "newsletter@fournisseur.fr", "Nos offres de Noël"), s.now) ==
        app::Received::not_ours);
  CHECK(s.count("SELECT COUNT(*) FROM inbound_message") == 0);
  CHECK(s.count("SELECT COUNT(*) FROM outbox") == rows);
  CHECK(s.staff_posts().size() == before);
  CHECK(s.count("SELECT COUNT(*) FROM learner_case WHERE state = 'open'") == 1);
}

TEST_CASE("an out-of-office answer is shown to staff but is not a sign of life", "[email][inbound]") {
  Scene s;
  const auto before = s.staff_posts().size();
  auto m = mail("ooo-1@example.fr", "lea.martin@example.fr", "Je suis absente jusqu'au 3 décembre.");
  m.answers = s.email_id;
  m.automatic = true;
  CHECK(s.receive(m, s.now + std::chrono::hours(1)) == app::Received::auto_reply);
  CHECK(s.count("SELECT COUNT(*) FROM inbound_message WHERE kind = 'auto_reply'") == 1);
  CHECK(s.count("SELECT COUNT(*) FROM learner_case WHERE state = 'open'") == 1);
  CHECK(s.count("SELECT last_message FROM learner WHERE id = 'L1'") == 0);
  const auto posts = s.staff_posts();
  REQUIRE(posts.size() == before + 1);
  CHECK_THAT(posts[before], Catch::Contains("réponse automatique"));
  CHECK_THAT(posts[before], Catch::Contains("jusqu'au 3 décembre"));
  CHECK_THAT(posts[before], Catch::Contains("pas un signe de vie"));
}

TEST_CASE("a bounce for our email marks it undelivered and tells staff in the case", "[email][inbound]") {
  Scene s;
  {
    store::WriteTransaction tx(*s.f.db);
    store::OutboxRepo(*s.f.db).mark_sent_via(s.email_id, s.now, "smtp", "");
    tx.commit();
  }
  const auto before = s.staff_posts().size();
  {
    store::WriteTransaction tx(*s.f.db);
    s.f.engine->record_delivery(s.email_id, "smtp", "", "failed", "5.1.1 smtp; 550 5.1.1 user unknown", s.now);
    tx.commit();
  }
  CHECK(s.count("SELECT COUNT(*) FROM outbox WHERE delivery = 'failed' AND channel = 'email'") == 1);
  const auto posts = s.staff_posts();
  REQUIRE(posts.size() == before + 1);
  CHECK_THAT(posts[before], Catch::Contains("n'a pas été distribué"));
  CHECK_THAT(posts[before], Catch::Contains("550 5.1.1 user unknown"));
}
