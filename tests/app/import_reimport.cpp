// "Already imported" means the same bytes read the same way: a file imported
// again after the mapping was corrected is imported again (issue 17, item 5).
#include "import_helpers.hpp"

#include "bot/app/config.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::test::import;
using relance::app::import_csv;
using relance::app::ImportOptions;
using relance::test::Fixture;
using relance::test::utc;

TEST_CASE("import rules: the same file with a corrected mapping is imported again", "[import][idempotent][mapping]") {
  // First mapping: the activity column was taken for platform logins...
  Fixture f(R"(
[import.generic]
default_source = "lms"
[import.generic.columns]
id = "N° dossier"
first_name = "Prénom"
last_activity = "Dernière activité"
)");
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "eleves.csv", "N° dossier;Prénom;Dernière activité\nA-001;Élodie;15/11/2026 14:30\n");
  ImportOptions o;
  o.as_of = now;
  const auto first = import_csv(*f.engine, file, o, now);
  CHECK(first.inserted == 1);
  CHECK(last(learner(*f.db, "A-001"), Source::lms) == to_unix(utc("2026-11-15T13:30:00Z")));

  // ... but it holds lessons: the configuration is corrected, the same file imported again.
  const auto corrected = app::parse_config(R"(
[import.generic]
default_source = "lesson"
[import.generic.columns]
id = "N° dossier"
first_name = "Prénom"
last_activity = "Dernière activité"
)", "corrected.toml");
  app::Engine engine(corrected, *f.db, *f.zone, f.catalog);
  const auto second = import_csv(engine, file, o, now + std::chrono::hours(1));
  CHECK_FALSE(second.already_imported);
  CHECK(second.activity == 1);
  CHECK(last(learner(*f.db, "A-001"), Source::lesson) == to_unix(utc("2026-11-15T13:30:00Z")));
  CHECK(count(*f.db, "import_log") == 2);

  // Once more with the corrected mapping: now it is the same import.
  const std::string after = snapshot(*f.db);
  const auto third = import_csv(engine, file, o, now + std::chrono::hours(2));
  CHECK(third.already_imported);
  CHECK(third.unchanged == 1);
  CHECK(snapshot(*f.db) == after);

  // A configuration change that reads the file the same way (one more date
  // format, not used by it) is still the same import.
  const auto reworded = app::parse_config(R"(
[import.generic]
default_source = "lesson"
date_formats = ["%d/%m/%Y %H:%M", "%d.%m.%Y"]
[import.generic.columns]
id = "N° dossier"
first_name = "Prénom"
last_activity = "Dernière activité"
)", "reworded.toml");
  app::Engine engine2(reworded, *f.db, *f.zone, f.catalog);
  CHECK(import_csv(engine2, file, o, now + std::chrono::hours(3)).already_imported);
  CHECK(snapshot(*f.db) == after);

  // The log and the journal keep both the bytes' hash and the reading's.
  SQLite::Statement q(f.db->sql(), "SELECT sha256, reading FROM import_log ORDER BY id");
  REQUIRE(q.executeStep());
  const std::string bytes = q.getColumn(0).getString(), reading1 = q.getColumn(1).getString();
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == bytes);
  CHECK(q.getColumn(1).getString() != reading1);
  CHECK(reading1.size() == 64);
}

TEST_CASE("import rules: a dry run of an imported file says it was imported", "[import][idempotent][dry-run]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "p.csv", "Prénom / Nom;Adresse de courriel;Dernier accès\nÉlodie Martin;e@exemple.fr;2 jours\n");
  ImportOptions o;
  o.as_of = as_of;
  import_csv(*f.engine, file, o, as_of);
  const std::string after = snapshot(*f.db);
  o.dry_run = true;
  CHECK(import_csv(*f.engine, file, o, as_of).already_imported);
  CHECK(snapshot(*f.db) == after);
}

TEST_CASE("import rules: the same Moodle export for another cohort is imported again", "[import][idempotent][mapping]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "p.csv", "Prénom / Nom;Adresse de courriel;Dernier accès\nÉlodie Martin;e@exemple.fr;2 jours\n");
  ImportOptions o;
  o.as_of = as_of;
  CHECK(import_csv(*f.engine, file, o, as_of).inserted == 1);
  CHECK(learner(*f.db, "e@exemple.fr").cohort.empty());
  o.cohort = "anglais-b2";
  const auto again = import_csv(*f.engine, file, o, as_of);
  CHECK_FALSE(again.already_imported);
  CHECK(learner(*f.db, "e@exemple.fr").cohort == "anglais-b2");
}
