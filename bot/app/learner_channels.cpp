// The engine's side of the learner channels: what a learner writes back
// (replies, STOP/START), what the gateways report (delivered, failed), and
// learner messages rendered in the learner's language. Each entry point runs
// inside the caller's write transaction, so the stored message, the consent
// change, the sign of life and the staff posts they cause commit together.
#include "bot/app/engine.hpp"
#include "bot/domain/inbound.hpp"

#include "messages/text/markup.hpp"

#include "bot/domain/opt_out.hpp"
#include "bot/domain/sms_text.hpp"

#include <spdlog/spdlog.h>

namespace relance::app {

std::string_view to_string(Received r) {
  switch (r) {
    case Received::duplicate: return "duplicate";
    case Received::reply: return "reply";
    case Received::opt_out: return "opt_out";
    case Received::opt_in: return "opt_in";
    case Received::unknown_sender: return "unknown_sender";
    case Received::auto_reply: return "auto_reply";
    case Received::not_ours: return "not_ours";
  }
  return "reply";
}

namespace {

// Learner text quoted to staff is cut, not the stored message: a chat post
// stays readable and under the servers' size limits.
std::string excerpt(std::string_view text, std::size_t max_bytes = 1500) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return std::string(text.substr(0, cut)) + "…";
}

}  // namespace

LearnerText Engine::render_learner(std::string_view template_key, const Params& p, std::string_view lang) const {
  return render::learner_text(catalog_, lang, template_key, p);
}

LearnerText Engine::render_learner(const store::OutboxItem& item) const {
  const Params p = params_from_json(item.params_json);
  std::string lang = config_.default_language;
  if (item.learner_key)
    if (auto l = const_cast<store::LearnerRepo&>(learners_).get(*item.learner_key); l && !l->language.empty()) lang = l->language;
  return render_learner(item.template_key, p, lang);
}

Received Engine::receive_message(const IncomingMessage& m, Timestamp now) {
  std::optional<Learner> learner;
  if (m.answers) {
    // The learner our message went to, whatever address they answer from.
    if (auto o = outbox_.get(*m.answers); o && o->learner_key) learner = learners_.get(*o->learner_key);
  }
  if (!learner) {
    std::vector<Learner> found = m.channel == "matrix"  ? learners_.by_matrix_id(m.sender)
                                 : m.channel == "email" ? learners_.by_email(m.sender)
                                                        : learners_.by_phone(m.sender);
    if (!found.empty()) learner = std::move(found.front());
  }
  std::optional<Case> c;
  if (learner) {
    auto active = cases_.active_for_learner(learner->key);
    if (!active.empty()) c = active.back();
    else c = cases_.latest_for_learner(learner->key);
  }

  // Where it goes is decided in the core, the same for every channel.
  const InboundRoute route = route_inbound(InboundFacts{m.channel, m.text, learner.has_value(), m.automatic, false});
  if (route == InboundRoute::not_ours) return Received::not_ours;

  const Consent consent = m.channel == "sms" ? consent_keyword(m.text) : Consent::none;
  store::InboundMessage row;
  row.received_at = now;
  row.channel = m.channel;
  row.provider = m.provider;
  row.provider_id = m.provider_id;
  row.sender = m.sender;
  if (learner) row.learner_key = learner->key;
  if (c) row.case_id = c->id;
  row.body = m.text;
  row.sent_at = m.sent_at;
  row.kind = consent == Consent::opt_out ? "opt_out"
             : consent == Consent::opt_in ? "opt_in"
             : m.automatic                ? "auto_reply"
                                          : "reply";
  if (!inbound_.insert(row)) return Received::duplicate;

  Params p;
  if (learner && c) p = case_params(*c, *learner);
  else if (learner) p = {{"learner", learner->display_name()}, {"learner_id", learner->id}, {"cohort", learner->cohort.empty() ? "—" : learner->cohort}};
  p["text"] = excerpt(m.text);
  p["sender"] = m.sender;
  p["channel_label"] = text("means." + m.channel);
  const std::string policy = c ? c->policy_id : std::string();
  const std::string role = c && !c->plan.steps.empty() ? c->plan.steps.front().role : std::string();
  const std::optional<std::int64_t> case_id = c ? std::optional<std::int64_t>(c->id) : std::nullopt;
  const std::optional<std::int64_t> learner_key = learner ? std::optional<std::int64_t>(learner->key) : std::nullopt;
  const std::string dedupe = "inbound:" + std::to_string(row.id);

  switch (route) {
    case InboundRoute::not_ours: return Received::not_ours;  // returned above, before storing
    case InboundRoute::unknown_sender:
      journal_.append({0, now, m.provider, "inbound.unknown_sender", std::nullopt, std::nullopt, m.channel});
      enqueue_staff(std::nullopt, std::nullopt, "", "", "alert.learner_unknown", std::move(p), dedupe, now);
      return Received::unknown_sender;
    case InboundRoute::opt_out:
    case InboundRoute::opt_in: {
      const bool out = route == InboundRoute::opt_out;
      // STOP twice is logged (the learner's words are evidence) but told once.
      const bool change = out != learner->sms_opt_out.has_value();
      record_sms_consent(learner->key, out, "reply", m.text, now);
      if (change)
        enqueue_staff(case_id, learner_key, policy, role,
                      std::string(out ? "alert.sms_opted_out" : "alert.sms_opted_in") + (c ? "" : "_nocase"), std::move(p),
                      dedupe, now);
      return out ? Received::opt_out : Received::opt_in;
    }
    case InboundRoute::auto_reply:
      // An out-of-office says when the learner will be back: staff want it,
      // but it proves nothing about the learner, so the case goes on.
      journal_.append({0, now, m.provider, "learner.auto_reply", learner->key, case_id, m.channel + " " + m.provider_id});
      enqueue_staff(case_id, learner_key, policy, role, c ? "alert.learner_auto_reply" : "alert.learner_auto_reply_nocase",
                    std::move(p), dedupe, now);
      return Received::auto_reply;
    case InboundRoute::form_answer:  // no conversational form exists yet (issue 12): never routed here
    case InboundRoute::case_reply: break;
  }
  journal_.append({0, now, "learner", "learner.replied", learner->key, case_id, m.channel + " " + m.provider_id});
  // The reply goes in the case's thread first; then the sign of life, which
  // may close the case as resumed (and says so after the reply).
  enqueue_staff(case_id, learner_key, policy, role, c ? "alert.learner_reply" : "alert.learner_reply_nocase", std::move(p),
                dedupe, now);
  // When it counts from: an email's Date: header is the sender's claim (a
  // wrong clock, or forged): it is stored, but the reply counts from when
  // relance read it from the mailbox (within poll_seconds of its arrival).
  // A gateway's timestamp comes from the operator: taken, never in the future.
  const Timestamp at = m.channel == "email" ? now : std::min(m.sent_at.value_or(now), now);
  record_activity(learner->key, Source::message, at, now, "learner");
  // Whatever the policy counts as activity, an answer means a person is in
  // the conversation: the cases still open stop relaunching automatically.
  // A relaunch still waiting in the outbox (quiet hours) would now read as
  // if nobody had noticed the answer: it is withdrawn, and says why.
  for (Case open : cases_.active_for_learner(learner->key)) {
    Outcome out = learner_answered(open, m.channel, now);
    if (out.effects.empty()) continue;
    commit_outcome(open, *learner, out, "learner", now);
    for (const auto& o : outbox_.for_case(open.id)) {
      if (o.status != "pending" || o.channel.rfind("staff", 0) == 0) continue;
      const std::string why = text("reason.answered_first");
      if (!outbox_.cancel_unstarted(o.id, why)) continue;
      relaunches_.settle(o.id, Result::not_sent, now, why);
      journal_.append({0, now, "relance", "message.cancelled", learner->key, open.id, o.channel + ": " + why});
    }
  }
  return Received::reply;
}

void Engine::record_sms_consent(std::int64_t learner_key, bool opt_out, std::string_view via, std::string_view message,
                                Timestamp now) {
  store::ConsentEntry e;
  e.at = now;
  e.learner_key = learner_key;
  e.channel = "sms";
  e.action = opt_out ? "opt_out" : "opt_in";
  e.via = std::string(via);
  e.message = std::string(message);
  consent_.append(e);
  learners_.set_sms_opt_out(learner_key, opt_out ? std::optional<Timestamp>(now) : std::nullopt);
  journal_.append({0, now, via == "staff" ? "staff" : "learner", opt_out ? "learner.sms_opt_out" : "learner.sms_opt_in",
                   learner_key, std::nullopt, std::string(via)});
}

void Engine::record_delivery(std::optional<std::int64_t> outbox_id, std::string_view provider, std::string_view remote_id,
                             std::string_view state, std::string_view detail, Timestamp now) {
  const auto u = outbox_.record_delivery(outbox_id, provider, remote_id, state, detail, now);
  if (u.changed && u.delivery == "delivered") relaunches_.settle(u.outbox_id, Result::delivered, now);
  if (!u.changed || u.delivery != "failed") return;
  relaunches_.settle(u.outbox_id, Result::failed, now, detail);
  auto item = outbox_.get(u.outbox_id);
  if (!item) return;
  journal_.append({0, now, std::string(provider), "message.undelivered", u.learner_key, u.case_id,
                   u.channel + " " + std::string(detail)});
  std::optional<Case> c = u.case_id ? cases_.get(*u.case_id) : std::nullopt;
  std::optional<Learner> l = u.learner_key ? learners_.get(*u.learner_key) : std::nullopt;
  if (!c || !l) return;
  Params p = case_params(*c, *l);
  p["channel_label"] = text("means." + u.channel);
  p["detail"] = std::string(detail);
  const std::string role = c->plan.steps.empty() ? std::string() : c->plan.steps.front().role;
  enqueue_staff(c->id, l->key, c->policy_id, role, "alert.message_undelivered", std::move(p),
                "delivery:" + std::to_string(u.outbox_id) + ":failed", now);
}

void Engine::learner_message_sent(const store::OutboxItem& item, std::string_view provider, std::string_view remote_id,
                                  Timestamp at) {
  outbox_.mark_sent_via(item.id, at, provider, remote_id);
  if (relaunches_.settle(item.id, Result::sent, at))
    journal_.append({0, at, "relance", "message.sent", item.learner_key, item.case_id,
                     item.channel + " via " + std::string(provider)});
}

void Engine::learner_message_failed(const store::OutboxItem& item, std::string_view error, bool cancelled, Timestamp now) {
  if (cancelled) outbox_.cancel(item.id, error);
  else outbox_.mark_failed(item.id, error);
  // Cancelled before any attempt: it never left (not_sent). Cancelled after
  // attempts, or refused: it failed.
  relaunches_.settle(item.id, cancelled && item.attempts == 0 && item.started == 0 ? Result::not_sent : Result::failed, now,
                     error);
  journal_.append({0, now, "relance", cancelled ? "message.cancelled" : "message.failed", item.learner_key, item.case_id,
                   item.channel + ": " + std::string(error)});
  std::optional<Case> c = item.case_id ? cases_.get(*item.case_id) : std::nullopt;
  std::optional<Learner> l = item.learner_key ? learners_.get(*item.learner_key) : std::nullopt;
  if (!c || !l) return;
  Params p = case_params(*c, *l);
  p["channel_label"] = text("means." + item.channel);
  p["error"] = std::string(error);
  const std::string role = c->plan.steps.empty() ? std::string() : c->plan.steps.front().role;
  enqueue_staff(c->id, l->key, c->policy_id, role, "alert.message_failed", std::move(p),
                "outbox:" + std::to_string(item.id) + ":failed", now);
}

}  // namespace relance::app
