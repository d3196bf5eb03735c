#include "bot/domain/learner.hpp"

#include "bot/domain/command.hpp"  // fold()

#include <algorithm>

namespace relance {

std::string_view to_string(Source s) { return source_names[std::size_t(s)]; }

std::optional<Source> parse_source(std::string_view raw) {
  const std::string s = fold(raw);
  for (std::size_t i = 0; i < source_count; ++i)
    if (s == source_names[i]) return Source(i);
  struct Alias { std::string_view name; Source source; };
  static constexpr Alias aliases[] = {
      {"plateforme", Source::lms}, {"platform", Source::lms}, {"connexion", Source::lms}, {"login", Source::lms},
      {"lecon", Source::lesson}, {"cours", Source::lesson},
      {"reservation", Source::booking},
      {"visite", Source::visit},
      {"appel", Source::call}, {"telephone", Source::call}, {"tel", Source::call}, {"phone", Source::call},
      {"sms", Source::message}, {"reponse", Source::message}, {"reply", Source::message},
      {"courriel", Source::email}, {"mail", Source::email},
      {"personnel", Source::staff}, {"equipe", Source::staff}, {"autre", Source::staff}, {"other", Source::staff},
  };
  for (const auto& a : aliases)
    if (s == a.name) return a.source;
  return std::nullopt;
}

std::optional<Timestamp> ActivitySummary::last_over(SourceSet set) const {
  std::int64_t best = 0;
  for (std::size_t i = 0; i < source_count; ++i)
    if (set.has(Source(i))) best = std::max(best, last[i]);
  if (best == 0) return std::nullopt;
  return from_unix(best);
}

bool ActivitySummary::observe(Source s, Timestamp at) {
  auto& slot = last[std::size_t(s)];
  const auto v = to_unix(at);
  if (v <= slot) return false;
  slot = v;
  return true;
}

std::string_view to_string(LearnerStatus s) {
  switch (s) {
    case LearnerStatus::active: return "active";
    case LearnerStatus::dropped_out: return "dropped_out";
    case LearnerStatus::archived: return "archived";
  }
  return "active";
}

std::optional<LearnerStatus> parse_learner_status(std::string_view s) {
  if (s == "active") return LearnerStatus::active;
  if (s == "dropped_out") return LearnerStatus::dropped_out;
  if (s == "archived") return LearnerStatus::archived;
  return std::nullopt;
}

std::string Learner::display_name() const {
  std::string n = first_name;
  if (!last_name.empty()) {
    if (!n.empty()) n += ' ';
    n += last_name;
  }
  return n.empty() ? id : n;
}

}  // namespace relance
