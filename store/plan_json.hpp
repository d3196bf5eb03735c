// A case's plan as stored with it (learner_case.plan): the ladder it was
// opened with, so later configuration edits do not change a running case.
#pragma once

#include "bot/domain/policy.hpp"

#include <string>
#include <string_view>

namespace relance::store {

std::string plan_to_json(const Plan& p);
Plan plan_from_json(std::string_view json);  // throws std::runtime_error on bad data

}  // namespace relance::store
