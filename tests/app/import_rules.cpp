// The import rules that hold whatever the format: idempotence, dry runs, one
// transaction per file, and signs of life reaching open cases.
#include "import_helpers.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::test::import;
using relance::app::import_csv;
using relance::app::ImportError;
using relance::app::ImportOptions;
using relance::test::Fixture;
using relance::test::utc;

namespace {

const std::string participants =
    "Prénom / Nom;Adresse de courriel;Ville;Pays;Dernier accès\n"
    "Élodie Martin;elodie@exemple.fr;Poitiers;France;23 jours\n"
    "Jean Dupont;jean@exemple.fr;;France;Jamais\n"
    "Zoé Bernard;zoe@exemple.fr;Poitiers;France;5 min 1 s\n"
    "Louis Petit;louis@exemple.fr;Paris;France;1 an 2 jours\n";

ImportOptions at(Timestamp as_of) {
  ImportOptions o;
  o.as_of = as_of;
  return o;
}

}  // namespace

TEST_CASE("import rules: importing the same file twice changes nothing", "[import][idempotent]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "participants.csv", participants);
  const auto first = import_csv(*f.engine, file, at(as_of), as_of);
  CHECK(first.inserted == 4);
  CHECK(count(*f.db, "import_log") == 1);
  const std::string after_first = snapshot(*f.db);

  const auto second = import_csv(*f.engine, file, at(as_of), as_of + std::chrono::hours(2));
  CHECK(second.already_imported);
  CHECK(second.rows == 4);
  CHECK(second.inserted == 0);
  CHECK(second.activity == 0);
  CHECK(snapshot(*f.db) == after_first);

  // The same rows in another file, or taken earlier: upserts and activity
  // (the latest per source is kept) make it a no-op on the learners too.
  const auto copy = csv_file(f, "copie.csv", participants + "\n");
  const auto third = import_csv(*f.engine, copy, at(as_of - std::chrono::hours(24)), as_of);
  CHECK_FALSE(third.already_imported);
  CHECK(third.inserted == 0);
  CHECK(third.updated == 0);
  CHECK(third.unchanged == 4);
  CHECK(third.activity == 0);
  CHECK(last(learner(*f.db, "elodie@exemple.fr"), Source::lms) == to_unix(as_of) - 23 * 86400);
}

TEST_CASE("import rules: the import log keeps the file's hash and reference time", "[import][idempotent]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "participants.csv", "Prénom / Nom;Adresse de courriel;Dernier accès\nA B;a@b.fr;1 jour\n");
  import_csv(*f.engine, file, at(as_of), as_of);
  SQLite::Statement q(f.db->sql(), "SELECT sha256, as_of, file_name, format, rows FROM import_log");
  REQUIRE(q.executeStep());
  // sha256 of the file's bytes, as `sha256sum` prints it.
  CHECK(q.getColumn(0).getString().size() == 64);
  CHECK(q.getColumn(1).getInt64() == to_unix(as_of));
  CHECK(q.getColumn(2).getString() == "participants.csv");
  CHECK(q.getColumn(3).getString() == "moodle_participants");
  CHECK(q.getColumn(4).getInt() == 1);
  // And the journal says which file fed the register.
  SQLite::Statement j(f.db->sql(), "SELECT actor, detail FROM journal WHERE action = 'import.file'");
  REQUIRE(j.executeStep());
  CHECK(j.getColumn(0).getString() == "import");
  CHECK_THAT(j.getColumn(1).getString(), Catch::Contains("participants.csv") && Catch::Contains(q.getColumn(0).getString()));
  // Another reference time is another import of the same bytes.
  CHECK_FALSE(import_csv(*f.engine, file, at(as_of + std::chrono::hours(1)), as_of + std::chrono::hours(1)).already_imported);
}

TEST_CASE("import rules: a dry run validates and changes nothing", "[import][dry-run]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "participants.csv", participants);
  const std::string before = snapshot(*f.db);
  ImportOptions o = at(as_of);
  o.dry_run = true;
  const auto rep = import_csv(*f.engine, file, o, as_of);
  CHECK(rep.inserted == 4);
  CHECK(rep.activity == 3);
  CHECK(snapshot(*f.db) == before);
  // Nor is the file marked as imported.
  CHECK_FALSE(import_csv(*f.engine, file, at(as_of), as_of).already_imported);

  // And a dry run finds the bad rows a real import would stop on.
  const auto bad = csv_file(f, "bad.csv", participants + "Léa Roux;lea@exemple.fr;;;demain\n");
  CHECK_THROWS_WITH(import_csv(*f.engine, bad, o, as_of), Catch::StartsWith(bad.string() + ":6: last_access: "));
}

TEST_CASE("import rules: a failure in the middle of the file leaves nothing behind", "[import][transaction]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  // Something already stored must survive untouched.
  const auto earlier = csv_file(f, "earlier.csv",
                                "Prénom / Nom;Adresse de courriel;Dernier accès\nÉlodie Martin;elodie@exemple.fr;40 jours\n");
  import_csv(*f.engine, earlier, at(as_of), as_of);
  const std::string before = snapshot(*f.db);

  // The store fails on the third learner, after two rows were written in
  // the transaction (as a full disk or an I/O error would).
  f.db->sql().exec(
      "CREATE TRIGGER fail_midway BEFORE INSERT ON learner WHEN NEW.id = 'zoe@exemple.fr' "
      "BEGIN SELECT RAISE(ABORT, 'disque plein (simulé)'); END");
  const auto file = csv_file(f, "participants.csv", participants);
  try {
    import_csv(*f.engine, file, at(as_of), as_of);
    FAIL("the import should have been interrupted");
  } catch (const ImportError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith(file.string() + ":4: base de données: ") &&
                             Catch::Contains("disque plein (simulé)"));
  }
  f.db->sql().exec("DROP TRIGGER fail_midway");
  // Élodie's activity from line 2 (23 days, newer than 40) and Jean from
  // line 3 were written before the failure: both rolled back.
  CHECK(snapshot(*f.db) == before);
  CHECK(count(*f.db, "learner") == 1);
  CHECK(last(learner(*f.db, "elodie@exemple.fr"), Source::lms) == to_unix(as_of) - 40 * 86400);

  // Once the cause is gone, the same file goes in whole (in a new run, as
  // `relance import` stops at the first failed file).
  app::Engine engine(f.config, *f.db, *f.zone, f.catalog);
  const auto rep = import_csv(engine, file, at(as_of), as_of);
  CHECK(rep.inserted == 3);
  CHECK(rep.updated == 1);
}

TEST_CASE("import rules: an unreadable file is refused before anything is written", "[import]") {
  Fixture f;
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  CHECK_THROWS_AS(import_csv(*f.engine, f.dir / "absent.csv", at(now), now), ImportError);
  const auto cp = csv_file(f, "bad-bytes.csv", "Pr\xE9nom / Nom;Adresse de courriel;Dernier acc\xE8s\nA\x81;a@b.fr;1 jour\n");
  CHECK_THROWS_WITH(import_csv(*f.engine, cp, at(now), now),
                    Catch::StartsWith(cp.string() + ":2: encodage: ") && Catch::Contains("0x81"));
  const auto open = csv_file(f, "open-quote.csv", participants + "\"Léa Roux;lea@exemple.fr;;;1 jour\n");
  CHECK_THROWS_WITH(import_csv(*f.engine, open, at(now), now),
                    Catch::StartsWith(open.string() + ":6: format: ") && Catch::Contains("guillemet"));
  const auto empty = csv_file(f, "empty.csv", "");
  CHECK_THROWS_WITH(import_csv(*f.engine, empty, at(now), now), Catch::Contains("fichier vide"));
  CHECK(count(*f.db, "learner") == 0);
  CHECK(count(*f.db, "import_log") == 0);
}

TEST_CASE("import rules: a newer export is a sign of life that closes the open case", "[import][engine]") {
  Fixture f(R"(
[roles]
pedagogie = "Responsable pédagogique"

[[staff]]
id = "paul"
name = "Paul"
roles = ["pedagogie"]

[[plan]]
id = "plan-000"
on_exhausted = "keep_open"
  [[plan.step]]
  name = "appel"
  action = "task"
  means = "phone"
  role = "pedagogie"
  template = "call_30d"

[[policy]]
id = "000-elearning"
sources = ["lms"]
condition = "inactive_for"
days = 10
plan = "plan-000"
)");
  const Timestamp t0 = utc("2026-11-23T10:00:00Z");
  const auto first = csv_file(f, "semaine-1.csv",
                              "Prénom / Nom;Adresse de courriel;Dernier accès\nÉlodie Martin;elodie@exemple.fr;23 jours\n");
  import_csv(*f.engine, first, at(t0), t0);
  const auto scan = f.engine->scan(t0);
  REQUIRE(scan.opened.size() == 1);
  const auto key = learner(*f.db, "elodie@exemple.fr").key;
  store::CaseRepo cases(*f.db);
  REQUIRE(cases.active_for_learner(key).size() == 1);
  const auto case_id = cases.active_for_learner(key)[0].id;

  // A week later Moodle says she came back two hours ago.
  const Timestamp t1 = t0 + std::chrono::days(7);
  const auto second = csv_file(f, "semaine-2.csv",
                               "Prénom / Nom;Adresse de courriel;Dernier accès\nÉlodie Martin;elodie@exemple.fr;2 heures\n");
  const auto rep = import_csv(*f.engine, second, at(t1), t1);
  CHECK(rep.activity == 1);
  CHECK(cases.active_for_learner(key).empty());
  const auto c = cases.get(case_id);
  REQUIRE(c);
  CHECK(c->state == CaseState::resumed);
}
