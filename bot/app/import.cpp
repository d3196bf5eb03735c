// `relance import`: one CSV file, one transaction. Every row is validated
// completely before anything of it is written, so a bad row is either the
// end of the import (nothing kept) or, with skip_bad_rows, a row that left
// no trace. Learners and activity go through the Engine so that a sign of
// life closes the cases it should, exactly as an API call would.
#include "bot/app/import.hpp"

#include "adapters/common/digest.hpp"
#include "adapters/lms/csv/csv_reader.hpp"
#include "adapters/lms/csv/encoding.hpp"
#include "adapters/lms/csv/moodle_participants.hpp"
#include "adapters/lms/csv/relative_time.hpp"
#include "adapters/lms/csv/text.hpp"
#include "bot/app/matrix_id.hpp"
#include "bot/app/phone.hpp"
#include "bot/domain/learner_fields.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <unordered_map>

namespace relance::app {

namespace fs = std::filesystem;
namespace chr = std::chrono;

namespace {

// Activity dated after `now` by more than this is a typing or day/month
// mistake, not a sign of life (servers' clocks may be a little ahead).
constexpr chr::seconds future_tolerance{chr::hours{1}};

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ImportError(file.string() + ": impossible de lire le fichier : " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw ImportError(file.string() + ": erreur de lecture : " + std::strerror(errno));
  return bytes;
}

// sha256 of a sequence of values, each length-prefixed so that no two
// sequences hash alike by moving a boundary.
class Sha256Stream {
public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("sha256 (OpenSSL EVP_DigestInit_ex) a échoué");
  }
  Sha256Stream& operator<<(std::string_view v) {
    const std::string size = std::to_string(v.size()) + ":";
    if (EVP_DigestUpdate(ctx_.get(), size.data(), size.size()) != 1 ||
        EVP_DigestUpdate(ctx_.get(), v.data(), v.size()) != 1)
      throw std::runtime_error("sha256 (OpenSSL EVP_DigestUpdate) a échoué");
    return *this;
  }
  std::string hex_digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1)
      throw std::runtime_error("sha256 (OpenSSL EVP_DigestFinal_ex) a échoué");
    return net::lower_hex(md, len);
  }

private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

Timestamp file_mtime(const fs::path& file) {
  std::error_code ec;
  const auto t = fs::last_write_time(file, ec);
  if (ec) throw ImportError(file.string() + ": date de modification illisible : " + ec.message());
  return chr::floor<chr::seconds>(chr::file_clock::to_sys(t));
}

std::string_view cell(const csv::Record& r, int index) {
  if (index < 0 || std::size_t(index) >= r.fields.size()) return {};
  return csv::trim(r.fields[std::size_t(index)]);
}

bool blank(const csv::Record& r) {
  return std::all_of(r.fields.begin(), r.fields.end(), [](const std::string& f) { return csv::trim(f).empty(); });
}

// Enough to catch a name or a phone number in the e-mail column; deliverability
// is the mail server's business.
bool plausible_email(std::string_view e) {
  const auto at = e.find('@');
  if (at == 0 || at == std::string_view::npos || e.find('@', at + 1) != std::string_view::npos) return false;
  const auto domain = e.substr(at + 1);
  if (domain.empty() || domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.')
    return false;
  return std::none_of(e.begin(), e.end(), [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == ','; });
}

std::string source_list() {
  std::string s;
  for (auto n : source_names) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s;
}

struct RowError {
  std::string field;
  std::string reason;
};

// One row, fully validated, ready to write.
struct Row {
  Learner learner;
  // The newest activity per source the row shows (several columns may).
  std::array<std::optional<Timestamp>, source_count> activity;
  // Values left out of a row that is imported all the same.
  std::vector<RowError> warnings;
  // A Moodle participant without a student role: not a learner.
  bool staff = false;
  std::vector<std::string> roles;

  void saw(Source s, Timestamp t) {
    auto& a = activity[std::size_t(s)];
    if (!a || *a < t) a = t;
  }
};

// What the import made of a row, for the "already imported" check: the same
// file read with another mapping must not pass for the same import.
void add_to_reading(Sha256Stream& h, const Row& row) {
  const Learner& l = row.learner;
  if (row.staff) {
    h << "staff";
    return;
  }
  h << "learner" << l.id << l.first_name << l.last_name << l.email << l.phone << l.phone_rejected << l.matrix_id
    << l.cohort << (l.start_date ? format_date(*l.start_date) : std::string()) << l.language;
  for (std::size_t i = 0; i < source_count; ++i)
    h << (row.activity[i] ? std::to_string(to_unix(*row.activity[i])) : std::string());
}

// Extra cells beyond the header are tolerated when empty (Excel's trailing
// separators); a value there usually means a separator inside an unquoted
// value, which shifted every column after it.
bool check_width(const csv::Record& r, std::size_t header_width, RowError& err) {
  // Fewer cells than columns: a line cut short or joined wrongly; guessing
  // which values are missing would put them in the wrong columns.
  if (r.fields.size() < header_width) {
    err = {"format", std::to_string(r.fields.size()) + " champs pour " + std::to_string(header_width) +
                         " colonnes d'en-tête : ligne incomplète"};
    return false;
  }
  for (std::size_t i = header_width; i < r.fields.size(); ++i)
    if (!csv::trim(r.fields[i]).empty()) {
      err = {"format", std::to_string(r.fields.size()) + " champs pour " + std::to_string(header_width) +
                           " colonnes d'en-tête : un séparateur dans une valeur sans guillemets ?"};
      return false;
    }
  return true;
}

bool take_email(std::string_view raw, Learner& l, RowError& err) {
  if (raw.empty()) return true;
  if (!plausible_email(raw)) {
    err = {"email", "adresse de courriel « " + std::string(raw) + " » invalide"};
    return false;
  }
  l.email = csv::ascii_lower(raw);
  return true;
}

// An unusable number loses the number, never the learner: without a phone
// the plan's SMS steps become staff tasks, and staff see the rejected value.
void take_phone(std::string_view raw, Row& row) {
  const auto p = normalize_phone(raw);
  if (p.ok()) {
    row.learner.phone = p.e164;
    return;
  }
  row.learner.phone_rejected = std::string(raw);
  row.warnings.push_back({"phone", p.error + " ; apprenant importé sans ce numéro"});
}

// An empty cell leaves the stored id alone, as for every other field.
bool take_matrix(std::string_view raw, Learner& l, RowError& err) {
  if (raw.empty()) return true;
  if (auto problem = matrix_id_problem(raw); !problem.empty()) {
    err = {"matrix", std::move(problem)};
    return false;
  }
  l.matrix_id = std::string(raw);
  return true;
}

// The limits of bot/domain/learner_fields.hpp, as the API applies them: a
// learner refused there is not let in through a file.
bool check_learner_fields(const Row& row, RowError& err) {
  const Learner& l = row.learner;
  struct Value {
    const char* name;
    LearnerField field;
    const std::string& value;
  };
  for (const auto& [name, field, value] :
       {Value{"id", LearnerField::id, l.id}, Value{"first_name", LearnerField::first_name, l.first_name},
        Value{"last_name", LearnerField::last_name, l.last_name}, Value{"email", LearnerField::email, l.email},
        Value{"phone", LearnerField::phone, l.phone_rejected}, Value{"cohort", LearnerField::cohort, l.cohort},
        Value{"matrix", LearnerField::matrix_id, l.matrix_id}}) {
    const auto p = learner_field_problem(field, value);
    if (!p) continue;
    if (p->kind == FieldProblem::Kind::too_long) {
      err = {name, "trop long : " + std::to_string(p->size) + " octets, au plus " + std::to_string(p->limit)};
    } else {
      char code[16];
      std::snprintf(code, sizeof code, "U+%04X", unsigned(p->code));
      err = {name, std::string("caractère de contrôle ") + code + " (octet " + std::to_string(p->offset) +
                       ") : interdit dans ce champ"};
    }
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- Moodle

class MoodleRows {
public:
  MoodleRows(const csv::MoodleColumns& cols, std::size_t width, Timestamp as_of, std::string cohort,
             const std::vector<std::string>& student_roles)
      : cols_(cols), width_(width), as_of_(as_of), cohort_(std::move(cohort)), student_roles_(student_roles) {}

  bool parse(const csv::Record& r, Row& row, RowError& err) const {
    if (!check_width(r, width_, err)) return false;
    // Teachers and managers are in the export too. Decided before anything
    // else: a row that is not a learner's cannot stop the import. An empty
    // cell says nothing (imported, as without the column); "Aucun rôle" is
    // not a student role.
    if (const auto roles = cell(r, cols_.roles); !roles.empty() && !csv::has_student_role(roles, student_roles_)) {
      row.staff = true;
      row.roles = csv::split_roles(roles);
      return true;
    }
    Learner& l = row.learner;
    if (cols_.full_name >= 0) {
      auto n = csv::split_full_name(cell(r, cols_.full_name));
      l.first_name = std::move(n.first);
      l.last_name = std::move(n.last);
    }
    if (cols_.first_name >= 0 && !cell(r, cols_.first_name).empty()) l.first_name = cell(r, cols_.first_name);
    if (cols_.last_name >= 0 && !cell(r, cols_.last_name).empty()) l.last_name = cell(r, cols_.last_name);
    if (!take_email(cell(r, cols_.email), l, err)) return false;
    take_phone(cell(r, cols_.phone), row);

    // Procedure 003: "no name at all means never logged in to the platform";
    // without an e-mail either, there is nobody to relaunch.
    if (!l.email.empty()) {
      l.id = l.email;
    } else if (!l.first_name.empty() || !l.last_name.empty()) {
      // No e-mail shown (a site may hide it): the name is the only key.
      // Folded so that a re-export with other accents or case is the same person.
      l.id = csv::fold(l.first_name + " " + l.last_name);
    } else {
      err = {"email", "ni adresse de courriel ni nom : impossible de savoir de qui il s'agit"};
      return false;
    }
    l.cohort = cohort_;

    const auto access = cell(r, cols_.last_access);
    if (!access.empty()) {
      const auto a = csv::parse_last_access(access);
      if (!a.ok()) {
        err = {"last_access", a.error};
        return false;
      }
      // "Jamais": the learner exists and has no platform activity at all.
      if (!a.never) row.saw(Source::lms, as_of_ - chr::seconds{a.seconds_ago});
    }
    return true;
  }

private:
  csv::MoodleColumns cols_;
  std::size_t width_;
  Timestamp as_of_;
  std::string cohort_;
  const std::vector<std::string>& student_roles_;
};

// ---------------------------------------------------------------- generic

// A strptime format, and whether it reads a time of day: a date alone is a
// whole day, not its midnight.
struct DateFormat {
  std::string format;
  bool has_time = false;
};

std::vector<DateFormat> date_formats(const std::vector<std::string>& formats) {
  std::vector<DateFormat> out;
  for (const auto& f : formats) {
    bool time = false;
    for (std::size_t i = 0; i + 1 < f.size(); ++i) {
      if (f[i] != '%') continue;
      std::size_t j = i + 1;
      if (f[j] == 'E' || f[j] == 'O') ++j;  // POSIX modifiers
      if (j < f.size() && std::string_view("HIklMSTRrcsp").find(f[j]) != std::string_view::npos) time = true;
      i = j;  // "%%" is a literal percent
    }
    out.push_back({f, time});
  }
  return out;
}

// A local wall-clock time read from a cell, and whether it was a date alone.
struct LocalReading {
  LocalTime at;
  bool date_only = false;
};

std::optional<LocalReading> parse_local(std::string_view v, const std::vector<DateFormat>& formats) {
  const std::string s(v);
  for (const auto& f : formats) {
    std::tm tm{};
    const char* end = strptime(s.c_str(), f.format.c_str(), &tm);
    if (!end) continue;
    while (*end == ' ') ++end;
    if (*end != '\0') continue;
    const chr::year_month_day ymd{chr::year{tm.tm_year + 1900}, chr::month{unsigned(tm.tm_mon + 1)},
                                  chr::day{unsigned(tm.tm_mday)}};
    if (!ymd.ok()) continue;  // strptime takes 31/02
    return LocalReading{LocalTime{chr::local_days{ymd}.time_since_epoch() + chr::hours{tm.tm_hour} +
                                  chr::minutes{tm.tm_min} + chr::seconds{tm.tm_sec}},
                        !f.has_time};
  }
  return std::nullopt;
}

std::string formats_hint(const std::vector<DateFormat>& formats) {
  std::string s = " (formats acceptés : ";
  for (std::size_t i = 0; i < formats.size(); ++i) s += (i ? ", " : "") + formats[i].format;
  return s + ", ISO 8601)";
}

// One column of activity dates and the source its dates are signs of.
struct ActivityReader {
  std::string field;  // named in errors: "last_activity" or the configured header
  int index = -1;
  std::optional<Source> source;  // nullopt: the row's `source` column, else default_source
  std::vector<DateFormat> formats;
};

class GenericRows {
public:
  GenericRows(const CsvMapping& m, const csv::Record& header_record, const std::string& file, const ZoneRules& zone,
              Timestamp as_of, Timestamp now, std::string cohort)
      : m_(m), width_(header_record.fields.size()), zone_(zone), as_of_(as_of), now_(now), cohort_(std::move(cohort)),
        formats_(date_formats(m.date_formats)) {
    const auto& header = header_record.fields;
    const std::string where = file + ":" + std::to_string(header_record.line) + ": ";
    std::vector<std::string> norm;
    for (const auto& h : header) norm.push_back(csv::normalize_header(h));
    auto column = [&](std::string_view key, const std::string& name, std::string_view section) {
      if (name.empty()) return -1;
      const auto want = csv::normalize_header(name);
      const auto it = std::find(norm.begin(), norm.end(), want);
      if (it == norm.end()) {
        std::string present;
        for (const auto& h : header) present += (present.empty() ? "« " : ", « ") + std::string(csv::trim(h)) + " »";
        throw ImportError(where + std::string(key) + ": colonne « " + name + " » absente de l'en-tête (attendue d'après " +
                          std::string(section) + " ; colonnes du fichier : " + present + ")");
      }
      return int(it - norm.begin());
    };
    auto mapped = [&](std::string_view key, const std::string& name) {
      return column(key, name, "[import.generic.columns] " + std::string(key));
    };
    if (m.id.empty() && m.email.empty())
      throw ImportError(where + "en-tête: fichier non reconnu : ce n'est pas un export « Participants » de Moodle (" +
                        csv::expected_moodle_headers() +
                        "), et la configuration ne décrit aucun CSV générique ([import.generic.columns] id ou email)");
    id_ = mapped("id", m.id);
    first_ = mapped("first_name", m.first_name);
    last_ = mapped("last_name", m.last_name);
    full_ = mapped("full_name", m.full_name);
    email_ = mapped("email", m.email);
    phone_ = mapped("phone", m.phone);
    matrix_ = mapped("matrix", m.matrix);
    cohort_col_ = mapped("cohort", m.cohort);
    start_ = mapped("start_date", m.start_date);
    source_col_ = mapped("source", m.source);
    const auto d = parse_source(m.default_source);
    if (!d) throw ImportError(where + "source: source par défaut « " + m.default_source + " » inconnue (" + source_list() + ")");
    default_source_ = *d;
    if (cohort_.empty()) cohort_ = m.default_cohort;
    if (!m.last_activity.empty())
      activity_.push_back({"last_activity", mapped("last_activity", m.last_activity), std::nullopt, formats_});
    for (const auto& a : m.activity)
      activity_.push_back({a.column, column(a.column, a.column, "[import.generic.activity]"), a.source,
                           a.date_formats.empty() ? formats_ : date_formats(a.date_formats)});
  }

  bool parse(const csv::Record& r, Row& row, RowError& err) const {
    if (!check_width(r, width_, err)) return false;
    Learner& l = row.learner;
    if (full_ >= 0) {
      auto n = csv::split_full_name(cell(r, full_));
      l.first_name = std::move(n.first);
      l.last_name = std::move(n.last);
    }
    if (first_ >= 0 && !cell(r, first_).empty()) l.first_name = cell(r, first_);
    if (last_ >= 0 && !cell(r, last_).empty()) l.last_name = cell(r, last_);
    if (!take_email(cell(r, email_), l, err)) return false;
    take_phone(cell(r, phone_), row);
    if (!take_matrix(cell(r, matrix_), l, err)) return false;
    l.id = std::string(cell(r, id_));
    if (l.id.empty()) l.id = l.email;
    if (l.id.empty()) {
      err = {id_ >= 0 ? "id" : "email", "identifiant vide : ni « " + (id_ >= 0 ? m_.id : m_.email) + " » ni adresse de courriel"};
      return false;
    }
    l.cohort = cohort_col_ >= 0 && !cell(r, cohort_col_).empty() ? std::string(cell(r, cohort_col_)) : cohort_;

    if (const auto v = cell(r, start_); !v.empty()) {
      // A calendar date, not an instant: no time zone conversion.
      std::optional<chr::sys_days> d;
      if (const auto local = parse_local(v, formats_)) d = chr::sys_days{chr::floor<chr::days>(local->at).time_since_epoch()};
      else d = parse_iso_date(v);
      if (!d) {
        err = {"start_date", "date « " + std::string(v) + " » illisible" + formats_hint(formats_)};
        return false;
      }
      l.start_date = *d;
    }

    Source row_source = default_source_;
    if (const auto v = cell(r, source_col_); !v.empty()) {
      const auto s = parse_source(v);
      if (!s) {
        err = {"source", "source « " + std::string(v) + " » inconnue (" + source_list() + ")"};
        return false;
      }
      row_source = *s;
    }

    for (const auto& a : activity_) {
      const auto v = cell(r, a.index);
      if (v.empty()) continue;
      const auto t = read_activity(v, a, err);
      if (!err.field.empty()) return false;
      if (t) row.saw(a.source.value_or(row_source), *t);
    }
    return true;
  }

private:
  // A date of activity: a local time in one of the column's formats, ISO
  // 8601, or a Moodle-style relative value ("23 jours", "Jamais": people
  // paste the Participants column into their own sheets). nullopt with
  // err.field empty: no activity ("Jamais").
  std::optional<Timestamp> read_activity(std::string_view v, const ActivityReader& a, RowError& err) const {
    std::optional<Timestamp> t;
    bool date_only = false;
    if (const auto local = parse_local(v, a.formats)) {
      date_only = local->date_only;
      t = date_only ? zone_.to_utc(chr::floor<chr::days>(local->at)) : zone_.to_utc(local->at);
    } else if (const auto iso = parse_iso_time(v, zone_)) {
      date_only = v.size() == 10;  // "2026-11-20"
      t = iso;
    } else {
      const auto rel = csv::parse_last_access(v);
      if (!rel.ok()) {
        err = {a.field, "date « " + std::string(v) + " » illisible" + formats_hint(a.formats)};
        return std::nullopt;
      }
      if (rel.never) return std::nullopt;
      return as_of_ - chr::seconds{rel.seconds_ago};
    }
    // For a date alone, the day has to have begun.
    if (*t > now_ + future_tolerance) {
      err = {a.field, "date « " + std::string(v) + " » dans le futur (jour et mois inversés ?)"};
      return std::nullopt;
    }
    if (date_only) {
      // Whatever happened that day happened by its end (the next local
      // midnight, less a second), or by now when the day is today: a lesson
      // dated the 20th must not make the 20th look like a day without one.
      const auto day = chr::floor<chr::days>(zone_.to_local(*t));
      t = std::min(zone_.to_utc(day + chr::days{1}) - chr::seconds{1}, now_);
    }
    return t;
  }

  const CsvMapping& m_;
  std::size_t width_;
  const ZoneRules& zone_;
  Timestamp as_of_;
  Timestamp now_;
  std::string cohort_;
  std::vector<DateFormat> formats_;
  std::vector<ActivityReader> activity_;
  Source default_source_ = Source::lms;
  int id_ = -1, first_ = -1, last_ = -1, full_ = -1, email_ = -1, phone_ = -1, matrix_ = -1, cohort_col_ = -1,
      start_ = -1, source_col_ = -1;
};

bool mapping_configured(const CsvMapping& m) { return !m.id.empty() || !m.email.empty(); }

// Every configured column is in the header: the file is the one the mapping describes.
bool mapping_matches(const CsvMapping& m, const std::vector<std::string>& header) {
  std::vector<std::string> norm;
  for (const auto& h : header) norm.push_back(csv::normalize_header(h));
  auto present = [&](const std::string& name) {
    return name.empty() || std::find(norm.begin(), norm.end(), csv::normalize_header(name)) != norm.end();
  };
  for (const std::string* name : {&m.id, &m.first_name, &m.last_name, &m.full_name, &m.email, &m.phone, &m.matrix,
                                  &m.cohort, &m.start_date, &m.last_activity, &m.source})
    if (!present(*name)) return false;
  return std::all_of(m.activity.begin(), m.activity.end(), [&](const ActivityColumn& a) { return present(a.column); });
}

}  // namespace

ImportReport import_csv(Engine& engine, const fs::path& file, const ImportOptions& opts, Timestamp now) {
  const std::string name = file.string();
  ImportReport rep;
  rep.file = file;

  const std::string bytes = read_bytes(file);
  const std::string sha = net::sha256_hex(bytes);
  const Timestamp as_of = opts.as_of ? *opts.as_of : file_mtime(file);

  const auto decoded = csv::decode_to_utf8(bytes);
  if (!decoded.ok())
    throw ImportError(name + ":" + std::to_string(std::max(decoded.error_line, 1)) + ": encodage: " + decoded.error);
  rep.encoding = decoded.encoding;
  rep.separator = csv::detect_separator(decoded.text);

  csv::Reader reader(decoded.text, rep.separator);
  auto syntax_error = [&] {
    return ImportError(name + ":" + std::to_string(reader.error_line()) + ": format: " + reader.error() +
                       " ; la lecture ne peut pas continuer après cette ligne");
  };
  csv::Record header;
  switch (reader.next(header)) {
    case csv::Reader::Status::record: break;
    case csv::Reader::Status::end: throw ImportError(name + ":1: en-tête: fichier vide");
    case csv::Reader::Status::error: throw syntax_error();
  }

  // A column named twice: whichever one a mapping found, the other's values
  // would be silently dropped.
  {
    std::map<std::string, std::size_t> seen;  // normalised name -> column (0-based)
    for (std::size_t i = 0; i < header.fields.size(); ++i) {
      const auto norm = csv::normalize_header(header.fields[i]);
      if (norm.empty()) continue;  // Excel's unnamed trailing columns
      const auto [it, fresh] = seen.emplace(norm, i);
      if (!fresh)
        throw ImportError(name + ":" + std::to_string(header.line) + ": en-tête: colonne « " +
                          std::string(csv::trim(header.fields[i])) + " » en double (colonnes " +
                          std::to_string(it->second + 1) + " et " + std::to_string(i + 1) +
                          ") : renommez ou supprimez l'une des deux");
    }
  }

  // Which format: the one asked for, else the configured mapping when its
  // columns are all there, else a Moodle Participants export, else the
  // mapping again so that its error names the missing column.
  const CsvMapping& mapping = engine.config().csv;
  const auto moodle = csv::find_moodle_columns(header.fields);
  bool is_moodle = false;
  switch (opts.format) {
    case CsvFormat::moodle_participants:
      if (!moodle)
        throw ImportError(name + ":" + std::to_string(header.line) +
                          ": en-tête: ce n'est pas un export « Participants » de Moodle ; colonnes attendues : " +
                          csv::expected_moodle_headers());
      is_moodle = true;
      break;
    case CsvFormat::generic: break;
    case CsvFormat::automatic:
      is_moodle = moodle && !(mapping_configured(mapping) && mapping_matches(mapping, header.fields));
      break;
  }
  rep.format = is_moodle ? "moodle_participants" : "generic";

  // Relative times are only as right as the moment they are relative to.
  if (is_moodle && as_of > now + future_tolerance)
    throw ImportError(name + ": date de référence (--as-of) " + format_utc(as_of) + " dans le futur");

  std::optional<MoodleRows> moodle_rows;
  std::optional<GenericRows> generic_rows;
  if (is_moodle)
    moodle_rows.emplace(*moodle, header.fields.size(), as_of, opts.cohort.empty() ? mapping.default_cohort : opts.cohort,
                        engine.config().moodle_export.student_roles);
  else
    generic_rows.emplace(mapping, header, name, engine.zone(), as_of, now, opts.cohort);

  // What this import makes of the file, row by row: with the bytes' hash,
  // the key of "already imported". Hashing the outcome rather than the
  // settings that led to it covers them all (mapping, formats, roles,
  // cohort, time zone, reference time) and nothing else.
  Sha256Stream reading;
  reading << rep.format;

  store::WriteTransaction tx(engine.db());
  auto& sql = engine.db().sql();
  const std::string actor = "import";
  store::LearnerRepo known(engine.db());  // look-ups only; writes go through the engine
  csv::Record rec;
  Row row;
  RowError err;
  std::unordered_map<std::string, int> lines_of_ids;  // learner id -> the line it was first on
  for (;;) {
    const auto st = reader.next(rec);
    if (st == csv::Reader::Status::end) break;
    if (st == csv::Reader::Status::error) throw syntax_error();
    if (blank(rec)) continue;
    ++rep.rows;

    row = Row{};
    err = RowError{};
    row.learner.language.clear();  // empty: keep the stored language (new learners get "fr")
    bool ok;
    if (rec.too_long_field >= 0) {
      // The reader did not copy it: no learner field holds that much.
      const auto column = std::size_t(rec.too_long_field);
      const auto title = column < header.fields.size() ? std::string(csv::trim(header.fields[column])) : std::string();
      err = {title.empty() ? "colonne " + std::to_string(column + 1) : title,
             "champ de " + std::to_string(rec.too_long_bytes) + " octets, au plus " +
                 std::to_string(csv::default_max_field_bytes)};
      ok = false;
    } else {
      ok = (is_moodle ? moodle_rows->parse(rec, row, err) : generic_rows->parse(rec, row, err)) &&
           (row.staff || check_learner_fields(row, err));
    }
    if (ok && !row.staff) {
      // The same learner twice: the second row would silently overwrite the first.
      const auto [first, fresh] = lines_of_ids.emplace(row.learner.id, rec.line);
      if (!fresh) {
        err = {"id", "« " + row.learner.id + " » déjà à la ligne " + std::to_string(first->second) +
                         " : le même apprenant deux fois dans le fichier"};
        ok = false;
      }
    }
    const std::string where = ":" + std::to_string(rec.line) + ": ";
    if (!ok) {
      std::string what = err.field + ": " + err.reason;
      reading << "skipped" << std::to_string(rec.line) << what;
      if (!opts.skip_bad_rows) throw ImportError(name + where + what);
      rep.row_errors.push_back(name + where + what);
      ++rep.skipped;
      continue;
    }
    add_to_reading(reading, row);
    if (row.staff) {
      ++rep.skipped_staff;
      for (const auto& role : row.roles) ++rep.staff_roles[role];
      continue;
    }
    for (const auto& w : row.warnings) rep.warnings.push_back(name + where + w.field + ": " + w.reason);

    try {
      // A learner new to the store has no case for a sign of life to close,
      // so its activity goes into the insert itself; for a known learner it
      // goes through record_activity, and only when it is newer than what is
      // stored. Both halve the statements per row, which is what keeps
      // 100,000 rows under 3 s (tests/bench/bench_import).
      const auto stored = known.find(row.learner.id);
      bool moved = false;
      if (!stored)
        for (std::size_t i = 0; i < source_count; ++i)
          if (row.activity[i]) {
            row.learner.activity.last[i] = to_unix(*row.activity[i]);
            moved = true;
          }
      const auto up = engine.upsert_learner(row.learner, now);
      if (stored)
        for (std::size_t i = 0; i < source_count; ++i)
          if (row.activity[i] && stored->activity.last[i] < to_unix(*row.activity[i]))
            moved = engine.apply(ActivityObserved{row.learner.key, Source(i), *row.activity[i], std::string(actor)}, now)
                        .activity_moved ||
                    moved;
      if (moved) ++rep.activity;
      switch (up) {
        case store::LearnerRepo::Upserted::inserted: ++rep.inserted; break;
        case store::LearnerRepo::Upserted::updated: ++rep.updated; break;
        case store::LearnerRepo::Upserted::unchanged: moved ? ++rep.updated : ++rep.unchanged; break;
      }
    } catch (const ImportError&) {
      throw;
    } catch (const std::exception& e) {
      // The store failed (disk full, database locked...): not this row's
      // fault, so never skipped; the transaction rolls back everything.
      throw ImportError(name + ":" + std::to_string(rec.line) + ": base de données: " + e.what());
    }
  }
  const std::string read_as = reading.hex_digest();

  {
    // Checked at the end, inside the transaction: the reading is only known
    // once every row is, and two imports of the same file at once cannot
    // both pass. What this run wrote is rolled back.
    SQLite::Statement q(sql, "SELECT 1 FROM import_log WHERE sha256 = ? AND reading = ?");
    q.bind(1, sha);
    q.bind(2, read_as);
    if (q.executeStep()) {
      rep.already_imported = true;
      rep.inserted = rep.updated = rep.activity = 0;
      rep.unchanged = rep.rows - rep.skipped - rep.skipped_staff;
      return rep;  // the transaction rolls back: it leaves nothing
    }
  }

  if (opts.dry_run) return rep;  // validated and applied inside the transaction, rolled back here

  SQLite::Statement log(sql, "INSERT INTO import_log (sha256, reading, as_of, file_name, format, rows, at) "
                             "VALUES (?,?,?,?,?,?,?)");
  log.bind(1, sha);
  log.bind(2, read_as);
  log.bind(3, to_unix(as_of));
  log.bind(4, file.filename().string());
  log.bind(5, rep.format);
  log.bind(6, rep.rows);
  log.bind(7, to_unix(now));
  log.exec();
  // The audit trail says which file fed the register, byte for byte, and
  // what was made of it.
  store::Journal(engine.db())
      .append({0, now, actor, "import.file", std::nullopt, std::nullopt,
               file.filename().string() + " (" + rep.format + ", sha256 " + sha + ", lecture " + read_as + ", as_of " +
                   format_utc(as_of) + "): " + std::to_string(rep.rows) + " lignes, " + std::to_string(rep.inserted) +
                   " nouveaux, " + std::to_string(rep.updated) + " mis à jour, " + std::to_string(rep.skipped) +
                   " ignorées, " + std::to_string(rep.skipped_staff) + " non apprenants (rôles), " +
                   std::to_string(rep.warnings.size()) + " valeurs écartées"});
  tx.commit();
  return rep;
}

}  // namespace relance::app
