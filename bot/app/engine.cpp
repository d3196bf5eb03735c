// The Engine's core: construction, the case parameters every text uses, and
// the commit of a core step (case, relaunches, tasks, outbox, journal, timers
// in one transaction). The other rooms of the Engine: ingest.cpp (learners
// and activity), detection_pass.cpp (the pass), timers.cpp (escalation and
// the digest), staff_commands.cpp, learner_channels.cpp, render.cpp.
#include "bot/app/engine.hpp"

#include "bot/app/preview.hpp"
#include "bot/app/routing.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <type_traits>
#include <unordered_set>

namespace relance::app {

using nlohmann::json;

namespace {

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

Applied Engine::apply(const Input& input, Timestamp now, const messages::FillStyle& style) {
  Applied out;
  std::visit(
      [&](const auto& in) {
        using T = std::decay_t<decltype(in)>;
        if constexpr (std::is_same_v<T, StaffAction>) {
          out.reply = handle_parsed(*in.staff, in.command, now, style);
        } else if constexpr (std::is_same_v<T, IncomingMessage>) {
          out.received = receive_message(in, now);
        } else if constexpr (std::is_same_v<T, DeliveryNote>) {
          record_delivery(in.outbox_id, in.provider, in.remote_id, in.state, in.detail, now);
        } else if constexpr (std::is_same_v<T, ActivityObserved>) {
          out.activity_moved = record_activity(in.learner_key, in.source, in.at, now, in.actor);
        } else if constexpr (std::is_same_v<T, TimerFired>) {
          const auto& t = in.timer;
          if (t.kind == "escalation") on_escalation_due(t, now, out);
          else if (t.kind == "digest") on_digest_due(now, out);
          else spdlog::warn("timer: unknown kind '{}' (subject '{}'), dropped", t.kind, t.subject);
        }
      },
      input);
  return out;
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

}  // namespace relance::app
