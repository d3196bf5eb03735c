// Benchmark: a detection pass over N learners and M activity events.
// Prints figures; never fails on speed. Target (DESIGN.md): 1,000,000
// learners and 10,000,000 events in < 2 s and < 300 MB peak RSS.
//
//   bench_detection [--learners N] [--events M] [--db FILE]
//
// Events are generated learner by learner and folded into the per-source
// summary exactly as ingest does (max per source), streamed into SQLite in
// one transaction, so generation does not inflate the pass's memory. The
// peak RSS counter is reset (/proc/self/clear_refs) before the pass.
#include "bench_cohort.hpp"
#include "bot/app/zone.hpp"
#include "bot/domain/detection.hpp"
#include "store/database.hpp"
#include "store/repositories.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

using namespace relance;
using clk = std::chrono::steady_clock;

namespace {

long peak_rss_kb() { return bench::status_kb("/proc/self/status", "VmHWM"); }

void reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

double seconds_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

struct NoCases final : CaseIndex {
  bool has_active_case(std::int64_t) const override { return false; }
  bool covered(std::int64_t, std::size_t, Timestamp) const override { return false; }
};

Policy policy(std::string id, std::string cohort, SourceSet sources, int days, Condition cond) {
  Policy p;
  p.id = std::move(id);
  p.cohorts = {std::move(cohort)};
  p.sources = sources;
  p.days = std::chrono::days(days);
  p.condition = cond;
  p.plan.id = "plan";
  p.plan.steps.push_back(Step{});
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  long learners = 1'000'000, events = 10'000'000;
  std::string db_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--learners")) learners = std::stol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--events")) events = std::stol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--db")) db_path = argv[i + 1];
  }
  const bool temp_db = db_path.empty();
  if (temp_db) db_path = (std::filesystem::temp_directory_path() / ("relance-bench-" + std::to_string(::getpid()) + ".db")).string();
  std::filesystem::remove(db_path);

  const Timestamp now = from_unix(1'795'000'000);  // 2026-11-18
  std::printf("bench_detection: %ld learners, %ld events, db %s\n", learners, events, db_path.c_str());

  // --- generate
  auto t0 = clk::now();
  {
    store::Database db(db_path);
    db.migrate();
    bench::generate_cohort(db, learners, events, now);
  }
  const double gen_s = seconds_since(t0);
  std::printf("  generate + store: %.2f s (%.0f events/s folded)\n", gen_s, double(events) / gen_s);

  // --- detection pass, as Engine::scan runs it: stream learners, examine each
  std::vector<Policy> policies{
      policy("000", "bureautique-en-ligne", SourceSet{}.add(Source::lms), 10, Condition::inactive_for),
      policy("001", "permis-b", SourceSet::all(), 90, Condition::inactive_for),
      policy("003", "enseignants-numerique", SourceSet{}.add(Source::lms), 3, Condition::never_accessed),
  };
  auto zone = app::make_zone("Europe/Paris");
  reset_peak_rss();
  const long rss_before = peak_rss_kb();
  auto t1 = clk::now();
  long examined = 0, detected = 0;
  std::optional<Timestamp> next;
  {
    store::Database db(db_path, store::Database::Mode::read_only);
    store::LearnerRepo repo(db);
    NoCases none;
    Detector detector(policies, now, *zone);
    repo.for_each_active([&](const Learner& l) {
      ++examined;
      if (detector.examine(l, none)) ++detected;
    });
    next = detector.next_crossing();
  }
  const double pass_s = seconds_since(t1);
  std::printf("  detection pass: %.3f s for %ld learners (%.0f learners/s), %ld detected, next crossing %s\n", pass_s,
              examined, double(examined) / pass_s, detected, next ? format_utc(*next).c_str() : "none");
  std::printf("  peak RSS during the pass: %.1f MB (process baseline before it %.1f MB)\n", peak_rss_kb() / 1024.0,
              rss_before / 1024.0);
  std::printf("  database file: %.1f MB\n", std::filesystem::file_size(db_path) / 1e6);
  if (temp_db) {
    std::filesystem::remove(db_path);
    std::filesystem::remove(db_path + "-wal");
    std::filesystem::remove(db_path + "-shm");
  }
  return 0;
}
