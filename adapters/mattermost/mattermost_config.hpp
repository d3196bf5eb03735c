// [mattermost]: what this adapter needs to post, listen and take callbacks.
// The app reads it from the configuration file (bot/app/config.cpp).
#pragma once

#include "adapters/chat/route.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace relance::mattermost {

struct MattermostConfig {
  bool enabled = false;
  std::string url;             // https://chat.example.org (the site URL)
  std::string bot_token;       // RELANCE_MATTERMOST_TOKEN
  std::string command_token;   // RELANCE_MATTERMOST_COMMAND_TOKEN (slash command's token)
  std::string action_secret;   // RELANCE_MATTERMOST_ACTION_SECRET (HMAC key of button contexts)
  // The base URL at which Mattermost reaches relance's HTTP port (button
  // callbacks): https://relance.example.org. Without it, no buttons.
  std::string public_url;
  std::string default_channel; // channel id
  std::vector<chat::ChatRoute> routes;
  std::string ca_file;
  std::chrono::seconds ping_interval{30};
};

}  // namespace relance::mattermost
