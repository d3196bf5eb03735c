// Helpers shared by the import tests (tests/app/import_*.cpp).
#pragma once

#include "bot/app/import.hpp"
#include "store/repositories.hpp"
#include "test_support.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <string>

namespace relance::test::import {

// Every row of the tables an import may touch, as text: two equal snapshots
// mean the import left no trace at all.
inline std::string snapshot(store::Database& db) {
  std::string out;
  for (const char* table : {"learner", "learner_case", "journal", "outbox", "task", "import_log"}) {
    out += std::string("## ") + table + "\n";
    SQLite::Statement q(db.sql(), std::string("SELECT * FROM ") + table + " ORDER BY 1");
    while (q.executeStep()) {
      for (int i = 0; i < q.getColumnCount(); ++i) {
        out += q.getColumn(i).isNull() ? std::string("NULL") : q.getColumn(i).getString();
        out += '|';
      }
      out += '\n';
    }
  }
  return out;
}

inline std::int64_t count(store::Database& db, const std::string& table) {
  return db.sql().execAndGet("SELECT COUNT(*) FROM " + table).getInt64();
}

inline Learner learner(store::Database& db, std::string_view id) {
  store::LearnerRepo repo(db);
  auto l = repo.find(id);
  INFO("learner " << id);
  REQUIRE(l);
  return *l;
}

inline std::int64_t last(const Learner& l, Source s) { return l.activity.last[std::size_t(s)]; }

// A file in the fixture's folder with exactly these bytes.
inline std::filesystem::path csv_file(const Fixture& f, const std::string& name, std::string_view bytes) {
  const auto p = f.dir / name;
  write_file(p, bytes);
  return p;
}

}  // namespace relance::test::import
