// Moodle's course "Participants" page, downloaded (or copied) as a table:
// which column holds what, in French or English (procedure 003).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::csv {

// Column indexes in the header; -1 when absent.
struct MoodleColumns {
  int full_name = -1;    // "Prénom / Nom", "First name / Last name"
  int first_name = -1;   // "Prénom", "First name" (when names are split)
  int last_name = -1;    // "Nom", "Last name", "Surname"
  int email = -1;        // "Adresse de courriel", "Email address"
  int city = -1;         // "Ville", "City/town"
  int country = -1;      // "Pays", "Country"
  int last_access = -1;  // "Dernier accès", "Dernier accès au cours", "Last access to course"
  int phone = -1;        // "Téléphone", "Phone" (when the site shows it)
};

// Headers compared folded: case, accents, spaces around "/", and the sort
// arrows the web page adds ("Prénom / Nom ↓") do not matter.
std::string normalize_header(std::string_view header);

// The columns when `header` is a Participants export: a last-access column
// and at least a name or an e-mail column. nullopt otherwise.
std::optional<MoodleColumns> find_moodle_columns(const std::vector<std::string>& header);

// The header names find_moodle_columns() looks for, to tell people what is missing.
std::string expected_moodle_headers();

struct PersonName {
  std::string first;
  std::string last;
};

// Moodle writes full names "Prénom Nom". Words fully in capitals at the end
// are the family name ("Marie DE LA TOUR"); otherwise the first word is the
// given name and the rest the family name ("Jean Dupont Martin").
PersonName split_full_name(std::string_view full);

}  // namespace relance::csv
