#include "store/plan_json.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace relance::store {

using nlohmann::json;

std::string plan_to_json(const Plan& p) {
  json steps = json::array();
  for (const auto& s : p.steps) {
    json j{{"name", s.name},
           {"action", std::string(to_string(s.action))},
           {"means", std::string(to_string(s.means))},
           {"role", s.role},
           {"template", s.template_key},
           {"after_days", s.after_previous.count()},
           {"optional", s.optional},
           {"priority", s.priority}};
    if (s.at_inactive_days) j["at_inactive_days"] = s.at_inactive_days->count();
    steps.push_back(std::move(j));
  }
  json j{{"v", 1},
         {"id", p.id},
         {"on_exhausted", p.on_exhausted == OnExhausted::declare_dropout ? "dropout" : "keep_open"},
         {"dropout_after_days", p.dropout_after.count()},
         {"steps", std::move(steps)}};
  return j.dump();
}

Plan plan_from_json(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::runtime_error("stored plan is not valid JSON");
  try {
    Plan p;
    p.id = j.at("id").get<std::string>();
    p.on_exhausted = j.at("on_exhausted").get<std::string>() == "dropout" ? OnExhausted::declare_dropout : OnExhausted::keep_open;
    p.dropout_after = std::chrono::days(j.at("dropout_after_days").get<int>());
    for (const auto& s : j.at("steps")) {
      Step st;
      st.name = s.at("name").get<std::string>();
      st.action = s.at("action").get<std::string>() == "message" ? StepAction::message_learner : StepAction::staff_task;
      st.means = parse_means(s.at("means").get<std::string>()).value_or(Means::other);
      st.role = s.at("role").get<std::string>();
      st.template_key = s.at("template").get<std::string>();
      st.after_previous = std::chrono::days(s.at("after_days").get<int>());
      if (s.contains("at_inactive_days")) st.at_inactive_days = std::chrono::days(s["at_inactive_days"].get<int>());
      st.optional = s.value("optional", false);
      st.priority = s.value("priority", false);
      p.steps.push_back(std::move(st));
    }
    return p;
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("stored plan is malformed: ") + e.what());
  }
}

}  // namespace relance::store
