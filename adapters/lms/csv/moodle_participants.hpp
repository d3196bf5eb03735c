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
  int roles = -1;        // "Rôles", "Roles": who is a learner, who teaches or manages
};

// Headers compared folded: case, accents, spaces around "/", and the sort
// arrows the web page adds ("Prénom / Nom ↓") do not matter.
std::string normalize_header(std::string_view header);

// The columns when `header` is a Participants export: a last-access column
// and at least a name or an e-mail column. nullopt otherwise.
std::optional<MoodleColumns> find_moodle_columns(const std::vector<std::string>& header);

// The header names find_moodle_columns() looks for, to tell people what is missing.
std::string expected_moodle_headers();

// The roles of one "Rôles" cell: Moodle joins a participant's roles with
// ", " ("Enseignant non éditeur, Étudiant"). Empty entries are dropped.
std::vector<std::string> split_roles(std::string_view cell);

// Whether one of the roles in `cell` is a student role. Compared folded
// (case and accents do not matter): "ÉTUDIANT" is "Étudiant". A participant
// with a student role among others is a learner: following up someone who
// also teaches is a nuisance, never following up a learner is the failure
// the procedure exists to prevent.
bool has_student_role(std::string_view cell, const std::vector<std::string>& student_roles);

struct PersonName {
  std::string first;
  std::string last;
};

// Moodle writes full names "Prénom Nom". Words fully in capitals at the end
// are the family name ("Marie DE LA TOUR"); otherwise the first word is the
// given name and the rest the family name ("Jean Dupont Martin").
PersonName split_full_name(std::string_view full);

}  // namespace relance::csv
