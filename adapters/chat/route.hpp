// Where staff posts go on one chat network, as [[mattermost.route]] and
// [[matrix.route]] configure it (both networks route the same way).
#pragma once

#include <string>

namespace relance::chat {

// The most specific route wins: policy and role, then role, then policy,
// then the network's default.
struct ChatRoute {
  std::string policy;  // empty: any policy
  std::string role;    // empty: any role
  std::string target;  // Mattermost channel id / Matrix room id
};

}  // namespace relance::chat
