// One export, several signs of life (procedure 001, issue 17 item 4): the
// generic mapping names one column per activity source.
#include "import_helpers.hpp"

#include "bot/app/config.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace relance;
using namespace relance::test::import;
using relance::app::import_csv;
using relance::app::ImportOptions;
using relance::test::Fixture;
using relance::test::utc;

namespace {

// A driving school: lessons from its booking software, logins to the
// revision platform, and the front desk's last contact.
constexpr std::string_view driving_school_toml = R"(
[organisation]
timezone = "Europe/Paris"

[import.generic]
date_formats = ["%d/%m/%Y %H:%M", "%d/%m/%Y"]
[import.generic.columns]
id = "N° dossier"
first_name = "Prénom"
last_name = "Nom"
phone = "Téléphone"
[import.generic.activity]
"Date dernière leçon" = "lesson"
"Dernière connexion plateforme" = { source = "lms", date_formats = ["%Y-%m-%d %H:%M:%S"] }
"Dernier contact" = "call"

[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]

[[plan]]
id = "plan-001"
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "secretariat"
  template = "ladder_1"

[[policy]]
id = "001-auto-ecole"
sources = ["lesson", "lms", "call"]
condition = "inactive_for"
days = 90
plan = "plan-001"
)";

const std::string header =
    "N° dossier;Prénom;Nom;Téléphone;Date dernière leçon;Dernière connexion plateforme;Dernier contact\n";

}  // namespace

TEST_CASE("import activity columns: each column is its own source, dates in their own formats",
          "[import][generic][activity]") {
  Fixture f(driving_school_toml);
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "eleves.csv",
                             header +
                             "A-001;Élodie;Martin;06 12 34 56 78;12/08/2026;2026-11-02 18:45:00;20/11/2026 10:15\n"
                             "A-002;Jean;Dupont;;;;\n"
                             "A-003;Zoé;Bernard;;03/09/2026 14:00;Jamais;\n"
                             "A-004;Louis;Petit;;02/07/2026;2026-06-30 20:00:00;01/07/2026\n");
  ImportOptions o;
  o.as_of = now;
  const auto rep = import_csv(*f.engine, file, o, now);
  CHECK(rep.rows == 4);
  CHECK(rep.inserted == 4);

  const auto a = learner(*f.db, "A-001");
  // A date without a time is the end of that local day (CEST, +02:00).
  CHECK(last(a, Source::lesson) == to_unix(utc("2026-08-12T21:59:59Z")));
  CHECK(last(a, Source::lms) == to_unix(utc("2026-11-02T17:45:00Z")));  // CET, +01:00
  CHECK(last(a, Source::call) == to_unix(utc("2026-11-20T09:15:00Z")));
  CHECK(learner(*f.db, "A-002").activity.last == ActivitySummary{}.last);
  const auto z = learner(*f.db, "A-003");
  CHECK(last(z, Source::lesson) == to_unix(utc("2026-09-03T12:00:00Z")));
  CHECK(last(z, Source::lms) == 0);

  // Procedure 001: inactive only when no source shows life for 3 months.
  // Élodie's last lesson is 103 days old but she logged in 3 weeks ago;
  // Louis has had nothing of any kind since July. (Jean, with no activity
  // at all, counts from when relance first knew him: today.)
  const auto scan = f.engine->scan(now);
  REQUIRE(scan.opened.size() == 1);
  std::set<std::string> opened;
  store::CaseRepo cases(*f.db);
  for (const char* id : {"A-001", "A-002", "A-003", "A-004"})
    if (!cases.active_for_learner(learner(*f.db, id).key).empty()) opened.insert(id);
  CHECK(opened == std::set<std::string>{"A-004"});
}

TEST_CASE("import activity columns: a bad date names the file, the line and the column", "[import][generic][activity][bad-rows]") {
  Fixture f(driving_school_toml);
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "eleves.csv",
                             header +
                             "A-001;Élodie;Martin;;12/08/2026;;31/02/2026\n"              // line 2
                             "A-002;Jean;Dupont;;;20/11/2026 10:00;\n"                    // line 3: not this column's format
                             "A-003;Zoé;Bernard;;24/11/2026;;\n"                          // line 4: tomorrow
                             "A-004;Louis;Petit;;23/11/2026;;23/11/2026 10:30\n"          // line 5: today, fine
                             "A-005;Léa;Roux;;;2026-11-23T09:00:00Z;\n");                 // line 6: ISO, fine
  const std::string before = snapshot(*f.db);
  ImportOptions o;
  o.as_of = now;
  CHECK_THROWS_WITH(import_csv(*f.engine, file, o, now),
                    Catch::StartsWith(file.string() + ":2: Dernier contact: ") && Catch::Contains("« 31/02/2026 »"));
  CHECK(snapshot(*f.db) == before);

  o.skip_bad_rows = true;
  const auto rep = import_csv(*f.engine, file, o, now);
  REQUIRE(rep.row_errors.size() == 3);
  CHECK_THAT(rep.row_errors[1], Catch::StartsWith(file.string() + ":3: Dernière connexion plateforme: ") &&
                                    Catch::Contains("« 20/11/2026 10:00 »") && Catch::Contains("%Y-%m-%d %H:%M:%S"));
  CHECK_THAT(rep.row_errors[2], Catch::StartsWith(file.string() + ":4: Date dernière leçon: ") && Catch::Contains("futur"));
  CHECK(rep.inserted == 2);
  // A lesson today counts from now, not from tonight.
  const auto louis = learner(*f.db, "A-004");
  CHECK(last(louis, Source::lesson) == to_unix(now));
  CHECK(last(louis, Source::call) == to_unix(utc("2026-11-23T09:30:00Z")));
  CHECK(last(learner(*f.db, "A-005"), Source::lms) == to_unix(utc("2026-11-23T09:00:00Z")));
}

TEST_CASE("import activity columns: with the single-column form, a column absent from the file is named",
          "[import][generic][activity]") {
  Fixture f(R"(
[import.generic]
default_source = "lms"
[import.generic.columns]
id = "N° dossier"
last_activity = "Dernière connexion"
[import.generic.activity]
"Dernière leçon" = "lesson"
)");
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto ok = csv_file(f, "ok.csv", "N° dossier;Dernière connexion;Dernière leçon\nA-001;2026-11-01 08:00;2026-10-01\n");
  ImportOptions o;
  o.as_of = now;
  CHECK(import_csv(*f.engine, ok, o, now).inserted == 1);
  const auto a = learner(*f.db, "A-001");
  CHECK(last(a, Source::lms) == to_unix(utc("2026-11-01T07:00:00Z")));
  CHECK(last(a, Source::lesson) == to_unix(utc("2026-10-01T21:59:59Z")));

  const auto missing = csv_file(f, "missing.csv", "N° dossier;Dernière connexion\nA-002;2026-11-01 08:00\n");
  o.format = app::CsvFormat::generic;
  CHECK_THROWS_WITH(import_csv(*f.engine, missing, o, now),
                    Catch::StartsWith(missing.string() + ":1: Dernière leçon: ") &&
                        Catch::Contains("[import.generic.activity]"));
}

TEST_CASE("import activity columns: a known learner's newer activity per column closes the open case",
          "[import][generic][activity][engine]") {
  Fixture f(driving_school_toml);
  const Timestamp t0 = utc("2026-11-23T10:00:00Z");
  ImportOptions o;
  o.as_of = t0;
  import_csv(*f.engine, csv_file(f, "s1.csv", header + "A-001;Élodie;Martin;;01/07/2026;;\n"), o, t0);
  REQUIRE(f.engine->scan(t0).opened.size() == 1);
  const auto key = learner(*f.db, "A-001").key;
  // A week later: the lesson column has not moved, the front desk called her.
  const Timestamp t1 = t0 + std::chrono::days(7);
  o.as_of = t1;
  const auto rep = import_csv(*f.engine, csv_file(f, "s2.csv", header + "A-001;Élodie;Martin;;01/07/2026;;29/11/2026 16:00\n"),
                              o, t1);
  CHECK(rep.activity == 1);
  CHECK(store::CaseRepo(*f.db).active_for_learner(key).empty());
  CHECK(last(learner(*f.db, "A-001"), Source::call) == to_unix(utc("2026-11-29T15:00:00Z")));
}

TEST_CASE("import activity columns: check-config refuses what cannot work", "[import][generic][activity][config]") {
  auto refused = [](const std::string& activity) {
    try {
      app::parse_config("[import.generic.columns]\nid = \"N°\"\nlast_activity = \"Dernière activité\"\n"
                        "[import.generic.activity]\n" + activity,
                        "c.toml");
    } catch (const app::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(refused("\"Dernière leçon\" = \"piscine\"\n"),
             Catch::StartsWith("c.toml:5:") && Catch::Contains("unknown source \"piscine\"") && Catch::Contains("lesson, booking"));
  // French names are sources too.
  CHECK(refused("\"Dernière leçon\" = \"leçon\"\n\"Dernier appel\" = \"appel\"\n") == "accepted");
  CHECK_THAT(refused("\"Dernière leçon\" = { source = \"lesson\", formats = [\"%d/%m/%Y\"] }\n"),
             Catch::Contains("unknown key 'formats'"));
  CHECK_THAT(refused("\"Dernière leçon\" = { date_formats = [\"%d/%m/%Y\"] }\n"), Catch::Contains("needs a 'source'"));
  CHECK_THAT(refused("\"Dernière leçon\" = { source = \"lesson\", date_formats = [] }\n"),
             Catch::Contains("at least one format"));
  CHECK_THAT(refused("\"Dernière leçon\" = { source = \"lesson\", date_formats = [\"%m/%Y\"] }\n"),
             Catch::Contains("reads no day"));
  CHECK_THAT(refused("\"Dernière leçon\" = 3\n"), Catch::Contains("must name a source"));
  CHECK_THAT(refused("\"DERNIERE ACTIVITE\" = \"call\"\n"), Catch::Contains("already mapped"));
  CHECK_THAT(refused("\"\" = \"call\"\n"), Catch::Contains("column name is empty"));
  CHECK(refused("\"Dernière leçon\" = \"lesson\"\n\"Dernier appel\" = { source = \"call\", date_formats = [\"%d/%m/%Y\"] }\n") ==
        "accepted");
  CHECK_THAT(std::string([] {
               try {
                 app::parse_config("[import.generic.activity]\n\"Dernière leçon\" = \"lesson\"\n", "c.toml");
               } catch (const app::ConfigError& e) {
                 return std::string(e.what());
               }
               return std::string("accepted");
             }()),
             Catch::Contains("needs [import.generic.columns]"));

  // The effective configuration shows each column with its source and formats.
  const auto c = app::parse_config(std::string(driving_school_toml), "c.toml");
  REQUIRE(c.csv.activity.size() == 3);
  const auto shown = app::describe(c);
  CHECK_THAT(shown, Catch::Contains("[import.generic.activity]") &&
                        Catch::Contains("\"Dernier contact\" = { source = \"call\", date_formats = [\"%d/%m/%Y %H:%M\", \"%d/%m/%Y\"] }") &&
                        Catch::Contains("\"Dernière connexion plateforme\" = { source = \"lms\", date_formats = [\"%Y-%m-%d %H:%M:%S\"] }"));
}

TEST_CASE("import activity columns: the example configuration's commented block is valid once uncommented",
          "[import][generic][activity][config]") {
  std::string text = relance::test::read_file(std::filesystem::path(RELANCE_SOURCE_DIR) / "deploy/relance.example.toml");
  const std::string block = "  # [import.generic.activity]\n";
  const auto at = text.find(block);
  REQUIRE(at != std::string::npos);
  // The block and its three lines.
  std::size_t p = at;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(text.compare(p, 4, "  # ") == 0);
    text.erase(p + 2, 2);
    p = text.find('\n', p) + 1;
  }
  const auto c = app::parse_config(text, "relance.example.toml");
  REQUIRE(c.csv.activity.size() == 3);
  CHECK(c.csv.last_activity == "Dernière activité");
}
