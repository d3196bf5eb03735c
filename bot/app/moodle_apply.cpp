#include "bot/app/moodle_apply.hpp"

#include "adapters/common/log_privacy.hpp"
#include "bot/app/phone.hpp"
#include "store/database.hpp"

#include <spdlog/spdlog.h>

namespace relance::app {

moodle::ApplyFn moodle_apply(Engine& engine) {
  return [&engine](std::int64_t course_id, const std::vector<moodle::LearnerUpdate>& updates, Timestamp now) {
    moodle::ApplyCounts counts;
    store::WriteTransaction tx(engine.db());
    for (const auto& up : updates) {
      Learner l = up.learner;
      if (!up.phone_raw.empty()) {
        // An invalid number is reported, never guessed; the learner still counts.
        auto phone = normalize_phone(up.phone_raw);
        if (phone.ok())
          l.phone = phone.e164;
        else
          spdlog::warn("moodle: course {}: user {}: phone1 ignored: {}", course_id, up.moodle_user_id,
                       logs::redact(phone.error, {}, {up.phone_raw}));
      }
      switch (engine.upsert_learner(l, now)) {
        case store::LearnerRepo::Upserted::inserted: ++counts.inserted; break;
        case store::LearnerRepo::Upserted::updated: ++counts.updated; break;
        case store::LearnerRepo::Upserted::unchanged: ++counts.unchanged; break;
      }
      if (up.lms_activity &&
          engine.apply(ActivityObserved{l.key, Source::lms, *up.lms_activity, "moodle"}, now).activity_moved)
        ++counts.activity;
    }
    tx.commit();
    return counts;
  };
}

}  // namespace relance::app
