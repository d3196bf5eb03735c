#include "bot/app/engine.hpp"

#include "bot/app/export.hpp"
#include "bot/app/phone.hpp"
#include "bot/app/preview.hpp"
#include "bot/app/routing.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace relance::app {

using nlohmann::json;

namespace {

std::optional<store::WriteTransaction> begin_unless(bool skip, store::Database& db) {
  if (skip) return std::nullopt;
  return std::optional<store::WriteTransaction>(std::in_place, db);
}

std::string params_to_json(const Params& p) {
  json j = json::object();
  for (const auto& [k, v] : p) j[k] = v;
  return j.dump();
}

const char* channel_name(Means m) {
  switch (m) {
    case Means::sms: return "sms";
    case Means::email: return "email";
    case Means::matrix: return "matrix";
    default: return "other";
  }
}

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

Params params_from_json(const std::string& s) {
  Params p;
  const json j = json::parse(s, nullptr, false);
  if (!j.is_object()) return p;
  for (const auto& [k, v] : j.items())
    if (v.is_string()) p[k] = v.get<std::string>();
  return p;
}

Engine::Engine(const Config& config, store::Database& db, const ZoneRules& zone, const messages::Catalog& catalog)
    : config_(config), db_(db), zone_(zone), catalog_(catalog), learners_(db), cases_(db), relaunches_(db), tasks_(db),
      outbox_(db), journal_(db), threads_(db), timers_(db), consent_(db), inbound_(db) {}

std::string Engine::text(std::string_view key, const Params& p) const {
  return catalog_.render(config_.default_language, key, p);
}

Params Engine::case_params(const Case& c, const Learner& l) const {
  // The learner's part is the preview's (check-config, `relance preview`):
  // what it shows is what the outbox renders.
  Params p = learner_message_params(config_, l);
  p["case"] = std::to_string(c.id);
  p["since_date"] = format_local(c.activity_ref, zone_, false);
  for (const auto& pol : config_.policies)
    if (pol.id == c.policy_id) p["policy"] = pol.label;
  if (!p.count("policy")) p["policy"] = c.policy_id;
  if (!c.plan.steps.empty()) {
    const auto& role = c.plan.steps.front().role;
    auto it = config_.role_labels.find(role);
    p["first_step_role"] = it != config_.role_labels.end() ? it->second : role;
  }
  return p;
}

// ------------------------------------------------------------------ commit

void Engine::commit_outcome(Case& c, const Learner& l, Outcome& out, std::string_view actor, Timestamp now) {
  if (c.id == 0) cases_.insert(c);
  else cases_.update(c);
  // A staff relaunch is stored now; a bot relaunch once its message is in
  // the outbox, linked to it (the dispatcher settles it: sent, failed...).
  if (out.relaunch && !out.relaunch->automatic) {
    out.relaunch->case_id = c.id;
    relaunches_.insert(*out.relaunch);
    tasks_.complete_for_case(c.id, actor, now);
  }
  if (!is_active(c.state)) tasks_.complete_for_case(c.id, actor, now);
  if (!c.assignee.empty() || !is_active(c.state)) timers_.cancel("escalation", std::to_string(c.id));
  if (out.learner_status) learners_.set_status(l.key, *out.learner_status, now);

  const Params base = case_params(c, l);
  // Deterministic per case state: replaying the same step cannot enqueue twice.
  const std::string stamp = std::to_string(c.id) + ":" + std::string(to_string(c.state)) + ":" +
                            std::to_string(c.next_step) + ":" + std::to_string(c.relaunches);
  int seq = 0;
  for (auto& e : out.effects) {
    ++seq;
    std::visit(
        [&](auto& eff) {
          using T = std::decay_t<decltype(eff)>;
          if constexpr (std::is_same_v<T, LearnerMessage>) {
            store::OutboxItem item;
            item.created_at = now;
            item.channel = channel_name(eff.channel);
            item.recipient = eff.channel == Means::sms ? l.phone : eff.channel == Means::matrix ? l.matrix_id : l.email;
            item.template_key = "learner." + eff.template_key;
            Params p = base;
            p.insert(eff.params.begin(), eff.params.end());
            item.params_json = params_to_json(p);
            item.case_id = c.id;
            item.learner_key = l.key;
            item.dedupe_key = "case:" + std::to_string(c.id) + ":step:" + std::to_string(eff.step) + ":" + item.channel;
            item.not_before = eff.not_before;
            const auto queued = outbox_.enqueue(item);
            if (out.relaunch && out.relaunch->automatic && out.relaunch->step == eff.step && queued) {
              out.relaunch->case_id = c.id;
              out.relaunch->outbox_id = *queued;
              relaunches_.insert(*out.relaunch);
            }
          } else if constexpr (std::is_same_v<T, StaffNotice>) {
            Params p = base;
            p.insert(eff.params.begin(), eff.params.end());
            if (eff.priority) p["priority"] = "1";
            // An empty role means the case's own people: those of its alert.
            const std::string role = !eff.role.empty() ? eff.role : c.plan.steps.empty() ? std::string() : c.plan.steps.front().role;
            enqueue_staff(c.id, l.key, c.policy_id, role, eff.template_key, std::move(p),
                          "case:" + stamp + ":" + std::to_string(seq) + ":" + eff.template_key, now);
            if (is_active(c.state) && c.assignee.empty() &&
                (eff.template_key == "alert.opened" || eff.template_key == "alert.task"))
              arm_escalation(c.id, role, now);
          } else if constexpr (std::is_same_v<T, StaffTask>) {
            store::Task t;
            t.case_id = c.id;
            t.step = eff.step;
            t.role = eff.role;
            t.means = eff.means;
            t.template_key = eff.template_key;
            t.created_at = now;
            t.due = eff.due;
            tasks_.insert(t);
          } else if constexpr (std::is_same_v<T, JournalNote>) {
            journal_.append({0, now, std::string(actor), eff.action, l.key, c.id, eff.detail});
          }
        },
        e);
  }
}

// One outbox row per destination (chat room, or the console), each with its
// own dedupe key, so every room's queue is ordered, retried and resumed on
// its own. `_role` says whom to mention; `_alert` marks a post that starts
// a case's thread with its actions (buttons, ✋).
void Engine::enqueue_staff(std::optional<std::int64_t> case_id, std::optional<std::int64_t> learner_key,
                           std::string_view policy_id, const std::string& role, const std::string& template_key, Params p,
                           const std::string& dedupe_base, Timestamp now) {
  static const std::unordered_set<std::string> alerts{"alert.opened", "alert.escalated"};
  static const std::unordered_set<std::string> mentioned{"alert.opened", "alert.escalated", "alert.task",
                                                         "alert.step_unreachable", "alert.digest"};
  if (!role.empty()) p["_role"] = role;
  if (alerts.count(template_key)) p["_alert"] = "1";
  if (mentioned.count(template_key)) p["_mention"] = "1";
  const std::string params = params_to_json(p);
  for (const auto& d : route(config_, policy_id, role)) {
    store::OutboxItem item;
    item.created_at = now;
    item.channel = d.network == "staff" ? std::string("staff") : "staff." + d.network;
    item.recipient = d.target;
    item.template_key = template_key;
    item.params_json = params;
    item.case_id = case_id;
    item.learner_key = learner_key;
    item.dedupe_key = d.network == "staff" ? dedupe_base : dedupe_base + ":" + d.network + ":" + d.target;
    item.not_before = now;
    outbox_.enqueue(item);
  }
}

EscalationRules Engine::escalation_rules() const {
  const auto& e = config_.escalation;
  if (!e.enabled) return {};
  return EscalationRules{e.chain, e.claim_within, e.hours};
}

namespace {

std::string clock_payload(const EscalationClock& c) { return json{{"role", c.role}, {"level", c.level}}.dump(); }

}  // namespace

void Engine::arm_escalation(std::int64_t case_id, const std::string& role, Timestamp now) {
  if (auto clock = start_escalation(escalation_rules(), role, now, zone_))
    timers_.arm("escalation", std::to_string(case_id), clock->due, clock_payload(*clock));
}

// ------------------------------------------------------------------ ingest

// What counts as a sign of life for a case: its policy's sources; every
// source when the policy has since left the configuration.
SourceSet Engine::sources_of(std::string_view policy_id) const {
  for (const auto& p : config_.policies)
    if (p.id == policy_id) return p.sources;
  return SourceSet::all();
}

store::LearnerRepo::Upserted Engine::upsert_learner(Learner& l, Timestamp now) {
  const auto r = learners_.upsert(l, now);
  if (r == store::LearnerRepo::Upserted::updated) {
    // The update may carry newer activity: a sign of life for open cases.
    for (Case c : cases_.active_for_learner(l.key)) {
      const SourceSet sources = sources_of(c.policy_id);
      auto last = l.activity.last_over(sources);
      if (!last || *last <= c.activity_ref) continue;
      Source src = Source::lms;
      for (std::size_t i = 0; i < source_count; ++i)
        if (sources.has(Source(i)) && l.activity.last[i] == to_unix(*last)) src = Source(i);
      Outcome out = sign_of_life(c, src, *last, now);
      commit_outcome(c, l, out, "relance", now);
    }
  }
  return r;
}

bool Engine::record_activity(std::int64_t learner_key, Source source, Timestamp at, Timestamp now, std::string_view actor) {
  const bool moved = learners_.observe(learner_key, source, at, now);
  if (!moved) return false;
  auto cases = cases_.active_for_learner(learner_key);
  if (cases.empty()) return true;
  auto l = learners_.get(learner_key);
  if (!l) return true;
  for (Case c : cases) {
    if (!sources_of(c.policy_id).has(source)) continue;
    Outcome out = sign_of_life(c, source, at, now);
    if (!out.effects.empty()) commit_outcome(c, *l, out, actor, now);
  }
  return true;
}

// ------------------------------------------------------------------ scan

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

// ------------------------------------------------------------------ escalation

std::string Engine::role_label(const std::string& role) const {
  auto it = config_.role_labels.find(role);
  return it != config_.role_labels.end() ? it->second : role;
}

void Engine::run_timers(Timestamp now, bool dry_run, ScanReport& rep) {
  {
    auto tx = begin_unless(dry_run, db_);
    keep_digest_timer(now);
    if (tx) tx->commit();
  }
  for (const auto& t : timers_.due(now)) {
    auto tx = begin_unless(dry_run, db_);
    if (!timers_.fire(t)) continue;  // moved or cancelled since it was read
    if (t.kind == "escalation") on_escalation_due(t, now, rep);
    else if (t.kind == "digest") on_digest_due(now, rep);
    else spdlog::warn("timer: unknown kind '{}' (subject '{}'), dropped", t.kind, t.subject);
    if (tx) tx->commit();
  }
}

// An alert nobody claimed within its business-time deadline goes to the next
// role of the chain (escalate() decides), in that role's room, with a
// mention; its clock restarts there unless that role is the chain's last.
void Engine::on_escalation_due(const store::Timer& t, Timestamp now, ScanReport& rep) {
  std::int64_t case_id = 0;
  EscalationClock clock;
  try {
    case_id = std::stoll(t.subject);
    const json p = json::parse(t.payload);
    clock = EscalationClock{p.at("role").get<std::string>(), p.value("level", 0), t.due};
  } catch (const std::exception& e) {
    spdlog::warn("timer: escalation '{}' unreadable ({}), dropped", t.subject, e.what());
    return;
  }
  auto c = cases_.get(case_id);
  auto l = c ? learners_.get(c->learner_key) : std::nullopt;
  if (!c || !l) return;
  const auto e = escalate(escalation_rules(), *c, clock, now, zone_);
  if (!e) return;
  Params p = case_params(*c, *l);
  p["role"] = e->to_role;
  p["from_role_label"] = role_label(e->from_role);
  char hours[16];
  std::snprintf(hours, sizeof hours, "%g", double(config_.escalation.claim_within.count()) / 60);
  p["hours"] = hours;
  p["days"] = std::to_string((now - c->activity_ref) / std::chrono::days(1));
  enqueue_staff(c->id, l->key, c->policy_id, e->to_role, "alert.escalated", std::move(p),
                "case:" + std::to_string(c->id) + ":escalated:" + std::to_string(e->level) + ":" + e->to_role, now);
  journal_.append({0, now, "relance", "case.escalated", l->key, c->id, e->from_role + " -> " + e->to_role});
  if (e->next) timers_.arm("escalation", std::to_string(c->id), e->next->due, clock_payload(*e->next));
  rep.escalated.push_back({c->id, l->id, e->from_role, e->to_role});
}

void Engine::keep_digest_timer(Timestamp now) {
  const auto want = next_digest(now);
  const auto have = timers_.get("digest", "");
  if (!want) {
    if (have) timers_.cancel("digest", "");
  } else if (!have || have->due != *want) {
    timers_.arm("digest", "", *want);
  }
}

// The day's digest instant, or the next day's once today's was posted.
std::optional<Timestamp> Engine::next_digest(Timestamp now) {
  const auto& e = config_.escalation;
  if (!e.enabled || !e.digest_at) return std::nullopt;
  const auto day = std::chrono::floor<std::chrono::days>(zone_.to_local(now));
  const auto last = store::kv_get(db_, "digest.last_day");
  if (last && *last == format_date(std::chrono::sys_days{day.time_since_epoch()}))
    return zone_.to_utc(day + std::chrono::days(1) + *e.digest_at);
  return zone_.to_utc(day + *e.digest_at);
}

// Once a day at the configured time: each role's overdue tasks, posted to
// that role's room with a mention. Nothing overdue, nothing posted.
void Engine::on_digest_due(Timestamp now, ScanReport& rep) {
  const auto& e = config_.escalation;
  if (!e.enabled || !e.digest_at) return;
  const auto day = std::chrono::floor<std::chrono::days>(zone_.to_local(now));
  const std::string day_text = format_date(std::chrono::sys_days{day.time_since_epoch()});
  std::map<std::string, std::pair<int, std::string>> by_role;
  for (const auto& t : tasks_.overdue(now)) {
    auto c = cases_.get(t.case_id);
    auto l = c ? learners_.get(c->learner_key) : std::nullopt;
    const std::string step_name = c && t.step >= 0 && std::size_t(t.step) < c->plan.steps.size()
                                      ? c->plan.steps[std::size_t(t.step)].name
                                      : std::string();
    auto& [n, lines] = by_role[t.role];
    ++n;
    lines += "\n" + text("reply.list_overdue_item", {{"case", std::to_string(t.case_id)},
                                                     {"learner", l ? l->display_name() : "?"},
                                                     {"step", step_name},
                                                     {"role_label", role_label(t.role)},
                                                     {"means_label", text("means." + std::string(to_string(t.means)))},
                                                     {"due_local", format_local(t.due, zone_)}});
  }
  for (auto& [role, entry] : by_role) {
    enqueue_staff(std::nullopt, std::nullopt, "", role, "alert.digest",
                  {{"role", role}, {"count", std::to_string(entry.first)}, {"items", entry.second}, {"date", day_text}},
                  "digest:" + day_text + ":" + role, now);
    ++rep.digests;
  }
  store::kv_set(db_, "digest.last_day", day_text);
  keep_digest_timer(now);
}

// ------------------------------------------------------------------ rendering

std::string Engine::render_outbox(const store::OutboxItem& item, const messages::FillStyle& style) const {
  Params p = params_from_json(item.params_json);
  const std::string& lang = config_.default_language;
  auto label = [&](const char* raw, const char* out, const std::string& prefix) {
    auto it = p.find(raw);
    if (it != p.end()) p[out] = catalog_.render(lang, prefix + it->second);
  };
  label("means", "means_label", "means.");
  label("result", "result_label", "result.");
  label("source", "source_label", "source.");
  for (const char* k : {"send_at", "due", "at"}) {
    auto it = p.find(k);
    if (it == p.end()) continue;
    try {
      p[std::string(k) + "_local"] = format_local(from_unix(std::stoll(it->second)), zone_);
    } catch (const std::exception&) {
    }
  }
  if (auto it = p.find("role"); it != p.end()) {
    auto r = config_.role_labels.find(it->second);
    p["role_label"] = r != config_.role_labels.end() ? r->second : it->second;
  }
  if (auto it = p.find("by"); it != p.end()) {
    const StaffMember* s = config_.find_staff(it->second);
    p["by_name"] = s ? s->name : it->second;
  }
  p["priority"] = p.count("priority") ? catalog_.render(lang, "alert.priority") : "";
  if (item.channel.rfind("staff", 0) != 0) {
    // A learner message shown to staff (console): the SMS text, or the email subject.
    const std::string body_key = item.template_key + (item.channel == "sms" ? ".sms" : ".email_subject");
    Params shown = p;
    shown["text"] = catalog_.render(lang, body_key, p);
    shown["channel"] = item.channel;
    shown["recipient"] = item.recipient;
    shown["not_before_local"] = format_local(item.not_before, zone_);
    return catalog_.render(lang, "alert.learner_message", shown, style);
  }
  return catalog_.render(lang, item.template_key, p, style);
}

// ------------------------------------------------------------------ commands

Reply Engine::handle_command(std::string_view staff_id, std::string_view line, Timestamp now,
                             const messages::FillStyle& style) {
  const StaffMember* staff = config_.find_staff(staff_id);
  if (!staff)
    return {false, catalog_.render(config_.default_language, "reply.not_staff", {{"user", std::string(staff_id)}}, style)};
  return handle_parsed(*staff, parse_command(line), now, style);
}

Reply Engine::handle_parsed(const StaffMember& member, const ParsedCommand& parsed, Timestamp now,
                            const messages::FillStyle& style) {
  // Every text of the answer in the style of where it goes (this shadows Engine::text).
  const auto text = [&](std::string_view key, const Params& p = {}) {
    return catalog_.render(config_.default_language, key, p, style);
  };
  const StaffMember* staff = &member;
  if (auto* err = std::get_if<CommandError>(&parsed)) {
    std::string msg = text("reply.error_prefix") + text(err->reason_key, {{"detail", err->detail}});
    msg += "\n" + text(err->usage_key);
    return {false, msg};
  }
  const Command& cmd = std::get<Command>(parsed);
  const std::string actor = staff->id;

  auto case_reply = [&](std::int64_t id, const char* key, Params extra = {}) {
    extra["case"] = std::to_string(id);
    return text(key, extra);
  };

  // Loads case + learner, applies `step`, commits with its effects. The
  // claim uses compare-and-set on the assignee so that of two staff claiming
  // at once exactly one wins, even across processes.
  auto with_case = [&](std::int64_t id, auto step, const char* ok_key, Params ok_params = {}) -> Reply {
    store::WriteTransaction tx(db_);
    auto c = cases_.get(id);
    if (!c) return {false, case_reply(id, "reply.not_found")};
    auto l = learners_.get(c->learner_key);
    if (!l) return {false, case_reply(id, "reply.not_found")};
    const std::string before = c->assignee;
    Outcome out = step(*c);
    switch (out.refusal) {
      case Refusal::none: break;
      case Refusal::case_closed:
        return {false, case_reply(id, "reply.case_closed", {{"state_label", text("state." + std::string(to_string(c->state)))}})};
      case Refusal::already_yours: return {true, case_reply(id, "reply.already_yours")};
      case Refusal::held_by_other: {
        const StaffMember* h = config_.find_staff(c->assignee);
        return {false, case_reply(id, "reply.held_by_other", {{"holder", h ? h->name : c->assignee}})};
      }
    }
    if (!cases_.update_if_assignee(*c, before)) {
      auto now_c = cases_.get(id);
      const StaffMember* h = now_c ? config_.find_staff(now_c->assignee) : nullptr;
      return {false, case_reply(id, "reply.held_by_other", {{"holder", h ? h->name : (now_c ? now_c->assignee : "?")}})};
    }
    commit_outcome(*c, *l, out, actor, now);
    tx.commit();
    return {true, case_reply(id, ok_key, ok_params)};
  };

  return std::visit(
      [&](const auto& k) -> Reply {
        using T = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<T, ClaimCmd>) {
          return with_case(k.case_id, [&](Case& c) { return claim(c, actor, now); }, "reply.claimed");
        } else if constexpr (std::is_same_v<T, LogCmd>) {
          return with_case(
              k.case_id, [&](Case& c) { return log_relaunch(c, actor, k.means, k.result, k.comment, now); }, "reply.logged",
              {{"means_label", text("means." + std::string(to_string(k.means)))},
               {"result_label", text("result." + std::string(to_string(k.result)))}});
        } else if constexpr (std::is_same_v<T, ResumedCmd>) {
          return with_case(k.case_id, [&](Case& c) { return mark_resumed(c, actor, k.comment, now); }, "reply.resumed");
        } else if constexpr (std::is_same_v<T, DropoutCmd>) {
          return with_case(k.case_id, [&](Case& c) { return mark_dropout(c, actor, k.reason, now); }, "reply.dropout");
        } else if constexpr (std::is_same_v<T, SignCmd>) {
          store::WriteTransaction tx(db_);
          auto c = cases_.get(k.case_id);
          if (!c) return {false, case_reply(k.case_id, "reply.not_found")};
          auto l = learners_.get(c->learner_key);
          if (!l) return {false, case_reply(k.case_id, "reply.not_found")};
          journal_.append({0, now, actor, "activity.logged", l->key, c->id,
                           std::string(to_string(k.source)) + (k.comment.empty() ? "" : ": " + k.comment)});
          record_activity(l->key, k.source, now, now, actor);
          tx.commit();
          return {true, text("reply.sign", {{"learner", l->display_name()},
                                            {"source_label", text("source." + std::string(to_string(k.source)))}})};
        } else if constexpr (std::is_same_v<T, ListCmd>) {
          std::string out;
          if (k.scope == ListScope::overdue) {
            out = text("reply.list_overdue");
            auto tasks = tasks_.overdue(now);
            for (const auto& t : tasks) {
              auto c = cases_.get(t.case_id);
              auto l = c ? learners_.get(c->learner_key) : std::nullopt;
              auto role = config_.role_labels.find(t.role);
              const std::string step_name = c && t.step >= 0 && std::size_t(t.step) < c->plan.steps.size()
                                                ? c->plan.steps[std::size_t(t.step)].name
                                                : std::string();
              out += "\n" + text("reply.list_overdue_item",
                                 {{"case", std::to_string(t.case_id)},
                                  {"learner", l ? l->display_name() : "?"},
                                  {"step", step_name},
                                  {"role_label", role != config_.role_labels.end() ? role->second : t.role},
                                  {"means_label", text("means." + std::string(to_string(t.means)))},
                                  {"due_local", format_local(t.due, zone_)}});
            }
            if (tasks.empty()) out += "\n" + text("reply.list_empty");
            return {true, out, true};
          }
          out = text(k.scope == ListScope::mine ? "reply.list_mine" : "reply.list_all");
          // A chat message holds a page, not a register (Mattermost stops at
          // 16,383 characters): the first cases, then how many more.
          constexpr int page = 30;
          const std::string who = k.scope == ListScope::mine ? actor : std::string();
          int n = 0;
          for (const auto& c : cases_.active_page(who, page)) {
            auto l = learners_.get(c.learner_key);
            Params p{{"case", std::to_string(c.id)},
                     {"learner", l ? l->display_name() : "?"},
                     {"state_label", text("state." + std::string(to_string(c.state)))}};
            p["assignee_part"] = c.assignee.empty() ? "" : text("reply.assignee_part", {{"assignee", c.assignee}});
            if (!c.next_due) p["next"] = text("reply.next_none");
            else if (std::size_t(c.next_step) < c.plan.steps.size())
              p["next"] = text("reply.next_step", {{"due_local", format_local(*c.next_due, zone_)}});
            else p["next"] = text("reply.next_dropout", {{"due_local", format_local(*c.next_due, zone_)}});
            out += "\n" + text("reply.list_item", p);
            ++n;
          }
          if (n == 0) out += "\n" + text("reply.list_empty");
          else if (n == page)
            if (const auto total = cases_.count_active(who); total > page)
              out += "\n" + text("reply.list_more", {{"count", std::to_string(total - page)}});
          return {true, out, true};
        } else if constexpr (std::is_same_v<T, ShowCmd>) {
          auto c = cases_.get(k.case_id);
          if (!c) return {false, case_reply(k.case_id, "reply.not_found")};
          auto l = learners_.get(c->learner_key);
          if (!l) return {false, case_reply(k.case_id, "reply.not_found")};
          Params p = case_params(*c, *l);
          p["state_label"] = text("state." + std::string(to_string(c->state)));
          p["assignee_part"] = c->assignee.empty() ? "" : text("reply.assignee_part", {{"assignee", c->assignee}});
          auto last = l->activity.last_over(SourceSet::all());
          p["last_activity"] = last ? format_local(*last, zone_) : text("reply.never");
          std::string out = text("reply.show_header", p) + "\n" + text("reply.show_contact", p);
          if (!l->phone_rejected.empty())  // what an import could not read as a number
            out += "\n" + text(l->phone.empty() ? "reply.show_phone_rejected" : "reply.show_phone_rejected_kept",
                               {{"phone_rejected", l->phone_rejected},
                                {"reason", normalize_phone(l->phone_rejected).reason}});
          auto rs = relaunches_.for_case(c->id);
          for (const auto& r : rs)
            out += "\n" + text("reply.show_relaunch",
                               {{"at_local", format_local(r.at, zone_)},
                                {"means_label", text("means." + std::string(to_string(r.means)))},
                                {"result_label", text("result." + std::string(to_string(r.result)))},
                                {"actor", r.actor},
                                {"comment", r.comment.empty() ? "" : "— " + r.comment}});
          if (rs.empty()) out += "\n" + text("reply.show_no_relaunch");
          if (is_active(c->state)) {
            std::string next = !c->next_due ? text("reply.next_none")
                               : std::size_t(c->next_step) < c->plan.steps.size()
                                   ? text("reply.next_step", {{"due_local", format_local(*c->next_due, zone_)}})
                                   : text("reply.next_dropout", {{"due_local", format_local(*c->next_due, zone_)}});
            out += "\n" + text("reply.show_next", {{"next", next}});
          }
          return {true, out, true};
        } else if constexpr (std::is_same_v<T, StatsCmd>) {
          return {true, render_stats(*this, k.month, now)};
        } else if constexpr (std::is_same_v<T, ExportCmd>) {
          const auto dir = std::filesystem::absolute(config_.database).parent_path() / "exports";
          std::filesystem::create_directories(dir);
          std::string name = "tableau-de-suivi";
          if (k.month) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "-%04d-%02u", int(k.month->year()), unsigned(k.month->month()));
            name += buf;
          }
          const auto path = dir / (name + (k.format == ExportFormat::xlsx ? ".xlsx" : ".csv"));
          RegisterOptions opts;
          opts.format = k.format == ExportFormat::xlsx ? RegisterFormat::xlsx : RegisterFormat::csv;
          opts.month = k.month;
          const int rows = export_register(*this, path, opts, now);
          journal_.append({0, now, actor, "register.exported", std::nullopt, std::nullopt, path.string()});
          return {true, text("reply.export_done", {{"path", path.string()}, {"rows", std::to_string(rows)}})};
        } else {
          return {true, text("help.text")};
        }
      },
      cmd);
}

}  // namespace relance::app
