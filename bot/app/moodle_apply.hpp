// The app side of the Moodle port: the poller hands each course's learners
// to this function, which applies them through the Engine in one transaction.
#pragma once

#include "adapters/lms/moodle/moodle_poller.hpp"
#include "bot/app/engine.hpp"

namespace relance::app {

// `engine` must outlive the poller that calls the result.
moodle::ApplyFn moodle_apply(Engine& engine);

}  // namespace relance::app
