#include "bot/domain/case.hpp"

#include "bot/domain/command.hpp"  // fold()

namespace relance {

namespace {

constexpr std::string_view state_names[] = {"open", "claimed", "in_progress", "resumed", "dropped_out", "closed"};
constexpr std::string_view result_names[] = {"no_answer", "reached", "message_left", "resumed", "dropped_out", "other",
                                             "sent",      "queued",  "delivered",    "failed",  "not_sent"};

Params step_params(const Step& s, int index) {
  return {{"step", s.name.empty() ? std::to_string(index + 1) : s.name},
          {"step_number", std::to_string(index + 1)},
          {"means", std::string(to_string(s.means))},
          {"role", s.role}};
}

// A learner who opted out of SMS is not reachable by SMS: the step becomes a
// task for a person (a phone call), not a message that would be refused.
bool reachable(const Learner& l, Means m, const ChannelSet& channels) {
  if (!channels.has(m)) return false;
  switch (m) {
    case Means::sms: return !l.phone.empty() && !l.sms_opt_out;
    case Means::email: return !l.email.empty();
    case Means::matrix: return !l.matrix_id.empty();
    default: return false;
  }
}

void close_as(Case& c, CaseState s, Timestamp at) {
  c.state = s;
  c.closed_at = at;
  c.next_due.reset();
}

void run_step(Case& c, const CaseContext& ctx, Outcome& out) {
  const int index = c.next_step;
  const Step& s = c.plan.steps[std::size_t(index)];
  Params p = step_params(s, index);
  // When the step happens for the learner: a message held by quiet hours
  // happens when it may go out, and the next step's delay counts from there
  // (a case opened on Saturday night must not get its "one day later" SMS on
  // Monday morning, seconds after the first).
  Timestamp step_at = ctx.now;
  if (s.action == StepAction::message_learner && reachable(ctx.learner, s.means, ctx.channels)) {
    const Timestamp send_at = ctx.window.next_allowed(ctx.now, ctx.zone);
    step_at = send_at;
    out.effects.push_back(LearnerMessage{s.means, s.template_key, {}, send_at, index});
    // Queued now; the dispatcher records when it leaves (sent), and the
    // provider's report (delivered, failed) after that.
    Relaunch r;
    r.at = ctx.now;
    r.actor = "relance";
    r.means = s.means;
    r.result = Result::queued;
    r.step = index;
    r.automatic = true;
    out.relaunch = r;
    c.relaunches += 1;
    p["send_at"] = std::to_string(to_unix(send_at));
    out.effects.push_back(StaffNotice{s.role, "alert.step_sent", p, s.priority});
    out.effects.push_back(JournalNote{"step.queued", "step " + std::to_string(index + 1) + " " + std::string(to_string(s.means))});
  } else {
    // A person must act: a call, or a message the bot cannot send (no phone
    // or email on file, or the channel is not configured), which becomes a
    // task instead of silence.
    const bool fallback = s.action == StepAction::message_learner;
    const bool no_channel = fallback && !ctx.channels.has(s.means);
    const Timestamp due = ctx.now + ctx.task_due;
    out.effects.push_back(StaffTask{s.role, index, s.means, s.template_key, due});
    p["due"] = std::to_string(to_unix(due));
    out.effects.push_back(StaffNotice{s.role,
                                      no_channel ? "alert.step_no_channel"
                                      : fallback ? "alert.step_unreachable"
                                                 : "alert.task",
                                      p, s.priority});
    out.effects.push_back(JournalNote{"step.task", "step " + std::to_string(index + 1) + " " + std::string(to_string(s.means)) +
                                                     (no_channel ? " (channel not configured: task)"
                                                      : fallback ? " (no contact details: task)"
                                                                 : "")});
  }
  c.last_step_at = step_at;
  c.next_step += 1;
}

}  // namespace

std::string_view to_string(CaseState s) { return state_names[std::size_t(s)]; }

std::optional<CaseState> parse_case_state(std::string_view s) {
  for (std::size_t i = 0; i < std::size(state_names); ++i)
    if (s == state_names[i]) return CaseState(i);
  return std::nullopt;
}

std::string_view to_string(Result r) { return result_names[std::size_t(r)]; }

bool reached_learner(const Relaunch& r) {
  return !r.automatic || r.result == Result::sent || r.result == Result::delivered;
}

std::optional<Result> parse_result(std::string_view raw) {
  const std::string s = fold(raw);
  for (std::size_t i = 0; i < std::size(result_names); ++i)
    if (s == result_names[i]) return Result(i);
  struct Alias { std::string_view name; Result result; };
  static constexpr Alias aliases[] = {
      {"injoignable", Result::no_answer}, {"sans_reponse", Result::no_answer}, {"pas_de_reponse", Result::no_answer},
      {"nrp", Result::no_answer}, {"noanswer", Result::no_answer},
      {"joint", Result::reached}, {"jointe", Result::reached}, {"reponse", Result::reached}, {"ok", Result::reached},
      {"message", Result::message_left}, {"messagerie", Result::message_left}, {"repondeur", Result::message_left},
      {"repris", Result::resumed}, {"reprise", Result::resumed}, {"reprend", Result::resumed},
      {"abandon", Result::dropped_out}, {"dropout", Result::dropped_out},
      {"autre", Result::other},
  };
  for (const auto& a : aliases)
    if (s == a.name) return a.result;
  return std::nullopt;
}

Case open_case(const Learner& l, const Policy& p, const Detection& d, Timestamp now) {
  Case c;
  c.learner_key = l.key;
  c.policy_id = p.id;
  c.plan = p.plan;
  c.state = CaseState::open;
  c.opened_at = now;
  c.activity_ref = d.ref.since;
  return c;
}

Outcome start_case(Case& c, const Policy& p, const CaseContext& ctx) {
  Outcome out;
  Params params{{"policy", p.label.empty() ? p.id : p.label},
                {"since", std::to_string(to_unix(c.activity_ref))},
                {"days", std::to_string((ctx.now - c.activity_ref) / std::chrono::days(1))}};
  const bool priority = !c.plan.steps.empty() && c.plan.steps.front().priority;
  const std::string role = c.plan.steps.empty() ? std::string() : c.plan.steps.front().role;
  out.effects.push_back(StaffNotice{role, "alert.opened", params, priority});
  out.effects.push_back(JournalNote{"case.opened", "policy " + p.id});
  Outcome steps = advance(c, ctx);
  for (auto& e : steps.effects) out.effects.push_back(std::move(e));
  out.relaunch = std::move(steps.relaunch);
  out.learner_status = steps.learner_status;
  return out;
}

Timestamp step_due(const Case& c, std::size_t i, const ZoneRules& zone) {
  const Step& s = c.plan.steps[i];
  Timestamp due = c.opened_at;
  if (i > 0 && c.last_step_at) due = add_local_days(*c.last_step_at, s.after_previous, zone);
  else if (i > 0) due = add_local_days(c.opened_at, s.after_previous, zone);
  else if (s.after_previous.count() > 0) due = add_local_days(c.opened_at, s.after_previous, zone);
  if (s.at_inactive_days) {
    const Timestamp floor = add_local_days(c.activity_ref, *s.at_inactive_days, zone);
    if (floor > due) due = floor;
  }
  return due;
}

namespace {

// The next instant something happens to this case, if anything will.
std::optional<Timestamp> compute_next_due(const Case& c, const ZoneRules& zone) {
  // Once the learner has been reached, a person is in the conversation: the
  // bot sends no more automatic relaunches and declares no dropout; staff
  // conclude (repris / abandon).
  if (!is_active(c.state) || c.answered) return std::nullopt;
  if (std::size_t(c.next_step) < c.plan.steps.size()) return step_due(c, std::size_t(c.next_step), zone);
  if (c.plan.on_exhausted == OnExhausted::keep_open) return std::nullopt;
  return add_local_days(c.last_step_at.value_or(c.opened_at), c.plan.dropout_after, zone);
}

}  // namespace

Outcome advance(Case& c, const CaseContext& ctx) {
  // At most one thing per call, so that each step is committed on its own;
  // the caller calls again while next_due <= now (a case detected late runs
  // its overdue steps one after the other).
  Outcome out;
  const auto due = compute_next_due(c, ctx.zone);
  if (due && *due <= ctx.now) {
    if (std::size_t(c.next_step) < c.plan.steps.size()) {
      run_step(c, ctx, out);
    } else {
      // Procedure 001: no answer after the whole ladder: declared a dropout,
      // the file closed with a mention in the register.
      close_as(c, CaseState::dropped_out, ctx.now);
      c.outcome_note = "dropout_declared";
      out.learner_status = LearnerStatus::dropped_out;
      out.effects.push_back(StaffNotice{"", "alert.dropout_declared", {{"relaunches", std::to_string(c.relaunches)}}, false});
      out.effects.push_back(JournalNote{"case.dropout_declared", std::to_string(c.relaunches) + " relaunches without answer"});
    }
  }
  c.next_due = compute_next_due(c, ctx.zone);
  return out;
}

Outcome claim(Case& c, std::string_view actor, Timestamp) {
  Outcome out;
  if (!is_active(c.state)) out.refusal = Refusal::case_closed;
  else if (c.assignee == actor) out.refusal = Refusal::already_yours;
  else if (!c.assignee.empty()) out.refusal = Refusal::held_by_other;
  if (!out.ok()) return out;
  c.assignee = std::string(actor);
  if (c.state == CaseState::open) c.state = CaseState::claimed;
  out.effects.push_back(StaffNotice{"", "alert.claimed", {{"by", c.assignee}}, false});
  out.effects.push_back(JournalNote{"case.claimed", ""});
  return out;
}

Outcome mark_resumed(Case& c, std::string_view actor, std::string_view comment, Timestamp now) {
  Outcome out;
  if (!is_active(c.state)) {
    out.refusal = Refusal::case_closed;
    return out;
  }
  if (c.assignee.empty()) c.assignee = std::string(actor);
  close_as(c, CaseState::resumed, now);
  c.outcome_note = std::string(comment);
  out.learner_status = LearnerStatus::active;
  out.effects.push_back(StaffNotice{"", "alert.resumed", {{"by", std::string(actor)}, {"comment", std::string(comment)}}, false});
  out.effects.push_back(JournalNote{"case.resumed", ""});
  return out;
}

Outcome mark_dropout(Case& c, std::string_view actor, std::string_view reason, Timestamp now) {
  Outcome out;
  if (!is_active(c.state)) {
    out.refusal = Refusal::case_closed;
    return out;
  }
  if (c.assignee.empty()) c.assignee = std::string(actor);
  close_as(c, CaseState::dropped_out, now);
  c.outcome_note = std::string(reason);
  out.learner_status = LearnerStatus::dropped_out;
  out.effects.push_back(StaffNotice{"", "alert.dropout", {{"by", std::string(actor)}, {"comment", std::string(reason)}}, false});
  out.effects.push_back(JournalNote{"case.dropped_out", ""});
  return out;
}

Outcome log_relaunch(Case& c, std::string_view actor, Means means, Result result, std::string_view comment, Timestamp now) {
  Outcome out;
  if (!is_active(c.state)) {
    out.refusal = Refusal::case_closed;
    return out;
  }
  if (c.assignee.empty()) c.assignee = std::string(actor);
  Relaunch r;
  r.at = now;
  r.actor = std::string(actor);
  r.means = means;
  r.result = result;
  r.comment = std::string(comment);
  r.step = c.next_step - 1;
  out.relaunch = r;
  c.relaunches += 1;
  c.state = CaseState::in_progress;
  if (result == Result::reached || result == Result::resumed) c.answered = true;
  // An answer stops the automatic ladder and its dropout deadline
  // (compute_next_due): no stale next_due for `dossier` to show.
  if (c.answered) c.next_due.reset();
  out.effects.push_back(StaffNotice{"", "alert.relaunch_logged",
                                    {{"by", r.actor}, {"means", std::string(to_string(means))},
                                     {"result", std::string(to_string(result))}, {"comment", r.comment}},
                                    false});
  out.effects.push_back(JournalNote{"relaunch.logged", std::string(to_string(means)) + " " + std::string(to_string(result))});
  if (result == Result::resumed || result == Result::dropped_out) {
    Outcome end = result == Result::resumed ? mark_resumed(c, actor, comment, now) : mark_dropout(c, actor, comment, now);
    for (auto& e : end.effects) out.effects.push_back(std::move(e));
    out.learner_status = end.learner_status;
  }
  return out;
}

Outcome sign_of_life(Case& c, Source source, Timestamp at, Timestamp now) {
  Outcome out;
  if (!is_active(c.state) || at <= c.activity_ref) return out;
  close_as(c, CaseState::resumed, at < now ? at : now);
  c.outcome_note = "activity:" + std::string(to_string(source));
  out.learner_status = LearnerStatus::active;
  out.effects.push_back(StaffNotice{"", "alert.resumed_by_activity",
                                    {{"source", std::string(to_string(source))}, {"at", std::to_string(to_unix(at))}},
                                    false});
  out.effects.push_back(JournalNote{"case.resumed_by_activity", std::string(to_string(source))});
  return out;
}

Outcome learner_answered(Case& c, std::string_view channel, Timestamp) {
  Outcome out;
  if (!is_active(c.state) || c.answered) return out;
  c.answered = true;
  c.next_due.reset();
  if (c.state == CaseState::open || c.state == CaseState::claimed) c.state = CaseState::in_progress;
  out.effects.push_back(StaffNotice{"", "alert.answered", {{"channel", std::string(channel)}}, false});
  out.effects.push_back(JournalNote{"case.answered", std::string(channel) + " reply: automatic relaunches stopped"});
  return out;
}

}  // namespace relance
