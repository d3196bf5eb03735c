// The detection pass: learners whose `detect_at` has come are examined
// (groups of 64), cases whose next step is due advance, due timers fire. In
// slices (`run_pass` with a budget) for the service, to the end for `scan`.
#include "bot/app/engine.hpp"
#include "bot/app/engine_detail.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace relance::app {

using detail::begin_unless;
using nlohmann::json;

namespace {

// Index of what detection must skip, built once per pass from the cases table.
class StoreCaseIndex final : public CaseIndex {
public:
  StoreCaseIndex(std::vector<store::CaseRepo::Coverage> rows, const std::vector<Policy>& policies) {
    std::unordered_map<std::string, std::size_t> policy_index;
    for (std::size_t i = 0; i < policies.size(); ++i) policy_index[policies[i].id] = i;
    for (const auto& r : rows) {
      if (r.active) active_.insert(r.learner_key);
      auto it = policy_index.find(r.policy_id);
      if (it == policy_index.end()) continue;
      auto& slot = refs_[key(r.learner_key, it->second)];
      if (r.activity_ref > slot) slot = r.activity_ref;
    }
  }
  bool has_active_case(std::int64_t learner) const override { return active_.count(learner) != 0; }
  bool covered(std::int64_t learner, std::size_t policy, Timestamp ref) const override {
    auto it = refs_.find(key(learner, policy));
    return it != refs_.end() && it->second >= ref;
  }

private:
  static std::uint64_t key(std::int64_t learner, std::size_t policy) {
    return (std::uint64_t(learner) << 12) ^ std::uint64_t(policy);
  }
  std::unordered_set<std::int64_t> active_;
  std::unordered_map<std::uint64_t, Timestamp> refs_;
};

}  // namespace

// Everything detection reads of the configuration: when it changes, every
// learner's `detect_at` is stale and each is examined again.
std::string Engine::policies_fingerprint() const {
  json j = json::array();
  j.push_back(config_.timezone);
  for (const auto& p : config_.policies) {
    json sources = json::array();
    for (std::size_t i = 0; i < source_count; ++i)
      if (p.sources.has(Source(i))) sources.push_back(to_string(Source(i)));
    j.push_back({p.id, p.cohorts, sources, std::string(to_string(p.condition)), p.days.count(),
                 p.session_start ? format_date(*p.session_start) : std::string(), p.priority});
  }
  return j.dump();
}

Pass Engine::begin_pass(Timestamp now, bool dry_run) {
  Pass pass;
  pass.report.now = now;
  pass.report.dry_run = dry_run;
  pass.detector.emplace(config_.policies, now, zone_);
  return pass;
}

ScanReport Engine::scan(Timestamp now, bool dry_run) {
  // A dry run does everything inside one transaction and rolls it back, so
  // it shows exactly what a real pass would do.
  auto outer = begin_unless(!dry_run, db_);
  Pass pass = begin_pass(now, dry_run);
  // As good as unbounded (and no overflow once converted to nanoseconds).
  constexpr std::chrono::microseconds whole = std::chrono::hours(24 * 365 * 100);
  while (!run_pass(pass, whole)) {
  }
  // `outer` (dry run) rolls back here.
  return std::move(pass.report);
}

namespace {

// `detect_at` is derived data: a commit of it lost to a power cut only
// means a learner examined once more. Such commits skip the fsync that
// synchronous=FULL costs (the I/O thread waits for it); WAL keeps the order,
// so the next durable commit makes them durable too.
class DerivedWrites {
public:
  DerivedWrites(store::Database& db, bool dry_run) : db_(dry_run ? nullptr : &db) {
    if (db_) db_->set_synchronous_full(false);
  }
  ~DerivedWrites() {
    if (db_) db_->set_synchronous_full(true);
  }
  DerivedWrites(const DerivedWrites&) = delete;
  DerivedWrites& operator=(const DerivedWrites&) = delete;

private:
  store::Database* db_;
};

// When an examined learner is examined next: their next crossing, never at
// or before `now` (the group query must not find them again in this pass).
std::optional<Timestamp> next_examination(const Detector::Examination& ex, Timestamp now) {
  if (ex.next_crossing && *ex.next_crossing <= now) return now + std::chrono::seconds(1);
  return ex.next_crossing;
}

// Reports the steps an outcome ran (a new case gets its id from the commit,
// so this is called after it).
void report_outcome(ScanReport& rep, const Case& c, const Learner& l, const Outcome& out, Timestamp now) {
  for (const auto& e : out.effects) {
    int step = -1;
    const char* action = nullptr;
    Timestamp at = now;
    if (const auto* m = std::get_if<LearnerMessage>(&e)) step = m->step, action = "message", at = m->not_before;
    else if (const auto* t = std::get_if<StaffTask>(&e)) step = t->step, action = "task";
    if (!action) continue;
    const auto& s = c.plan.steps[std::size_t(step)];
    rep.steps.push_back({c.id, l.id, step, s.name, action, std::string(to_string(s.means)), s.role, at});
  }
  if (!is_active(c.state)) rep.closed.push_back({c.id, l.id, std::string(to_string(c.state))});
}

}  // namespace

void Engine::advance_while_due(Case& c, const Learner& l, Pass& pass) {
  const Timestamp now = pass.report.now;
  // Each step in its own transaction; bounded by the plan's length.
  for (std::size_t guard = 0; guard <= c.plan.steps.size() + 1; ++guard) {
    if (!is_active(c.state) || !c.next_due || *c.next_due > now) break;
    auto tx = begin_unless(pass.report.dry_run, db_);
    CaseContext ctx{l, zone_, config_.contact_window, now, config_.task_due, learner_channels(config_)};
    Outcome out = advance(c, ctx);
    if (out.effects.empty() && c.next_due && *c.next_due <= now) break;  // no progress possible
    commit_outcome(c, l, out, "relance", now);
    report_outcome(pass.report, c, l, out, now);
    if (tx) tx->commit();
  }
}

void Engine::open_detected(const Learner& l, const Detection& d, Pass& pass) {
  const Timestamp now = pass.report.now;
  const Policy& p = config_.policies[d.policy_index];
  Case c = open_case(l, p, d, now);
  {
    auto tx = begin_unless(pass.report.dry_run, db_);
    CaseContext ctx{l, zone_, config_.contact_window, now, config_.task_due, learner_channels(config_)};
    Outcome out = start_case(c, p, ctx);
    // The case's insert takes the learner out of detection (migration 0007).
    commit_outcome(c, l, out, "relance", now);
    report_outcome(pass.report, c, l, out, now);
    if (tx) tx->commit();
  }
  pass.report.opened.push_back({l.key, l.id, l.display_name(), p.id, d.ref.since});
  advance_while_due(c, l, pass);
}

bool Engine::run_pass(Pass& pass, std::chrono::microseconds budget) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  // At least one unit of work per call, whatever the budget: a pass always
  // moves forward.
  bool worked = false;
  const auto spent = [&] { return worked && clock::now() - start >= budget; };
  const Timestamp now = pass.report.now;
  const bool dry_run = pass.report.dry_run;
  ScanReport& rep = pass.report;

  while (pass.phase == Pass::Phase::policies) {
    if (pass.reset_end < 0) {
      pass.policies_fingerprint = policies_fingerprint();
      if (store::kv_get(db_, "detection.policies") == pass.policies_fingerprint) {
        pass.phase = Pass::Phase::learners;
        break;
      }
      pass.reset_end = learners_.max_key() + 1;
    }
    if (pass.reset_next >= pass.reset_end) {
      store::kv_set(db_, "detection.policies", pass.policies_fingerprint);
      pass.phase = Pass::Phase::learners;
      break;
    }
    if (spent()) return false;
    DerivedWrites derived(db_, dry_run);
    auto tx = begin_unless(dry_run, db_);
    const std::int64_t to = std::min(pass.reset_end, pass.reset_next + 1'000);
    learners_.mark_due(pass.reset_next, to);
    if (tx) tx->commit();
    pass.reset_next = to;
    worked = true;
  }

  // Learners due for examination, a group at a time, the longest due first.
  // Each examined learner gets its next `detect_at` (in the group's
  // transaction); one that crosses a threshold opens its case (in the case's
  // own), which takes them out of detection. A learner left unexamined when
  // the budget runs out is still due: the next call finds it again.
  while (pass.phase == Pass::Phase::learners) {
    while (!pass.detected.empty()) {
      if (spent()) return false;
      const std::int64_t key = pass.detected.back();
      pass.detected.pop_back();
      worked = true;
      // Read in the transaction that writes what is decided on it (here and
      // below): another connection (the I/O thread, the inbound writer) may
      // commit between two units of work, and must not be overwritten.
      auto tx = begin_unless(dry_run, db_);
      auto l = learners_.get(key);
      if (!l) continue;
      StoreCaseIndex index(cases_.coverage_of({key}), config_.policies);
      auto ex = pass.detector->examine_learner(*l, index);
      if (ex.detection) open_detected(*l, *ex.detection, pass);
      else learners_.set_detect_at(key, next_examination(ex, now));
      if (tx) tx->commit();
    }
    if (spent()) return false;
    {
      DerivedWrites derived(db_, dry_run);
      auto tx = begin_unless(dry_run, db_);
      auto group = learners_.due_for_detection(now, 64);
      if (group.empty()) {
        pass.phase = Pass::Phase::cases;
        break;
      }
      std::vector<std::int64_t> keys;
      keys.reserve(group.size());
      for (const auto& l : group) keys.push_back(l.key);
      StoreCaseIndex index(cases_.coverage_of(keys), config_.policies);
      for (const auto& l : group) {
        ++rep.learners_examined;
        auto ex = pass.detector->examine_learner(l, index);
        if (ex.detection) {
          pass.detected.push_back(l.key);
          continue;
        }
        learners_.set_detect_at(l.key, next_examination(ex, now));
      }
      if (tx) tx->commit();
    }
    // Opened in the order they were found.
    std::reverse(pass.detected.begin(), pass.detected.end());
    worked = true;
  }

  if (pass.phase == Pass::Phase::cases) {
    if (pass.next_case == 0 && pass.due_cases.empty()) pass.due_cases = cases_.due_ids(now);
    while (pass.next_case < pass.due_cases.size()) {
      if (spent()) return false;
      auto tx = begin_unless(dry_run, db_);
      auto c = cases_.get(pass.due_cases[pass.next_case++]);
      if (!c) continue;
      auto l = learners_.get(c->learner_key);
      if (!l) continue;
      advance_while_due(*c, *l, pass);
      if (tx) tx->commit();
      worked = true;
    }
    pass.phase = Pass::Phase::timers;
  }

  if (pass.phase == Pass::Phase::timers) {
    run_timers(now, dry_run, rep);
    pass.phase = Pass::Phase::done;
  }

  rep.next_wake = cases_.next_due();
  auto earliest = [&](std::optional<Timestamp> t) {
    if (t && (!rep.next_wake || *t < *rep.next_wake)) rep.next_wake = t;
  };
  earliest(learners_.next_detection());
  earliest(timers_.next_due());
  if (!dry_run && (!rep.opened.empty() || !rep.steps.empty() || !rep.closed.empty() || !rep.escalated.empty()))
    spdlog::info("scan: {} learners examined, {} cases opened, {} steps run, {} cases closed, {} escalated",
                 rep.learners_examined, rep.opened.size(), rep.steps.size(), rep.closed.size(), rep.escalated.size());
  return true;
}

}  // namespace relance::app
