// Moodle's Participants export lists everyone enrolled in the course: the
// "Rôles" column tells learners from teachers and managers (issue 17, item 3).
#include "import_helpers.hpp"

#include "adapters/lms/csv/moodle_participants.hpp"
#include "bot/app/config.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace relance;
using namespace relance::test::import;
using relance::app::import_csv;
using relance::app::ImportOptions;
using relance::test::Fixture;
using relance::test::utc;

namespace {

ImportOptions at(Timestamp as_of) {
  ImportOptions o;
  o.as_of = as_of;
  return o;
}

}  // namespace

TEST_CASE("import moodle roles: teachers, managers and users without a role are not learners",
          "[import][moodle][roles]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "participants.csv",
                             "Prénom / Nom;Adresse de courriel;Rôles;Groupes;Dernier accès au cours\n"
                             "Élodie Martin;elodie@exemple.fr;Étudiant;Groupe A;23 jours\n"
                             "Paul Leprof;paul@exemple.fr;Enseignant;;2 heures\n"
                             "Nina Tutrice;nina@exemple.fr;Enseignant non éditeur;;Jamais\n"
                             "Gérard Gestion;gerard@exemple.fr;\"Gestionnaire, Enseignant\";;Jamais\n"
                             "Léa Double;lea@exemple.fr;\"Enseignant non éditeur, Étudiant\";;3 jours\n"
                             "Sam Sansrole;sam@exemple.fr;Aucun rôle;;Jamais\n"
                             "Jean Dupont;jean@exemple.fr;ÉTUDIANT;;Jamais\n"
                             // Not a learner: the odd address does not stop the import.
                             "Ines Invitee;voir secrétariat;Invité;;Jamais\n");
  const auto rep = import_csv(*f.engine, file, at(as_of), as_of);
  CHECK(rep.rows == 8);
  CHECK(rep.inserted == 3);
  CHECK(rep.skipped == 0);
  CHECK(rep.skipped_staff == 5);
  CHECK(rep.staff_roles == std::map<std::string, int>{{"Aucun rôle", 1},
                                                      {"Enseignant", 2},
                                                      {"Enseignant non éditeur", 1},
                                                      {"Gestionnaire", 1},
                                                      {"Invité", 1}});
  CHECK(count(*f.db, "learner") == 3);
  CHECK(store::LearnerRepo(*f.db).find("elodie@exemple.fr"));
  CHECK(store::LearnerRepo(*f.db).find("jean@exemple.fr"));
  // Someone who is also enrolled as a student is followed up.
  CHECK(last(learner(*f.db, "lea@exemple.fr"), Source::lms) == to_unix(as_of) - 3 * 86400);
  for (const char* staff : {"paul@exemple.fr", "nina@exemple.fr", "gerard@exemple.fr", "sam@exemple.fr"}) {
    INFO(staff);
    CHECK_FALSE(store::LearnerRepo(*f.db).find(staff));
  }
}

TEST_CASE("import moodle roles: the English export", "[import][moodle][roles]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "participants-en.csv",
                             "First name,Last name,Email address,Roles,Groups,Last access to course\n"
                             "Ada,Lovelace,ada@example.org,Student,,1 day\n"
                             "Alan,Turing,alan@example.org,Teacher,,2 hours\n"
                             "Grace,Hopper,grace@example.org,\"Non-editing teacher, Manager\",,Never\n"
                             "Edsger,Dijkstra,edsger@example.org,Manager,,Never\n");
  const auto rep = import_csv(*f.engine, file, at(as_of), as_of);
  CHECK(rep.rows == 4);
  CHECK(rep.inserted == 1);
  CHECK(rep.skipped_staff == 3);
  CHECK(count(*f.db, "learner") == 1);
  CHECK(store::LearnerRepo(*f.db).find("ada@example.org"));
  // The journal says how many rows were left out as staff.
  SQLite::Statement j(f.db->sql(), "SELECT detail FROM journal WHERE action = 'import.file'");
  REQUIRE(j.executeStep());
  CHECK_THAT(j.getColumn(0).getString(), Catch::Contains("3 non apprenants"));
}

TEST_CASE("import moodle roles: a site that renamed its student role says so in [import.moodle]",
          "[import][moodle][roles]") {
  Fixture f(R"(
[import.moodle]
student_roles = ["Stagiaire", "Apprenant"]
)");
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "participants.csv",
                             "Prénom / Nom;Adresse de courriel;Rôles;Dernier accès au cours\n"
                             "Élodie Martin;elodie@exemple.fr;Stagiaire;23 jours\n"
                             "Jean Dupont;jean@exemple.fr;apprenant;Jamais\n"
                             "Paul Leprof;paul@exemple.fr;Formateur;2 heures\n");
  const auto rep = import_csv(*f.engine, file, at(as_of), as_of);
  CHECK(rep.inserted == 2);
  CHECK(rep.skipped_staff == 1);
  CHECK(rep.staff_roles == std::map<std::string, int>{{"Formateur", 1}});
}

TEST_CASE("import moodle roles: without a roles column, or with an empty cell, everyone is imported as before",
          "[import][moodle][roles]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto without = csv_file(f, "sans-roles.csv",
                                "Prénom / Nom;Adresse de courriel;Dernier accès\n"
                                "Élodie Martin;elodie@exemple.fr;23 jours\n"
                                "Paul Leprof;paul@exemple.fr;2 heures\n");
  const auto rep = import_csv(*f.engine, without, at(as_of), as_of);
  CHECK(rep.inserted == 2);
  CHECK(rep.skipped_staff == 0);
  const auto empty_cell = csv_file(f, "roles-vides.csv",
                                   "Prénom / Nom;Adresse de courriel;Rôles;Dernier accès\n"
                                   "Zoé Bernard;zoe@exemple.fr;;1 jour\n");
  CHECK(import_csv(*f.engine, empty_cell, at(as_of), as_of).inserted == 1);
}

TEST_CASE("import moodle roles: an empty student_roles list is refused by check-config", "[import][moodle][roles][config]") {
  CHECK_THROWS_WITH(app::parse_config("[import.moodle]\nstudent_roles = []\n", "r.toml"),
                    Catch::StartsWith("r.toml:2:") && Catch::Contains("skipped as staff"));
  CHECK_THROWS_WITH(app::parse_config("[import.moodle]\nstudent_role = [\"Étudiant\"]\n", "r.toml"),
                    Catch::Contains("unknown key 'student_role'"));
  CHECK(app::parse_config("", "r.toml").moodle_export.student_roles == std::vector<std::string>{"Étudiant", "Student"});
}

TEST_CASE("import moodle roles: the roles column is found, a cell holds several roles", "[import][moodle][roles][csv]") {
  const auto c = csv::find_moodle_columns({"Prénom / Nom", "Adresse de courriel", "Rôles", "Groupes", "Dernier accès au cours"});
  REQUIRE(c);
  CHECK(c->roles == 2);
  CHECK(csv::find_moodle_columns({"First name", "Last name", "Roles", "Last access to course"})->roles == 2);
  CHECK(csv::find_moodle_columns({"Prénom / Nom", "Dernier accès"})->roles == -1);

  CHECK(csv::split_roles("Enseignant non éditeur, Étudiant") ==
        std::vector<std::string>{"Enseignant non éditeur", "Étudiant"});
  CHECK(csv::split_roles(" Gestionnaire ,, ") == std::vector<std::string>{"Gestionnaire"});
  CHECK(csv::split_roles("").empty());

  const std::vector<std::string> students{"Étudiant", "Student"};
  CHECK(csv::has_student_role("Étudiant", students));
  CHECK(csv::has_student_role("ETUDIANT", students));
  CHECK(csv::has_student_role("student", students));
  CHECK(csv::has_student_role("Enseignant non éditeur, Étudiant", students));
  CHECK_FALSE(csv::has_student_role("Enseignant", students));
  CHECK_FALSE(csv::has_student_role("Non-editing teacher, Manager", students));
  CHECK_FALSE(csv::has_student_role("Aucun rôle", students));
  CHECK_FALSE(csv::has_student_role("Étudiants du soir", students));  // whole names only
}
