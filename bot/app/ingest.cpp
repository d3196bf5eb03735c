// Ingest: learners and their activity, from every source (import, API,
// Moodle, staff's signs of life). Newer activity is a sign of life for the
// learner's open cases.
#include "bot/app/engine.hpp"

namespace relance::app {

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

}  // namespace relance::app
