// The sample cohort of `relance demo`: fictional people whose activity is
// set relative to now, so that every seed procedure has someone to alert.
#include "bot/app/runtime.hpp"

#include "bot/app/phone.hpp"

namespace relance::app {

namespace {

struct SampleLearner {
  const char* id;
  const char* first_name;
  const char* last_name;
  const char* email;
  const char* phone;
  const char* cohort;
  int started_days_ago;
  Source source;
  int inactive_days;  // -1: never active
};

// Every name here is invented.
constexpr SampleLearner sample[] = {
    {"DEMO-001", "Camille", "Martin", "camille.martin@exemple.fr", "06 12 34 56 78", "permis-b", 200, Source::lesson, 97},
    {"DEMO-002", "Lucas", "Petit", "lucas.petit@exemple.fr", "06 23 45 67 89", "permis-b", 150, Source::booking, 120},
    {"DEMO-003", "Inès", "Durand", "ines.durand@exemple.fr", "+33 6 34 56 78 90", "permis-b", 60, Source::lesson, 4},
    {"DEMO-004", "Hugo", "Lefèvre", "hugo.lefevre@exemple.fr", "", "permis-b", 180, Source::visit, 93},
    {"DEMO-005", "Léa", "Moreau", "lea.moreau@exemple.fr", "07 45 67 89 01", "bureautique-en-ligne", 40, Source::lms, 12},
    {"DEMO-006", "Nathan", "Girard", "nathan.girard@exemple.fr", "", "bureautique-en-ligne", 70, Source::lms, 34},
    {"DEMO-007", "Chloé", "Roux", "chloe.roux@exemple.fr", "06 56 78 90 12", "bureautique-en-ligne", 30, Source::lms, 2},
    {"DEMO-008", "Manon", "Fournier", "manon.fournier@exemple.fr", "", "enseignants-numerique", 6, Source::lms, -1},
    {"DEMO-009", "Théo", "Bonnet", "theo.bonnet@exemple.fr", "", "enseignants-numerique", 6, Source::lms, 1},
    {"DEMO-010", "Zoé", "Lambert", "", "06 67 89 01 23", "permis-b", 400, Source::lesson, 130},
};

}  // namespace

int load_demo_cohort(Engine& engine, Timestamp now) {
  store::WriteTransaction tx(engine.db());
  int n = 0;
  for (const auto& s : sample) {
    Learner l;
    l.id = s.id;
    l.first_name = s.first_name;
    l.last_name = s.last_name;
    l.email = s.email;
    if (*s.phone) {
      auto p = normalize_phone(s.phone);
      l.phone = p.ok() ? p.e164 : std::string();
    }
    l.cohort = s.cohort;
    l.start_date = std::chrono::floor<std::chrono::days>(now) - std::chrono::days(s.started_days_ago);
    l.first_seen = now - std::chrono::days(s.started_days_ago);
    if (s.inactive_days >= 0) l.activity.observe(s.source, now - std::chrono::days(s.inactive_days) - std::chrono::hours(3));
    engine.upsert_learner(l, now);
    ++n;
  }
  store::Journal(engine.db()).append({0, now, "relance", "demo.cohort_loaded", std::nullopt, std::nullopt,
                                      std::to_string(n) + " fictional learners"});
  tx.commit();
  return n;
}

}  // namespace relance::app
