// [matrix]: what this adapter needs to log in, post, sync and reach learners.
// The app reads it from the configuration file (bot/app/config.cpp).
#pragma once

#include "adapters/chat/route.hpp"

#include <string>
#include <vector>

namespace relance::matrix {

struct MatrixConfig {
  bool enabled = false;
  std::string homeserver;      // https://matrix.example.org
  std::string user_id;         // @relance:example.org
  std::string access_token;    // RELANCE_MATRIX_TOKEN; or a password login:
  std::string password;        // RELANCE_MATRIX_PASSWORD
  std::string device_id = "RELANCE";  // kept across password logins
  std::string default_room;    // room id
  std::vector<chat::ChatRoute> routes;
  // Invites are accepted from these users (default: every [[staff]] matrix id)
  // and to these rooms (the routed rooms always are).
  std::vector<std::string> allowed_inviters;
  std::vector<std::string> allowed_rooms;
  std::string command_prefix = "!relance";
  std::string ca_file;
  // Learners with a Matrix id get their relaunches in a direct room.
  bool learners = true;
};

}  // namespace relance::matrix
