// A synthetic cohort for the benchmarks: N learners and M activity events,
// generated learner by learner and folded into the per-source summary
// exactly as ingest does (max per source), streamed into SQLite in one
// transaction so that generation does not inflate what is measured after it.
#pragma once

#include "bot/domain/learner.hpp"
#include "store/database.hpp"

#include <SQLiteCpp/VariadicBind.h>

#include <chrono>
#include <fstream>
#include <random>
#include <string>

namespace relance::bench {

inline constexpr const char* cohorts[] = {"permis-b", "bureautique-en-ligne", "enseignants-numerique", "autre"};

// Every event falls in the `spread_days` before `now`.
inline void generate_cohort(store::Database& db, long learners, long events, Timestamp now, int spread_days = 400) {
  db.set_synchronous_full(false);
  store::WriteTransaction tx(db);
  SQLite::Statement ins(db.sql(),
                        "INSERT INTO learner (id, first_name, last_name, email, phone, cohort, start_date, first_seen, "
                        "updated_at, last_lms, last_lesson, last_booking, last_visit, last_call, last_message, last_email, "
                        "last_staff) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  std::mt19937_64 rng(42);
  const long per = learners ? events / learners : 0;
  long remainder = learners ? events % learners : 0;
  for (long i = 0; i < learners; ++i) {
    ActivitySummary a;
    const long n = per + (remainder-- > 0 ? 1 : 0);
    for (long e = 0; e < n; ++e) {
      const auto src = Source(rng() % source_count);
      const auto ago = std::chrono::seconds(rng() % (std::int64_t(spread_days) * 86400));
      a.observe(src, now - ago);
    }
    ins.reset();
    SQLite::bind(ins, "L" + std::to_string(i), "Prénom", "Nom", "l" + std::to_string(i) + "@example.org", "+33612345678",
                 cohorts[i % 4], "2026-01-05", to_unix(now) - std::int64_t(spread_days) * 86400, to_unix(now));
    for (std::size_t s = 0; s < source_count; ++s) ins.bind(int(10 + s), a.last[s]);
    ins.exec();
  }
  tx.commit();
}

inline long status_kb(const std::string& file, const char* field) {
  std::ifstream in(file);
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  return -1;
}

}  // namespace relance::bench
