// The Engine's clock: escalation of unclaimed alerts and the daily digest,
// both on the durable `timer` table. The domain decides (start_escalation,
// escalate); this executes: the post, the journal line, the next timer.
#include "bot/app/engine.hpp"
#include "bot/app/engine_detail.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>

namespace relance::app {

using detail::begin_unless;
using nlohmann::json;

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
    const Applied a = apply(TimerFired{t}, now);
    if (a.escalated) rep.escalated.push_back(*a.escalated);
    rep.digests += a.digests;
    if (tx) tx->commit();
  }
}

// An alert nobody claimed within its business-time deadline goes to the next
// role of the chain (escalate() decides), in that role's room, with a
// mention; its clock restarts there unless that role is the chain's last.
void Engine::on_escalation_due(const store::Timer& t, Timestamp now, Applied& out) {
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
  out.escalated = ScanReport::Escalated{c->id, l->id, e->from_role, e->to_role};
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
void Engine::on_digest_due(Timestamp now, Applied& out) {
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
    ++out.digests;
  }
  store::kv_set(db_, "digest.last_day", day_text);
  keep_digest_timer(now);
}

}  // namespace relance::app
