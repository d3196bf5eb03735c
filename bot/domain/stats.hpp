// Return rate after relaunches (procedure 000 §4), by step and by means.
#pragma once

#include "bot/domain/case.hpp"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace relance {

struct RateCell {
  int relaunches = 0;
  int returned = 0;  // learner active again within the window after that relaunch
  double rate() const { return relaunches ? double(returned) / relaunches : 0.0; }
};

struct ReturnStats {
  RateCell overall;
  std::map<int, RateCell> by_step;          // plan step index (-1: logged outside the plan)
  std::map<std::string, RateCell> by_means; // "sms", "phone", ...
};

// `returned_at`: for each case, when the learner showed a sign of life that
// closed it as resumed (nullopt otherwise). A relaunch counts as returned when
// that sign of life came after it and within `window`, and no later relaunch
// of the same case came before the return (the last relaunch before a return
// gets the credit).
struct CaseHistory {
  const Case* c;
  std::vector<Relaunch> relaunches;
  std::optional<Timestamp> returned_at;
};
ReturnStats return_stats(const std::vector<CaseHistory>& cases, std::chrono::days window);

}  // namespace relance
