#include "bot/domain/policy.hpp"

#include "bot/domain/command.hpp"  // fold()

#include <algorithm>

namespace relance {

std::string_view to_string(Means m) {
  switch (m) {
    case Means::sms: return "sms";
    case Means::email: return "email";
    case Means::phone: return "phone";
    case Means::matrix: return "matrix";
    case Means::letter: return "letter";
    case Means::visit: return "visit";
    case Means::voicemail: return "voicemail";
    case Means::prescriber_email: return "prescriber_email";
    case Means::other: return "other";
  }
  return "other";
}

std::optional<Means> parse_means(std::string_view raw) {
  const std::string s = fold(raw);
  struct Alias { std::string_view name; Means means; };
  static constexpr Alias aliases[] = {
      {"sms", Means::sms}, {"texto", Means::sms},
      {"email", Means::email}, {"mail", Means::email}, {"courriel", Means::email}, {"e-mail", Means::email},
      {"phone", Means::phone}, {"tel", Means::phone}, {"telephone", Means::phone}, {"appel", Means::phone},
      {"call", Means::phone},
      {"matrix", Means::matrix},
      {"letter", Means::letter}, {"courrier", Means::letter}, {"lettre", Means::letter},
      {"visit", Means::visit}, {"visite", Means::visit}, {"entretien", Means::visit},
      {"voicemail", Means::voicemail}, {"vocal", Means::voicemail}, {"repondeur", Means::voicemail},
      {"prescriber_email", Means::prescriber_email}, {"prescripteur", Means::prescriber_email},
      {"other", Means::other}, {"autre", Means::other},
  };
  for (const auto& a : aliases)
    if (s == a.name) return a.means;
  return std::nullopt;
}

bool is_learner_channel(Means m) { return m == Means::sms || m == Means::email || m == Means::matrix; }

std::string_view to_string(StepAction a) { return a == StepAction::message_learner ? "message" : "task"; }

std::string_view to_string(Condition c) {
  return c == Condition::inactive_for ? "inactive_for" : "never_accessed";
}

bool Policy::applies_to(const Learner& l) const {
  if (cohorts.empty()) return true;
  return std::find(cohorts.begin(), cohorts.end(), l.cohort) != cohorts.end();
}

}  // namespace relance
