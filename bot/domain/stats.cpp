#include "bot/domain/stats.hpp"

#include <algorithm>
#include <string>

namespace relance {

namespace {

void count(RateCell& cell, bool returned) {
  ++cell.relaunches;
  if (returned) ++cell.returned;
}

}  // namespace

ReturnStats return_stats(const std::vector<CaseHistory>& cases, std::chrono::days window) {
  ReturnStats stats;
  for (const CaseHistory& h : cases) {
    // Order by time (ties by id, the order they were logged) so "the last
    // relaunch before the return" is well defined whatever order the caller
    // read them in.
    std::vector<const Relaunch*> ordered;
    ordered.reserve(h.relaunches.size());
    // A bot message counts once it left: queued, failed or cancelled ones
    // never reached the learner and neither earn nor dilute the rate.
    for (const Relaunch& r : h.relaunches)
      if (reached_learner(r)) ordered.push_back(&r);
    std::stable_sort(ordered.begin(), ordered.end(), [](const Relaunch* a, const Relaunch* b) {
      return a->at != b->at ? a->at < b->at : a->id < b->id;
    });

    // The relaunch credited with the return: the last one at or before it.
    // "At" counts: a call logged as "resumed" closes the case in the same
    // instant, and that call is what brought the learner back.
    const Relaunch* credited = nullptr;
    if (h.returned_at) {
      for (const Relaunch* r : ordered) {
        if (r->at > *h.returned_at) break;
        credited = r;
      }
      if (credited && *h.returned_at - credited->at > window) credited = nullptr;
    }

    for (const Relaunch* r : ordered) {
      const bool returned = r == credited;
      count(stats.overall, returned);
      count(stats.by_step[r->step], returned);
      count(stats.by_means[std::string(to_string(r->means))], returned);
    }
  }
  return stats;
}

}  // namespace relance
