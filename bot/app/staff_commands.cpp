// Staff commands: one typed command (parsed from a line, or from a button
// or a reaction), from a member already recognised as staff, run against the
// store in one transaction, answered in the style of where it goes.
#include "bot/app/engine.hpp"

#include "bot/app/export.hpp"
#include "bot/app/phone.hpp"

#include <algorithm>
#include <filesystem>

namespace relance::app {

Reply Engine::handle_command(std::string_view staff_id, std::string_view line, Timestamp now,
                             const messages::FillStyle& style) {
  const StaffMember* staff = config_.find_staff(staff_id);
  if (!staff)
    return {false, catalog_.render(config_.default_language, "reply.not_staff", {{"user", std::string(staff_id)}}, style)};
  return apply(StaffAction{staff, parse_command(line)}, now, style).reply;
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
