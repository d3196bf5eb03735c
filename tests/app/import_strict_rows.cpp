// Issue 16 item 5: rows that are wrong were accepted (a short row, a 50 MB
// field, duplicate header columns, an id twice, a file mixing UTF-8 and
// Windows-1252). Each is "file:line: field: reason", and nothing is written
// unless --skip-bad-rows.
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

constexpr std::string_view mapping_toml = R"(
[import.generic]
default_source = "lesson"
default_cohort = "permis-b"
[import.generic.columns]
id = "id"
first_name = "prenom"
last_name = "nom"
email = "courriel"
last_activity = "activite"
)";

const Timestamp now = utc("2026-11-23T10:00:00Z");

ImportOptions skipping() {
  ImportOptions o;
  o.skip_bad_rows = true;
  o.as_of = now;
  return o;
}

// Without --skip-bad-rows: refused with `message`, and the store untouched.
void refused_whole(Fixture& f, const std::filesystem::path& file, const std::string& starts, const std::string& contains) {
  const auto before = snapshot(*f.db);
  ImportOptions o;
  o.as_of = now;
  CHECK_THROWS_WITH(import_csv(*f.engine, file, o, now), Catch::StartsWith(starts) && Catch::Contains(contains));
  const bool untouched = snapshot(*f.db) == before;  // not compared in CHECK: 50 MB of output
  CHECK(untouched);
}

}  // namespace

TEST_CASE("import strict: a row with fewer fields than the header is a bad row", "[import][strict]") {
  Fixture f(mapping_toml);
  const auto file = csv_file(f, "e.csv",
                             "id,prenom,nom,courriel,activite\n"
                             "A-1,Ana,Lopez,ana@example.org,2026-11-20\n"
                             "A-2,Jean,Dupont\n");
  refused_whole(f, file, file.string() + ":3: format: ", "3 champs pour 5 colonnes");
  const auto rep = import_csv(*f.engine, file, skipping(), now);
  REQUIRE(rep.row_errors.size() == 1);
  CHECK_THAT(rep.row_errors[0], Catch::StartsWith(file.string() + ":3: format: "));
  CHECK(rep.inserted == 1);
  CHECK_FALSE(store::LearnerRepo(*f.db).find("A-2"));
}

TEST_CASE("import strict: a field over its length is a bad row naming the column, a huge one is not kept",
          "[import][strict]") {
  Fixture f(mapping_toml);
  const std::string huge(50u << 20, 'x');
  const auto file = csv_file(f, "e.csv",
                             "id,prenom,nom,courriel,activite\n"
                             "A-1,Ana,Lopez,ana@example.org,2026-11-20\n"
                             "A-2," + huge + ",Dupont,,\n"
                             "A-3,Zoé,\"" + std::string(201, 'z') + "\",,\n"
                             "A-4,Léa,\"Ro\x01ux\",,\n"
                             "A-5,Hugo,Blanc,,\n");
  refused_whole(f, file, file.string() + ":3: prenom: ", "52428800");
  const auto rep = import_csv(*f.engine, file, skipping(), now);
  REQUIRE(rep.row_errors.size() == 3);
  CHECK_THAT(rep.row_errors[0], Catch::StartsWith(file.string() + ":3: prenom: ") && Catch::Contains("52428800 octets"));
  CHECK(rep.row_errors[0].size() < 300);  // the value is not echoed
  CHECK_THAT(rep.row_errors[1], Catch::StartsWith(file.string() + ":4: last_name: ") && Catch::Contains("au plus 200"));
  CHECK_THAT(rep.row_errors[2], Catch::StartsWith(file.string() + ":5: last_name: ") && Catch::Contains("U+0001"));
  CHECK(rep.inserted == 2);
  CHECK_FALSE(store::LearnerRepo(*f.db).find("A-2"));
}

TEST_CASE("import strict: a header naming a column twice is refused", "[import][strict]") {
  Fixture f(mapping_toml);
  const auto file = csv_file(f, "e.csv",
                             "id,prenom,nom,courriel,activite,ID\n"
                             "A-1,Ana,Lopez,ana@example.org,2026-11-20,B-1\n");
  refused_whole(f, file, file.string() + ":1: en-tête: ", "« ID »");
  // Not a row: --skip-bad-rows cannot skip it.
  CHECK_THROWS_AS(import_csv(*f.engine, file, skipping(), now), ImportError);
  CHECK(count(*f.db, "learner") == 0);
}

TEST_CASE("import strict: the same id twice in one file is a bad row at the second", "[import][strict]") {
  Fixture f(mapping_toml);
  const auto file = csv_file(f, "e.csv",
                             "id,prenom,nom,courriel,activite\n"
                             "A-1,Ana,Lopez,ana@example.org,2026-11-20\n"
                             "A-2,Jean,Dupont,,\n"
                             "A-1,Anna,Lopes,anna@example.org,2026-11-21\n");
  refused_whole(f, file, file.string() + ":4: id: ", "ligne 2");
  const auto rep = import_csv(*f.engine, file, skipping(), now);
  REQUIRE(rep.row_errors.size() == 1);
  CHECK_THAT(rep.row_errors[0], Catch::StartsWith(file.string() + ":4: id: ") && Catch::Contains("« A-1 »"));
  CHECK(learner(*f.db, "A-1").first_name == "Ana");  // the first row, not overwritten
}

TEST_CASE("import strict: a file mixing UTF-8 and Windows-1252 lines is refused at the line where it changes",
          "[import][strict][encoding]") {
  Fixture f(mapping_toml);
  const auto file = csv_file(f, "e.csv",
                             "id,prenom,nom,courriel,activite\n"
                             "A-1,Zo\xC3\xA9,Martin,,\n"   // UTF-8 "Zoé"
                             "A-2,Jean,Dupont,,\n"
                             "A-3,L\xE9" "a,Roux,,\n");  // Windows-1252 "Léa"
  refused_whole(f, file, file.string() + ":4: encodage: ", "ligne 2");
  CHECK_THROWS_AS(import_csv(*f.engine, file, skipping(), now), ImportError);
  CHECK(count(*f.db, "learner") == 0);
}
