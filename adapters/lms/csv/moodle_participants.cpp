#include "adapters/lms/csv/moodle_participants.hpp"

#include "adapters/lms/csv/text.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>

namespace relance::csv {

std::string normalize_header(std::string_view header) {
  std::string f = fold(header);
  // The web page's sort arrows: "↑" U+2191, "↓" U+2193.
  for (std::string_view arrow : {"\xE2\x86\x91", "\xE2\x86\x93"})
    for (auto p = f.find(arrow); p != std::string::npos; p = f.find(arrow)) f.erase(p, arrow.size());
  std::string out;
  out.reserve(f.size());
  for (std::size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == ' ' && (out.empty() || out.back() == ' ' || out.back() == '/' ||
                     (i + 1 < f.size() && f[i + 1] == '/')))
      continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {

using Names = std::initializer_list<std::string_view>;

const Names full_names{"prenom/nom", "nom complet", "first name/last name", "first name/surname",
                       "firstname/lastname", "full name", "user full name"};
const Names first_names{"prenom", "first name", "firstname"};
const Names last_names{"nom", "nom de famille", "last name", "surname", "lastname"};
const Names emails{"adresse de courriel", "adresse courriel", "courriel", "adresse email", "adresse e-mail",
                   "adresse electronique", "email address", "email", "e-mail"};
const Names cities{"ville", "city/town", "city"};
const Names countries{"pays", "country"};
// The course access first: that is what procedure 003 looks at.
const Names course_access{"dernier acces au cours", "last access to course"};
const Names any_access{"dernier acces", "last access", "dernier acces au site", "last access to site"};
const Names phones{"telephone", "telephone mobile", "numero de telephone", "portable", "phone", "phone number",
                   "mobile phone", "phone 1", "telephone 1"};
const Names roles{"roles", "role"};  // "Rôles" folded

int find(const std::vector<std::string>& norm, Names names) {
  for (std::size_t i = 0; i < norm.size(); ++i)
    if (std::find(names.begin(), names.end(), norm[i]) != names.end()) return int(i);
  return -1;
}

bool is_upper_word(std::string_view w) {
  bool letter = false;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const auto c = static_cast<unsigned char>(w[i]);
    if (c >= 'a' && c <= 'z') return false;
    if (c >= 'A' && c <= 'Z') letter = true;
    // UTF-8 lower-case Latin-1 letters: C3 A0..C3 BF (except ÷ C3 B7).
    if (c == 0xC3 && i + 1 < w.size()) {
      const auto d = static_cast<unsigned char>(w[i + 1]);
      if (d >= 0xA0 && d != 0xB7) return false;
      letter = true;
      ++i;
    }
  }
  return letter;
}

}  // namespace

std::optional<MoodleColumns> find_moodle_columns(const std::vector<std::string>& header) {
  std::vector<std::string> norm;
  norm.reserve(header.size());
  for (const auto& h : header) norm.push_back(normalize_header(h));

  MoodleColumns c;
  c.full_name = find(norm, full_names);
  c.first_name = find(norm, first_names);
  c.last_name = find(norm, last_names);
  c.email = find(norm, emails);
  c.city = find(norm, cities);
  c.country = find(norm, countries);
  c.last_access = find(norm, course_access);
  if (c.last_access < 0) c.last_access = find(norm, any_access);
  c.phone = find(norm, phones);
  c.roles = find(norm, roles);
  if (c.last_access < 0) return std::nullopt;
  if (c.email < 0 && c.full_name < 0 && c.first_name < 0 && c.last_name < 0) return std::nullopt;
  return c;
}

std::string expected_moodle_headers() {
  return "« Prénom / Nom » (ou « Prénom » et « Nom ») ou « Adresse de courriel », et « Dernier accès » "
         "(ou « Dernier accès au cours », « Last access to course »)";
}

std::vector<std::string> split_roles(std::string_view cell) {
  std::vector<std::string> out;
  for (;;) {
    const auto comma = cell.find(',');
    const auto role = trim(cell.substr(0, comma));
    if (!role.empty()) out.emplace_back(role);
    if (comma == std::string_view::npos) break;
    cell.remove_prefix(comma + 1);
  }
  return out;
}

bool has_student_role(std::string_view cell, const std::vector<std::string>& student_roles) {
  for (const auto& role : split_roles(cell)) {
    const auto r = fold(role);
    for (const auto& s : student_roles)
      if (fold(s) == r) return true;
  }
  return false;
}

PersonName split_full_name(std::string_view full) {
  std::vector<std::string_view> words;
  std::string_view rest = trim(full);
  while (!rest.empty()) {
    const auto sp = rest.find(' ');
    const std::string_view w = rest.substr(0, sp);
    if (!w.empty()) words.push_back(w);
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  PersonName p;
  if (words.empty()) return p;
  if (words.size() == 1) {
    p.first = std::string(words[0]);
    return p;
  }
  // The family name starts at the first word of a trailing all-capitals run,
  // as long as a given name is left before it.
  std::size_t split = words.size();
  while (split > 1 && is_upper_word(words[split - 1])) --split;
  if (split == words.size()) split = 1;
  auto join = [&](std::size_t from, std::size_t to) {
    std::string s;
    for (std::size_t i = from; i < to; ++i) {
      if (!s.empty()) s += ' ';
      s += words[i];
    }
    return s;
  };
  p.first = join(0, split);
  p.last = join(split, words.size());
  return p;
}

}  // namespace relance::csv
