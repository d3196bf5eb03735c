// The app side of the Moodle port: applies one course through the Engine, in
// one transaction. Header-only on purpose: it needs relance_app, and the
// adapter library sits below relance_app (relance_app links it), so only the
// app (runtime) and tests, which link relance_app, include this file.
#pragma once

#include "adapters/lms/moodle/moodle_poller.hpp"
#include "bot/app/engine.hpp"
#include "bot/app/phone.hpp"
#include "store/database.hpp"

#include <spdlog/spdlog.h>

namespace relance::moodle {

inline ApplyFn engine_apply(app::Engine& engine) {
  return [&engine](std::int64_t course_id, const std::vector<LearnerUpdate>& updates, Timestamp now) {
    ApplyCounts counts;
    store::WriteTransaction tx(engine.db());
    for (const auto& up : updates) {
      Learner l = up.learner;
      if (!up.phone_raw.empty()) {
        // An invalid number is reported, never guessed; the learner still counts.
        auto phone = app::normalize_phone(up.phone_raw);
        if (phone.ok())
          l.phone = phone.e164;
        else
          spdlog::warn("moodle: course {}: user {}: phone1 ignored: {}", course_id, up.moodle_user_id, phone.error);
      }
      switch (engine.upsert_learner(l, now)) {
        case store::LearnerRepo::Upserted::inserted: ++counts.inserted; break;
        case store::LearnerRepo::Upserted::updated: ++counts.updated; break;
        case store::LearnerRepo::Upserted::unchanged: ++counts.unchanged; break;
      }
      if (up.lms_activity && engine.record_activity(l.key, Source::lms, *up.lms_activity, now, "moodle"))
        ++counts.activity;
    }
    tx.commit();
    return counts;
  };
}

}  // namespace relance::moodle
