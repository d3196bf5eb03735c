// Where a staff post goes: per chat network, the room configured for its
// policy and role, and who to mention there. Without any chat network, posts
// go to the console ("staff").
#pragma once

#include "bot/app/config.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace relance::app {

struct Destination {
  std::string network;  // "mattermost", "matrix", or "staff" (console)
  std::string target;   // channel id / room id / role (console)
};

// The destinations of a post for `policy` and `role`: on each enabled network
// the most specific route (policy and role, then role, then policy, then the
// network's default). No chat destination at all: the console.
std::vector<Destination> route(const Config& c, std::string_view policy, std::string_view role);

// The chat handles of the members of `role` on `network` (Mattermost
// usernames, Matrix ids), in configuration order.
std::vector<std::string> mention_handles(const Config& c, std::string_view network, std::string_view role);

// Every room a network posts to (default + routes): the Mattermost listener
// watches them, the Matrix sync accepts invites to them.
std::vector<std::string> routed_targets(const Config& c, std::string_view network);

}  // namespace relance::app
