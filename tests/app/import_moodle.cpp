// `relance import` of Moodle's Participants export (procedure 003), end to
// end on a real temporary SQLite database.
#include "import_helpers.hpp"

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

constexpr std::int64_t day = 86400;

ImportOptions at(Timestamp as_of) {
  ImportOptions o;
  o.as_of = as_of;
  return o;
}

}  // namespace

TEST_CASE("import moodle: the French Participants page, as copied from the browser", "[import][moodle]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const Timestamp now = as_of + std::chrono::hours(1);
  // Procedure 003's table: tab-separated, a picture column first and a
  // checkbox column last, the sort arrow in the header.
  const auto file = csv_file(f, "participants.csv",
                             "utilisateur\tPrénom / Nom ↓\tAdresse de courriel\tVille\tPays\tDernier accès\tSélectionner\n"
                             "\tÉlodie Martin\telodie.martin@exemple.fr\tPoitiers\tFrance\t23 jours\t<input type=\"checkbox\"/>\n"
                             "\tJean DUPONT\tJean.Dupont@Exemple.FR\t\tFrance\tJamais\t<input type=\"checkbox\"/>\n"
                             "\tZoé Bernard\tzoe@exemple.fr\tPoitiers\tFrance\t5 min 1 s\t<input type=\"checkbox\"/>\n"
                             "\tLouis Petit\tlouis@exemple.fr\tParis\tFrance\t1 an 2 jours\t<input type=\"checkbox\"/>\n");
  const auto rep = import_csv(*f.engine, file, at(as_of), now);
  CHECK(rep.format == "moodle_participants");
  CHECK(rep.encoding == "utf-8");
  CHECK(rep.separator == '\t');
  CHECK(rep.rows == 4);
  CHECK(rep.inserted == 4);
  CHECK(rep.activity == 3);  // "Jamais" records nothing
  CHECK(rep.skipped == 0);
  CHECK_FALSE(rep.already_imported);

  const auto elodie = learner(*f.db, "elodie.martin@exemple.fr");
  CHECK(elodie.first_name == "Élodie");
  CHECK(elodie.last_name == "Martin");
  CHECK(last(elodie, Source::lms) == to_unix(as_of) - 23 * day);

  // The id is the e-mail in lower case; the learner exists with no activity.
  const auto jean = learner(*f.db, "jean.dupont@exemple.fr");
  CHECK(jean.first_name == "Jean");
  CHECK(jean.last_name == "DUPONT");
  CHECK(jean.activity.last == ActivitySummary{}.last);

  CHECK(last(learner(*f.db, "zoe@exemple.fr"), Source::lms) == to_unix(as_of) - (5 * 60 + 1));
  CHECK(last(learner(*f.db, "louis@exemple.fr"), Source::lms) == to_unix(as_of) - (365 + 2) * day);
}

TEST_CASE("import moodle: Windows-1252 file, semicolon-separated, from French Excel", "[import][moodle][encoding]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  // "Prénom / Nom;Adresse de courriel;Ville;Pays;Dernier accès" and "Élodie
  // Lefèvre" written byte by byte as Excel does: É = 0xC9, è = 0xE8.
  const std::string bytes =
      "Pr\xE9nom / Nom;Adresse de courriel;Ville;Pays;Dernier acc\xE8s\r\n"
      "\xC9lodie Lef\xE8vre;elodie@exemple.fr;Besan\xE7on;France;2 heures 3 min\r\n"
      "\"Marie-H\xE9l\xE8ne DE LA TOUR\";\"mh@exemple.fr\";\"Saint-\xC9tienne; Loire\";France;JAMAIS\r\n";
  const auto file = csv_file(f, "excel.csv", bytes);
  const auto rep = import_csv(*f.engine, file, at(as_of), as_of);
  CHECK(rep.encoding == "windows-1252");
  CHECK(rep.separator == ';');
  CHECK(rep.format == "moodle_participants");
  CHECK(rep.inserted == 2);
  const auto e = learner(*f.db, "elodie@exemple.fr");
  CHECK(e.first_name == "\xC3\x89lodie");    // UTF-8 now
  CHECK(e.last_name == "Lef\xC3\xA8vre");
  CHECK(last(e, Source::lms) == to_unix(as_of) - (2 * 3600 + 3 * 60));
  const auto mh = learner(*f.db, "mh@exemple.fr");
  CHECK(mh.first_name == "Marie-H\xC3\xA9l\xC3\xA8ne");
  CHECK(mh.last_name == "DE LA TOUR");
  CHECK(last(mh, Source::lms) == 0);
}

TEST_CASE("import moodle: English export with separate names and course access", "[import][moodle]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "en.csv",
                             "\xEF\xBB\xBF" "First name,Last name,Email address,City/town,Country,Last access to course\n"
                             "Ada,Lovelace,ada@example.org,London,United Kingdom,1 day 4 hours\n"
                             "Alan,Turing,alan@example.org,,United Kingdom,Never\n"
                             "Grace,Hopper,grace@example.org,,United States,now\n");
  ImportOptions o = at(as_of);
  o.cohort = "anglais-b2";
  const auto rep = import_csv(*f.engine, file, o, as_of);
  CHECK(rep.format == "moodle_participants");
  CHECK(rep.inserted == 3);
  const auto ada = learner(*f.db, "ada@example.org");
  CHECK(ada.first_name == "Ada");
  CHECK(ada.last_name == "Lovelace");
  CHECK(ada.cohort == "anglais-b2");
  CHECK(last(ada, Source::lms) == to_unix(as_of) - (day + 4 * 3600));
  CHECK(last(learner(*f.db, "alan@example.org"), Source::lms) == 0);
  CHECK(last(learner(*f.db, "grace@example.org"), Source::lms) == to_unix(as_of));
}

TEST_CASE("import moodle: as_of defaults to the file's modification time", "[import][moodle]") {
  Fixture f;
  const Timestamp taken = utc("2026-10-01T08:30:00Z");
  const auto file = csv_file(f, "old-export.csv",
                             "Prénom / Nom;Adresse de courriel;Dernier accès\nÉlodie Martin;e@exemple.fr;23 jours\n");
  std::filesystem::last_write_time(file, std::chrono::file_clock::from_sys(taken));
  // The time as the file system reports it back: under faketime (libfaketime
  // shifts stat() results too) it is not `taken`, and the test must not
  // depend on the day it runs.
  const Timestamp seen = std::chrono::floor<std::chrono::seconds>(
      std::chrono::file_clock::to_sys(std::filesystem::last_write_time(file)));
  const auto rep = import_csv(*f.engine, file, ImportOptions{}, seen + std::chrono::days(53));
  CHECK(rep.activity == 1);
  CHECK(last(learner(*f.db, "e@exemple.fr"), Source::lms) == to_unix(seen) - 23 * day);
}

TEST_CASE("import moodle: a row naming nobody stops the import with file:line, nothing written",
          "[import][moodle][bad-rows]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const std::string before = snapshot(*f.db);
  // Line 3 has a country and "Jamais" but neither name nor e-mail.
  const auto file = csv_file(f, "p.csv",
                             "Prénom / Nom;Adresse de courriel;Pays;Dernier accès\n"
                             "Élodie Martin;e@exemple.fr;France;23 jours\n"
                             ";;France;Jamais\n"
                             "Zoé Bernard;z@exemple.fr;France;1 jour\n");
  try {
    import_csv(*f.engine, file, at(as_of), as_of);
    FAIL("the import should have stopped");
  } catch (const ImportError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith(file.string() + ":3: email: "));
    CHECK_THAT(e.what(), Catch::Contains("ni adresse de courriel ni nom"));
  }
  CHECK(snapshot(*f.db) == before);
  CHECK(count(*f.db, "learner") == 0);
}

TEST_CASE("import moodle: an unreadable last access names the value and the line", "[import][moodle][bad-rows]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  // "Jama" is in procedure 003's own table: a cut copy, not "never".
  const auto file = csv_file(f, "p.csv",
                             "Prénom / Nom;Adresse de courriel;Dernier accès\n"
                             "Élodie Martin;e@exemple.fr;23 jours\n"
                             "Zoé Bernard;z@exemple.fr;Jama\n");
  const std::string before = snapshot(*f.db);
  CHECK_THROWS_WITH(import_csv(*f.engine, file, at(as_of), as_of),
                    Catch::StartsWith(file.string() + ":3: last_access: ") && Catch::Contains("« Jama »"));
  CHECK(snapshot(*f.db) == before);
}

TEST_CASE("import moodle: --skip-bad-rows reports bad rows and imports the rest", "[import][moodle][bad-rows]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "p.csv",
                             "Prénom / Nom;Adresse de courriel;Dernier accès\n"
                             "Élodie Martin;e@exemple.fr;23 jours\n"
                             ";;Jamais\n"
                             "Zoé Bernard;z@exemple.fr;hier\n"
                             "Louis Petit;pas-une-adresse;1 jour\n"
                             "Jean Dupont;j@exemple.fr;Jamais\n");
  ImportOptions o = at(as_of);
  o.skip_bad_rows = true;
  const auto rep = import_csv(*f.engine, file, o, as_of);
  CHECK(rep.rows == 5);
  CHECK(rep.inserted == 2);
  CHECK(rep.skipped == 3);
  REQUIRE(rep.row_errors.size() == 3);
  CHECK_THAT(rep.row_errors[0], Catch::StartsWith(file.string() + ":3: email: "));
  CHECK_THAT(rep.row_errors[1], Catch::StartsWith(file.string() + ":4: last_access: ") && Catch::Contains("« hier »"));
  CHECK_THAT(rep.row_errors[2], Catch::StartsWith(file.string() + ":5: email: ") && Catch::Contains("pas-une-adresse"));
  CHECK(count(*f.db, "learner") == 2);
  // A skipped row leaves no trace, not even a learner without activity.
  CHECK_FALSE(store::LearnerRepo(*f.db).find("z@exemple.fr"));
  CHECK(count(*f.db, "import_log") == 1);
}

TEST_CASE("import moodle: a participant without e-mail is keyed by name", "[import][moodle]") {
  Fixture f;
  const Timestamp as_of = utc("2026-11-23T10:00:00Z");
  const auto file = csv_file(f, "p.csv", "Prénom / Nom;Adresse de courriel;Dernier accès\nÉlodie Martin;;Jamais\n");
  CHECK(import_csv(*f.engine, file, at(as_of), as_of).inserted == 1);
  // A second export with other case and accents is the same person.
  const auto again = csv_file(f, "q.csv", "Prénom / Nom;Adresse de courriel;Dernier accès\nELODIE MARTIN;;2 jours\n");
  const auto rep = import_csv(*f.engine, again, at(as_of), as_of);
  CHECK(rep.inserted == 0);
  CHECK(rep.updated == 1);
  CHECK(count(*f.db, "learner") == 1);
  CHECK(last(learner(*f.db, "elodie martin"), Source::lms) == to_unix(as_of) - 2 * day);
}

TEST_CASE("import moodle: --format moodle on another file says which headers it expects", "[import][moodle]") {
  Fixture f;
  const auto file = csv_file(f, "x.csv", "id;nom\n1;Martin\n");
  ImportOptions o = at(utc("2026-11-23T10:00:00Z"));
  o.format = CsvFormat::moodle_participants;
  CHECK_THROWS_WITH(import_csv(*f.engine, file, o, utc("2026-11-23T10:00:00Z")),
                    Catch::StartsWith(file.string() + ":1: en-tête: ") && Catch::Contains("Dernier accès"));
}

TEST_CASE("import moodle: a reference time in the future is refused", "[import][moodle]") {
  Fixture f;
  const auto file = csv_file(f, "p.csv", "Prénom / Nom;Adresse de courriel;Dernier accès\nÉlodie Martin;e@x.fr;1 jour\n");
  CHECK_THROWS_WITH(import_csv(*f.engine, file, at(utc("2026-12-25T10:00:00Z")), utc("2026-11-23T10:00:00Z")),
                    Catch::Contains("futur"));
  CHECK(count(*f.db, "learner") == 0);
}
