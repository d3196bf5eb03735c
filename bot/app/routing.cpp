#include "bot/app/routing.hpp"

#include <algorithm>

namespace relance::app {

namespace {

std::string pick(const std::vector<ChatRoute>& routes, const std::string& fallback, std::string_view policy,
                 std::string_view role) {
  const ChatRoute* best = nullptr;
  int best_score = 0;
  for (const auto& r : routes) {
    if (!r.policy.empty() && r.policy != policy) continue;
    if (!r.role.empty() && r.role != role) continue;
    // policy+role 3, role 2, policy 1: a role's channel beats a policy's.
    const int score = (r.role.empty() ? 0 : 2) + (r.policy.empty() ? 0 : 1);
    if (score > best_score) best = &r, best_score = score;
  }
  return best ? best->target : fallback;
}

}  // namespace

std::vector<Destination> route(const Config& c, std::string_view policy, std::string_view role) {
  std::vector<Destination> out;
  if (c.mattermost.enabled) {
    auto t = pick(c.mattermost.routes, c.mattermost.default_channel, policy, role);
    if (!t.empty()) out.push_back({"mattermost", std::move(t)});
  }
  if (c.matrix.enabled) {
    auto t = pick(c.matrix.routes, c.matrix.default_room, policy, role);
    if (!t.empty()) out.push_back({"matrix", std::move(t)});
  }
  if (out.empty()) out.push_back({"staff", std::string(role)});
  return out;
}

std::vector<std::string> mention_handles(const Config& c, std::string_view network, std::string_view role) {
  std::vector<std::string> out;
  if (role.empty()) return out;
  for (const auto& s : c.staff) {
    if (std::find(s.roles.begin(), s.roles.end(), role) == s.roles.end()) continue;
    const std::string& h = network == "mattermost" ? s.mattermost : network == "matrix" ? s.matrix : std::string();
    if (!h.empty()) out.push_back(h.front() == '@' && network == "mattermost" ? h.substr(1) : h);
  }
  return out;
}

std::vector<std::string> routed_targets(const Config& c, std::string_view network) {
  std::vector<std::string> out;
  auto add = [&](const std::string& t) {
    if (!t.empty() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  if (network == "mattermost") {
    add(c.mattermost.default_channel);
    for (const auto& r : c.mattermost.routes) add(r.target);
  } else if (network == "matrix") {
    add(c.matrix.default_room);
    for (const auto& r : c.matrix.routes) add(r.target);
  }
  return out;
}

}  // namespace relance::app
