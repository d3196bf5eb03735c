// Recognising Moodle's Participants export and splitting full names.
#include "adapters/lms/csv/moodle_participants.hpp"
#include "adapters/lms/csv/text.hpp"

#include <catch2/catch.hpp>

using namespace relance::csv;

TEST_CASE("moodle columns: the French Participants page of procedure 003", "[csv][moodle]") {
  // As copied from the page, sort arrow included.
  const std::vector<std::string> h{"utilisateur", "Prénom / Nom ↓", "Adresse de courriel", "Ville", "Pays",
                                   "Dernier accès", "Sélectionner"};
  const auto c = find_moodle_columns(h);
  REQUIRE(c);
  CHECK(c->full_name == 1);
  CHECK(c->email == 2);
  CHECK(c->city == 3);
  CHECK(c->country == 4);
  CHECK(c->last_access == 5);
  CHECK(c->first_name == -1);
}

TEST_CASE("moodle columns: English download with separate names", "[csv][moodle]") {
  const std::vector<std::string> h{"First name", "Last name", "Email address", "City/town", "Country",
                                   "Last access to course"};
  const auto c = find_moodle_columns(h);
  REQUIRE(c);
  CHECK(c->first_name == 0);
  CHECK(c->last_name == 1);
  CHECK(c->email == 2);
  CHECK(c->city == 3);
  CHECK(c->last_access == 5);
}

TEST_CASE("moodle columns: course access is preferred over site access", "[csv][moodle]") {
  const auto c = find_moodle_columns({"PRÉNOM / NOM", "Dernier accès", "Dernier accès au cours"});
  REQUIRE(c);
  CHECK(c->last_access == 2);
}

TEST_CASE("moodle columns: a generic file is not a Participants export", "[csv][moodle]") {
  CHECK_FALSE(find_moodle_columns({"id", "nom", "email", "derniere_activite"}));
  CHECK_FALSE(find_moodle_columns({"Prénom / Nom", "Adresse de courriel"}));  // no access column
  CHECK_FALSE(find_moodle_columns({"Dernier accès", "Ville"}));              // nobody to name
}

TEST_CASE("header normalisation", "[csv][moodle]") {
  CHECK(normalize_header("  Prénom  /  Nom ↓ ") == "prenom/nom");
  CHECK(normalize_header("City / town") == "city/town");
  CHECK(normalize_header("Dernier\xC2\xA0" "accès") == "dernier acces");
  CHECK(fold("ÉLODIE Œuvre ça") == "elodie oeuvre ca");
}

TEST_CASE("full names: given name first, family name in capitals kept together", "[csv][moodle]") {
  auto check = [](std::string_view full, std::string_view first, std::string_view last) {
    const auto p = split_full_name(full);
    INFO(full);
    CHECK(p.first == first);
    CHECK(p.last == last);
  };
  check("Élodie Martin", "Élodie", "Martin");
  check("Jean-Pierre Dupont", "Jean-Pierre", "Dupont");
  check("Marie DE LA TOUR", "Marie", "DE LA TOUR");
  check("Anne Marie DUPONT", "Anne Marie", "DUPONT");
  check("JEAN DUPONT", "JEAN", "DUPONT");
  check("Jean Dupont Martin", "Jean", "Dupont Martin");
  check("  Zoé   ", "Zoé", "");
  check("", "", "");
}
