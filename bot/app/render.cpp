// Staff texts from outbox rows: the row's parameters completed with what the
// configuration knows (labels, names, local dates), rendered by the catalog
// in the style of where they go. Learner texts: learner_channels.cpp and
// messages/render/.
#include "bot/app/engine.hpp"

namespace relance::app {

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

}  // namespace relance::app
