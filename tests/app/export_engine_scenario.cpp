// Procedure 001 run by the engine for a month (scans, staff commands, a sign
// of life), then the register and the stats read what it stored: this is the
// contract between what the engine writes and what the evidence reads.
#include "bot/app/export.hpp"
#include "store/repositories.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>

using namespace relance;
using relance::test::utc;

namespace {

namespace chr = std::chrono;

// Its plans message learners: SMS and email are configured (nothing is
// sent: no dispatcher runs here), else their steps would be staff tasks.
const std::string config_toml = std::string(R"toml(
[organisation]
name = "Auto-école des Tilleuls"
timezone = "Europe/Paris"

[roles]
secretariat = "Secrétariat"
pedagogie = "Responsable pédagogique"
direction = "Direction"

[[staff]]
id = "marie"
name = "Marie (secrétariat)"
roles = ["secretariat"]

[[staff]]
id = "sophie"
name = "Sophie (direction)"
roles = ["direction"]

[[plan]]
id = "plan-001"
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
  [[plan.step]]
  name = "3e relance"
  action = "task"
  means = "phone"
  role = "direction"
  template = "ladder_3"
  after_days = 14
  optional = true

[[policy]]
id = "001-auto-ecole"
label = "Procédure 001 — auto-école"
cohorts = ["permis-b"]
sources = ["lesson", "booking", "lms", "visit", "call"]
days = 90
plan = "plan-001"
)toml") + std::string(test::learner_channels_toml);

void add(test::Fixture& f, std::string id, std::string first, std::string last, Timestamp last_lesson, Timestamp now) {
  Learner l;
  l.id = std::move(id);
  l.first_name = std::move(first);
  l.last_name = std::move(last);
  l.phone = "+33612345678";
  l.email = l.id + "@example.org";
  l.cohort = "permis-b";
  l.activity.observe(Source::lesson, last_lesson);
  store::WriteTransaction tx(*f.db);
  f.engine->upsert_learner(l, now);
  tx.commit();
}

std::int64_t case_of(test::Fixture& f, const std::string& learner_id) {
  return f.db->sql()
      .execAndGet("SELECT c.id FROM learner_case c JOIN learner l ON l.key = c.learner_key WHERE l.id = '" + learner_id + "'")
      .getInt64();
}

std::string command(test::Fixture& f, std::string_view who, const std::string& line, Timestamp now) {
  const app::Reply r = f.engine->handle_command(who, line, now);
  INFO(line << " -> " << r.text);
  REQUIRE(r.ok);
  return r.text;
}

// What the dispatcher does when it runs at `t`: every learner message due
// by then leaves (the gateway takes it at `t`).
void dispatch(test::Fixture& f, Timestamp t) {
  store::OutboxRepo outbox(*f.db);
  store::WriteTransaction tx(*f.db);
  for (const char* channel : {"sms", "email"})
    for (const auto& item : outbox.ready(channel, t, 1000)) f.engine->learner_message_sent(item, "test", "", t);
  tx.commit();
}

std::string run(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  REQUIRE(p);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
  return out;
}

}  // namespace

TEST_CASE("register and stats after a month of procedure 001 run by the engine", "[export][engine]") {
  test::Fixture f(config_toml);
  // Monday 2 March 2026, 10:00 in Paris; the month holds the spring DST change.
  const Timestamp day0 = utc("2026-03-02T09:00:00Z");
  const auto day = [&](int n) { return day0 + chr::days{n}; };

  add(f, "E001", "Élodie", "Lefèvre", day0 - chr::days{100}, day0);
  add(f, "E002", "Jérôme", "Dupré", day0 - chr::days{95}, day0);
  add(f, "E003", "Zoé", "Martin", day0 - chr::days{85}, day0);  // crosses 90 days on day 5

  f.engine->scan(day(0));  // SMS to Élodie and Jérôme
  dispatch(f, day(0));
  const auto elodie = case_of(f, "E001"), jerome = case_of(f, "E002");

  // Élodie is reached by phone, then comes back to a lesson.
  command(f, "marie", "relance " + std::to_string(elodie) + " tel joint \"reprend lundi; promis\"", day(2));
  {
    store::WriteTransaction tx(*f.db);
    const auto key = store::LearnerRepo(*f.db).find("E001")->key;
    f.engine->record_activity(key, Source::lesson, day(5), day(5), "api");
    tx.commit();
  }

  f.engine->scan(day(7));  // email to Jérôme; Zoé's case opens with its SMS
  dispatch(f, day(7));
  const auto zoe = case_of(f, "E003");
  f.engine->scan(day(21));  // Jérôme: the management's call (a task); Zoé: the email
  dispatch(f, day(21));
  command(f, "sophie", "relance " + std::to_string(jerome) + " tel injoignable \"messagerie pleine\"", day(21) + chr::hours(1));
  f.engine->scan(day(28));  // Jérôme: 7 days after the last step, declared a dropout

  REQUIRE(store::CaseRepo(*f.db).get(elodie)->state == CaseState::resumed);
  REQUIRE(store::CaseRepo(*f.db).get(jerome)->state == CaseState::dropped_out);
  REQUIRE(is_active(store::CaseRepo(*f.db).get(zoe)->state));

  const Timestamp now = day(28) + chr::hours(1);

  SECTION("the register") {
    const auto out = f.dir / "suivi.csv";
    CHECK(app::export_register(*f.engine, out, {app::RegisterFormat::csv, chr::year{2026} / chr::March}, now) == 3);
    const std::string csv = test::read_file(out);
    INFO(csv);
    CHECK(csv.find("\r\nÉlodie Lefèvre;E001;permis-b;22/11/2025;\"02/03/2026; 04/03/2026\";\"SMS automatique (envoyé); téléphone\";reprise;"
                   "\"04/03/2026 : reprend lundi; promis; reprise constatée : leçon suivie le 07/03/2026\";" +
                   std::to_string(elodie) + ";Procédure 001 — auto-école;Marie (secrétariat);02/03/2026;07/03/2026\r\n") !=
          std::string::npos);
    CHECK(csv.find("\r\nJérôme Dupré;E002;permis-b;27/11/2025;\"02/03/2026; 09/03/2026; 23/03/2026\";"
                   "\"SMS automatique (envoyé); email automatique (envoyé); téléphone\";abandon;"
                   "\"23/03/2026 : messagerie pleine; abandon déclaré après 3 relances sans réponse\";" +
                   std::to_string(jerome) + ";Procédure 001 — auto-école;Sophie (direction);02/03/2026;30/03/2026\r\n") !=
          std::string::npos);
    CHECK(csv.find("\r\nZoé Martin;E003;permis-b;07/12/2025;\"09/03/2026; 23/03/2026\";\"SMS automatique (envoyé); email automatique (envoyé)\";en cours;;" +
                   std::to_string(zoe) + ";Procédure 001 — auto-école;;09/03/2026;\r\n") != std::string::npos);

    const auto xlsx = f.dir / "suivi.xlsx";
    CHECK(app::export_register(*f.engine, xlsx, {app::RegisterFormat::xlsx, chr::year{2026} / chr::March}, now) == 3);
    const std::string strings = run("unzip -p '" + xlsx.string() + "' xl/sharedStrings.xml");
    CHECK(strings.find("<t>Jérôme Dupré</t>") != std::string::npos);
    CHECK(strings.find("<t>23/03/2026 : messagerie pleine; abandon déclaré après 3 relances sans réponse</t>") !=
          std::string::npos);
  }

  SECTION("the stats") {
    const std::string text = app::render_stats(*f.engine, chr::year{2026} / chr::March, now);
    INFO(text);
    CHECK(text.find("Dossiers en cours : 1\n") != std::string::npos);
    CHECK(text.find("Tâches en retard : 0\n") != std::string::npos);
    CHECK(text.find("Sur la période : 3 dossier(s) ouvert(s), 1 reprise(s), 1 abandon(s)\n") != std::string::npos);
    // 7 relaunches; Élodie's call (step 1, logged after the SMS) brought her back.
    CHECK(text.find("(dans les 14 jours) : 14 % (1/7)\n") != std::string::npos);
    CHECK(text.find("  étape 1 (1re relance) : 25 % (1/4)\n") != std::string::npos);
    CHECK(text.find("  étape 2 (2e relance) : 0 % (0/2)\n") != std::string::npos);
    CHECK(text.find("  étape 3 (3e relance) : 0 % (0/1)\n") != std::string::npos);
    CHECK(text.find("  SMS : 0 % (0/3)\n") != std::string::npos);
    CHECK(text.find("  email : 0 % (0/2)\n") != std::string::npos);
    CHECK(text.find("  téléphone : 50 % (1/2)\n") != std::string::npos);
  }
}
