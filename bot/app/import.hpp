// `relance import`: CSV files into the store, one transaction per file.
#pragma once

#include "bot/app/engine.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace relance::app {

enum class CsvFormat { automatic, moodle_participants, generic };

struct ImportOptions {
  CsvFormat format = CsvFormat::automatic;
  std::optional<Timestamp> as_of;  // reference time of relative "Dernier accès"; default: the file's mtime
  std::string cohort;              // cohort given to rows without one
  bool skip_bad_rows = false;      // report bad rows and go on
  bool dry_run = false;            // validate, change nothing
};

struct ImportReport {
  std::filesystem::path file;
  std::string format;              // "moodle_participants" | "generic"
  std::string encoding;            // "utf-8" | "windows-1252"
  char separator = ',';
  int rows = 0, inserted = 0, updated = 0, unchanged = 0, activity = 0, skipped = 0;
  // Moodle rows whose "Rôles" hold no student role ([import.moodle]
  // student_roles): teachers, managers... left out, not errors.
  int skipped_staff = 0;
  std::map<std::string, int> staff_roles;  // their roles, and how many of those rows had each
  // The same bytes were imported before and read the same way (same rows,
  // same activity, same rows skipped): nothing was written.
  bool already_imported = false;
  std::vector<std::string> row_errors;  // "file:line: field: reason" for skipped rows
  // "file:line: field: reason" for values left out of rows that were
  // imported (an invalid phone number: the learner comes in without it).
  std::vector<std::string> warnings;
};

// A row or file that cannot be imported: where and why. Nothing was written.
class ImportError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

ImportReport import_csv(Engine& engine, const std::filesystem::path& file, const ImportOptions& opts, Timestamp now);

}  // namespace relance::app
