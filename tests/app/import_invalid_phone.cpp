// An invalid phone number loses the number, never the learner (issue 17,
// item 6): the learner is imported without it, the import warns, and staff
// see in `dossier` what the file held.
#include "import_helpers.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::test::import;
using relance::app::import_csv;
using relance::app::ImportOptions;
using relance::test::Fixture;
using relance::test::utc;

namespace {

constexpr std::string_view config_toml = R"(
[import.generic]
default_source = "lms"
[import.generic.columns]
id = "N° dossier"
first_name = "Prénom"
last_name = "Nom"
phone = "Téléphone"
last_activity = "Dernière activité"

[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]

[[plan]]
id = "ladder"
  [[plan.step]]
  action = "message"
  means = "sms"
  role = "secretariat"
  template = "reminder_10d"

[[policy]]
id = "000-elearning"
sources = ["lms"]
condition = "inactive_for"
days = 10
plan = "ladder"
)";

}  // namespace

TEST_CASE("import phone: a learner with an invalid number is imported without it", "[import][phone][bad-rows]") {
  Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "eleves.csv",
                             "N° dossier;Prénom;Nom;Téléphone;Dernière activité\n"
                             "A-001;Élodie;Martin;NC;01/10/2026\n"
                             "A-002;Jean;Dupont;12345;01/10/2026\n"
                             "A-003;Zoé;Bernard;00 00 00 00 00;01/10/2026\n"
                             "A-004;Louis;Petit;;01/10/2026\n"
                             "A-005;Léa;Roux;06 12 34 56 78;01/10/2026\n");
  ImportOptions o;
  o.as_of = now;
  const auto rep = import_csv(*f.engine, file, o, now);  // no --skip-bad-rows needed
  CHECK(rep.rows == 5);
  CHECK(rep.inserted == 5);
  CHECK(rep.skipped == 0);
  for (const char* id : {"A-001", "A-002", "A-003", "A-004"}) {
    INFO(id);
    CHECK(learner(*f.db, id).phone.empty());
  }
  CHECK(learner(*f.db, "A-005").phone == "+33612345678");
  // Each rejected value is a warning naming file:line, the value and why; an
  // empty cell is not one.
  REQUIRE(rep.warnings.size() == 3);
  CHECK_THAT(rep.warnings[0], Catch::StartsWith(file.string() + ":2: phone: ") && Catch::Contains("« NC »") &&
                                  Catch::Contains("lettres") && Catch::Contains("sans ce numéro"));
  CHECK_THAT(rep.warnings[1], Catch::StartsWith(file.string() + ":3: phone: ") && Catch::Contains("« 12345 »") &&
                                  Catch::Contains("trop court"));
  CHECK_THAT(rep.warnings[2], Catch::StartsWith(file.string() + ":4: phone: ") &&
                                  Catch::Contains("« 00 00 00 00 00 »") && Catch::Contains("non attribué"));
  CHECK(learner(*f.db, "A-001").phone_rejected == "NC");
  CHECK(learner(*f.db, "A-003").phone_rejected == "00 00 00 00 00");
  CHECK(learner(*f.db, "A-004").phone_rejected.empty());
  CHECK(learner(*f.db, "A-005").phone_rejected.empty());

  // And --skip-bad-rows no longer drops them either.
  ImportOptions skip = o;
  skip.skip_bad_rows = true;
  Fixture g(config_toml);
  const auto rep2 = import_csv(*g.engine, csv_file(g, "eleves.csv", "N° dossier;Prénom;Nom;Téléphone;Dernière activité\n"
                                                                 "A-001;Élodie;Martin;NC;01/10/2026\n"), skip, now);
  CHECK(rep2.inserted == 1);
  CHECK(rep2.skipped == 0);
  CHECK(rep2.row_errors.empty());
  CHECK(rep2.warnings.size() == 1);
}

TEST_CASE("import phone: a rejected value never erases a number on file, a valid one clears the warning",
          "[import][phone]") {
  Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const std::string head = "N° dossier;Prénom;Nom;Téléphone;Dernière activité\n";
  ImportOptions o;
  o.as_of = now;
  import_csv(*f.engine, csv_file(f, "1.csv", head + "A-001;Élodie;Martin;06 12 34 56 78;\n"), o, now);
  const auto rep = import_csv(*f.engine, csv_file(f, "2.csv", head + "A-001;Élodie;Martin;NC;\n"), o, now);
  CHECK(rep.updated == 1);
  CHECK(learner(*f.db, "A-001").phone == "+33612345678");
  CHECK(learner(*f.db, "A-001").phone_rejected == "NC");
  // An empty cell changes neither.
  import_csv(*f.engine, csv_file(f, "3.csv", head + "A-001;Élodie;Martin;;\n"), o, now);
  CHECK(learner(*f.db, "A-001").phone_rejected == "NC");
  import_csv(*f.engine, csv_file(f, "4.csv", head + "A-001;Élodie;Martin;07 81 23 45 67;\n"), o, now);
  CHECK(learner(*f.db, "A-001").phone == "+33781234567");
  CHECK(learner(*f.db, "A-001").phone_rejected.empty());
}

TEST_CASE("import phone: a Moodle export with a phone column warns the same way", "[import][phone][moodle]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "p.csv",
                             "Prénom / Nom;Adresse de courriel;Téléphone;Dernier accès\n"
                             "Élodie Martin;e@exemple.fr;NC;2 jours\n");
  ImportOptions o;
  o.as_of = as_of;
  const auto rep = import_csv(*f.engine, file, o, as_of);
  CHECK(rep.inserted == 1);
  REQUIRE(rep.warnings.size() == 1);
  CHECK_THAT(rep.warnings[0], Catch::StartsWith(file.string() + ":2: phone: "));
  CHECK(learner(*f.db, "e@exemple.fr").phone_rejected == "NC");
}

TEST_CASE("import phone: staff see the rejected number in the case view", "[import][phone][engine]") {
  Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "eleves.csv",
                             "N° dossier;Prénom;Nom;Téléphone;Dernière activité\nA-001;Élodie;Martin;NC;01/10/2026\n");
  ImportOptions o;
  o.as_of = now;
  import_csv(*f.engine, file, o, now);
  const auto scan = f.engine->scan(now);
  REQUIRE(scan.opened.size() == 1);
  const auto r = f.engine->handle_command("marie", "dossier 1", now);
  CHECK(r.ok);
  CHECK_THAT(r.text, Catch::Contains("« NC »") && Catch::Contains("invalide") && Catch::Contains("contient des lettres"));
  // No number: the SMS step became a task for the front desk.
  CHECK(count(*f.db, "outbox WHERE channel = 'sms'") == 0);
  CHECK(count(*f.db, "task") == 1);

  // With a number recorded before, the view says it is kept.
  // (Two files: the same learner twice in one file is a bad row.)
  const auto number = csv_file(f, "eleves-2.csv",
                               "N° dossier;Prénom;Nom;Téléphone;Dernière activité\nA-001;Élodie;Martin;06 12 34 56 78;\n");
  import_csv(*f.engine, number, o, now);
  const auto later = csv_file(f, "eleves-3.csv",
                              "N° dossier;Prénom;Nom;Téléphone;Dernière activité\nA-001;Élodie;Martin;pas de portable;\n");
  import_csv(*f.engine, later, o, now);
  const auto again = f.engine->handle_command("marie", "dossier 1", now);
  CHECK_THAT(again.text, Catch::Contains("« pas de portable »") && Catch::Contains("gardé"));
}
