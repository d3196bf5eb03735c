// From Moodle users to what the core ingests: a Learner and an `lms` activity.
#pragma once

#include "adapters/lms/moodle/moodle_wire.hpp"
#include "adapters/lms/moodle/moodle_config.hpp"
#include "bot/domain/learner.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace relance::moodle {

// One learner as seen in one course.
struct LearnerUpdate {
  Learner learner;             // phone left empty: see phone_raw; language empty: keep the stored one
  std::string phone_raw;       // Moodle's phone1 as typed; normalised by whoever applies the update
  std::optional<Timestamp> lms_activity;  // last access to the course; none = never
  std::int64_t moodle_user_id = 0;
};

// The learner id relance uses for a Moodle user.
//
// Choice: the user's `idnumber` when Moodle returns one, else "moodle:<id>".
// `idnumber` is the organisation's own file number (e.g. "STG-2026-014"), the
// same id its other feeds (the activity API, CSV files) use, so a learner
// seen through Moodle and through the front desk is one learner. Caveat: the
// token user needs moodle/user:viewalldetails to see it; if that capability
// is removed later, the same person comes back as "moodle:<id>", a new learner.
std::string learner_id(const User& u);

// The cohort of a course: MoodleConfig::course_cohorts, else the course id.
std::string course_cohort(std::int64_t course_id, const MoodleConfig& cfg);

// When the learner last showed up in the course, NOTES §3:
// - `lastcourseaccess` when returned; 0 means never (the Participants page's
//   "Jamais"), even if `lastaccess` shows a visit to the site: a learner who
//   logs in but never opens the training has not started it (procedure 003).
// - when `lastcourseaccess` is absent (hidden field, older site), `lastaccess`
//   (the site) is the best sign there is, again 0 = never.
std::optional<Timestamp> course_activity(const User& u);

struct MappedCourse {
  std::vector<LearnerUpdate> updates;
  std::size_t ignored_roles = 0;     // teachers, managers...
  std::vector<std::string> notes;    // entries left out, with why (no personal data)
};

// Keeps users holding one of `cfg.roles` (roles[].shortname), maps them.
// A user without `roles` cannot be classified and is left out (noted); two
// users giving the same learner id keep the first (noted).
MappedCourse map_course(const std::vector<User>& users, std::int64_t course_id, const MoodleConfig& cfg);

}  // namespace relance::moodle
