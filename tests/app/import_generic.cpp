// `relance import` of a generic CSV described by [import.generic] in the config.
#include "import_helpers.hpp"
#include "bot/app/matrix_id.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::test::import;
using relance::app::CsvFormat;
using relance::app::import_csv;
using relance::app::ImportError;
using relance::app::ImportOptions;
using relance::test::Fixture;
using relance::test::utc;

namespace {

constexpr std::string_view mapping_toml = R"(
[import.generic]
default_source = "lesson"
default_cohort = "permis-b"
[import.generic.columns]
id = "N° dossier"
first_name = "Prénom"
last_name = "Nom"
email = "Courriel"
phone = "Téléphone"
cohort = "Formation"
start_date = "Début"
last_activity = "Dernière activité"
source = "Source"
)";

const std::string header = "N° dossier;Prénom;Nom;Courriel;Téléphone;Formation;Début;Dernière activité;Source;Commentaire\n";

}  // namespace

TEST_CASE("import generic: mapped columns, dates, phones and sources", "[import][generic]") {
  Fixture f(mapping_toml);
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "eleves.csv",
                             header +
                             "A-001;Élodie;Martin;Elodie.Martin@Exemple.fr;06 12 34 56 78;permis-b;2026-09-01;"
                             "15/11/2026 14:30;leçon;\"RAS\"\n"
                             "A-002;Jean;Dupont;;+33 (0)7 81 23 45 67;;01/10/2026;2026-11-20;plateforme;"
                             "\"rappeler ; absent\nle lundi\"\n"
                             "A-003;Zoé;Bernard;zoe@exemple.fr;;code;;;;\n");
  ImportOptions o;
  o.as_of = now;
  const auto rep = import_csv(*f.engine, file, o, now);
  CHECK(rep.format == "generic");
  CHECK(rep.separator == ';');
  CHECK(rep.rows == 3);
  CHECK(rep.inserted == 3);
  CHECK(rep.activity == 2);

  const auto a = learner(*f.db, "A-001");
  CHECK(a.first_name == "Élodie");
  CHECK(a.email == "elodie.martin@exemple.fr");
  CHECK(a.phone == "+33612345678");
  CHECK(a.cohort == "permis-b");
  REQUIRE(a.start_date);
  CHECK(format_date(*a.start_date) == "2026-09-01");
  // 14:30 in Paris in November is 13:30 UTC.
  CHECK(last(a, Source::lesson) == to_unix(utc("2026-11-15T13:30:00Z")));

  const auto j = learner(*f.db, "A-002");
  CHECK(j.phone == "+33781234567");
  CHECK(j.cohort == "permis-b");  // [import.generic] default_cohort
  // A date alone is the end of that day in Paris: whatever happened that
  // day had happened by then (issue 17: it was midnight, a day too early).
  CHECK(last(j, Source::lms) == to_unix(utc("2026-11-20T22:59:59Z")));

  const auto z = learner(*f.db, "A-003");
  CHECK(z.cohort == "code");
  CHECK(z.activity.last == ActivitySummary{}.last);
}

TEST_CASE("import generic: a missing mapped header is a file error naming it", "[import][generic]") {
  Fixture f(mapping_toml);
  const auto file = csv_file(f, "eleves.csv",
                             "N° dossier;Prénom;Nom;Courriel;Formation;Début;Dernière activité;Source\n"
                             "A-001;Élodie;Martin;e@exemple.fr;permis-b;2026-09-01;2026-11-15;lesson\n");
  const std::string before = snapshot(*f.db);
  CHECK_THROWS_WITH(import_csv(*f.engine, file, ImportOptions{}, utc("2026-11-23T10:00:00Z")),
                    Catch::StartsWith(file.string() + ":1: phone: ") && Catch::Contains("« Téléphone »"));
  CHECK(snapshot(*f.db) == before);
}

TEST_CASE("import generic: headers match whatever the case, accents or spaces", "[import][generic]") {
  Fixture f(mapping_toml);
  const auto file = csv_file(f, "eleves.csv",
                             "n° DOSSIER , prenom,NOM,courriel,telephone,formation,debut,derniere activite,source\n"
                             "A-001,Élodie,Martin,e@exemple.fr,,,,,\n");
  CHECK(import_csv(*f.engine, file, ImportOptions{}, utc("2026-11-23T10:00:00Z")).inserted == 1);
}

TEST_CASE("import generic: an invalid phone is a warning on field phone, the learner comes in without it",
          "[import][generic][phone]") {
  Fixture f(mapping_toml);
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "eleves.csv",
                             header +
                             "A-001;Élodie;Martin;;06 12 34 56 78;;;;;\n"
                             "A-002;Jean;Dupont;;06 12 34;;;;;\n"
                             "A-003;Zoé;Bernard;;+33 6 12 34 56 79;;;;;\n");
  const auto rep = import_csv(*f.engine, file, ImportOptions{}, now);
  CHECK(rep.inserted == 3);
  CHECK(rep.skipped == 0);
  REQUIRE(rep.warnings.size() == 1);
  CHECK_THAT(rep.warnings[0], Catch::StartsWith(file.string() + ":3: phone: ") && Catch::Contains("« 06 12 34 »") &&
                                  Catch::Contains("trop court"));
  CHECK(learner(*f.db, "A-002").phone.empty());
  CHECK(learner(*f.db, "A-002").phone_rejected == "06 12 34");
  CHECK(learner(*f.db, "A-003").phone == "+33612345679");
}

TEST_CASE("import generic: bad dates and sources are bad rows, lines count quoted newlines",
          "[import][generic][bad-rows]") {
  Fixture f(mapping_toml);
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "eleves.csv",
                             header +
                             "A-001;Élodie;Martin;;;;;2026-11-15;;\"une remarque\nsur deux lignes\"\n"  // lines 2-3
                             "A-002;Jean;Dupont;;;;31/02/2026;;;\n"                                     // line 4
                             "A-003;Zoé;Bernard;;;;;2026-11-15;piscine;\n"                             // line 5
                             "A-004;Louis;Petit;;;;;12/30/2026;;\n"                                    // line 6
                             "A-005;Léa;Roux;;;;;2027-01-05;;\n"                                       // line 7
                             "A-006;Hugo;Blanc;;;;;23 jours;;\n");                                     // line 8
  ImportOptions o;
  o.skip_bad_rows = true;
  o.as_of = now;
  const auto rep = import_csv(*f.engine, file, o, now);
  REQUIRE(rep.row_errors.size() == 4);
  CHECK_THAT(rep.row_errors[0], Catch::StartsWith(file.string() + ":4: start_date: ") && Catch::Contains("31/02/2026"));
  CHECK_THAT(rep.row_errors[1], Catch::StartsWith(file.string() + ":5: source: ") && Catch::Contains("« piscine »"));
  CHECK_THAT(rep.row_errors[2], Catch::StartsWith(file.string() + ":6: last_activity: ") && Catch::Contains("12/30/2026"));
  CHECK_THAT(rep.row_errors[3], Catch::StartsWith(file.string() + ":7: last_activity: ") && Catch::Contains("futur"));
  CHECK(rep.inserted == 2);
  // A Moodle-style relative value pasted into a sheet counts from as_of.
  CHECK(last(learner(*f.db, "A-006"), Source::lesson) == to_unix(now) - 23 * 86400);
}

TEST_CASE("import generic: a file that is neither Moodle nor configured says what is expected", "[import][generic]") {
  Fixture f;  // no [import.generic]
  const auto file = csv_file(f, "x.csv", "id,nom\n1,Martin\n");
  CHECK_THROWS_WITH(import_csv(*f.engine, file, ImportOptions{}, utc("2026-11-23T10:00:00Z")),
                    Catch::StartsWith(file.string() + ":1: en-tête: ") && Catch::Contains("Participants") &&
                        Catch::Contains("[import.generic.columns]"));
}

TEST_CASE("import generic: values shifted by an unquoted separator are a bad row", "[import][generic][bad-rows]") {
  Fixture f(mapping_toml);
  const auto file = csv_file(f, "eleves.csv", header + "A-001;Élodie;Martin;;;;;;;ok;en trop\nA-002;Jean;Dupont;;;;;;;;;;\n");
  ImportOptions o;
  o.skip_bad_rows = true;
  const auto rep = import_csv(*f.engine, file, o, utc("2026-11-23T10:00:00Z"));
  REQUIRE(rep.row_errors.size() == 1);
  CHECK_THAT(rep.row_errors[0], Catch::StartsWith(file.string() + ":2: format: "));
  CHECK(rep.inserted == 1);  // trailing empty cells (Excel) are fine
}

TEST_CASE("import generic: a Matrix column is validated as @localpart:server", "[import][generic][matrix]") {
  Fixture f(R"(
[import.generic.columns]
id = "N° dossier"
first_name = "Prénom"
phone = "Téléphone"
matrix = "Matrix"
)");
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "eleves.csv",
                             "N° dossier;Prénom;Téléphone;Matrix\n"
                             "A-001;Élodie;06 12 34 56 78;@elodie.martin:matrix.exemple.fr\n"
                             "A-002;Jean;;lea@exemple.fr\n"
                             "A-003;Zoé;;@zoe:[::1]:8448\n"
                             "A-004;Paul;;\n");
  const std::string before = snapshot(*f.db);
  try {
    import_csv(*f.engine, file, ImportOptions{}, now);
    FAIL("the import should have stopped");
  } catch (const ImportError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith(file.string() + ":3: matrix: ") && Catch::Contains("« lea@exemple.fr »") &&
                             Catch::Contains("@identifiant:serveur"));
  }
  CHECK(snapshot(*f.db) == before);

  ImportOptions skip;
  skip.skip_bad_rows = true;
  const auto rep = import_csv(*f.engine, file, skip, now);
  CHECK(rep.inserted == 3);
  CHECK(rep.skipped == 1);
  CHECK(learner(*f.db, "A-001").matrix_id == "@elodie.martin:matrix.exemple.fr");
  CHECK(learner(*f.db, "A-003").matrix_id == "@zoe:[::1]:8448");
  CHECK(learner(*f.db, "A-004").matrix_id.empty());

  // An empty cell later never blanks the stored id.
  const auto again = csv_file(f, "eleves-2.csv", "N° dossier;Prénom;Téléphone;Matrix\nA-001;Élodie;;\n");
  import_csv(*f.engine, again, ImportOptions{}, now);
  CHECK(learner(*f.db, "A-001").matrix_id == "@elodie.martin:matrix.exemple.fr");
}

TEST_CASE("import generic: Matrix ids the grammar refuses", "[import][generic][matrix]") {
  using relance::app::matrix_id_problem;
  for (const char* ok : {"@lea:example.org", "@lea.martin_2=x/y+z:matrix.example.org:8448", "@Lea:example.org",
                         "@lea:1.2.3.4", "@lea:[2001:db8::1]", "@lea:[2001:db8::1]:8448"})
    CHECK(matrix_id_problem(ok).empty());
  for (const char* bad : {"", "lea:example.org", "@lea", "@:example.org", "@lea:", "@lé a:example.org", "@lea:exa mple.org",
                          "@lea:example.org:", "@lea:example.org:99999x", "@lea:[zz]", "#room:example.org",
                          "!room:example.org", "@lea:.example.org"})
    CHECK_FALSE(matrix_id_problem(bad).empty());
}
