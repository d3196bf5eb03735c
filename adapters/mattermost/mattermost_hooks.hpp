// What Mattermost POSTs to relance, as HTTP-independent handlers: the
// HTTP server routes
//   POST /hooks/mattermost/action   (application/json)  -> handle_action(body)
//   POST /hooks/mattermost/command  (form-encoded)      -> handle_command(Authorization header, body)
// and answers `status` with `json` as application/json. Both run the staff
// command through chat::Hooks::command, synchronously (call them on the
// app's executor thread, like every hook).
#pragma once

#include "adapters/chat/chat.hpp"
#include "adapters/mattermost/mattermost_config.hpp"

#include <string>
#include <string_view>

namespace relance::mattermost {

struct HookReply {
  int status = 200;
  std::string json;  // always a JSON object
};

class MattermostHooks {
public:
  MattermostHooks(const MattermostConfig& config, chat::Hooks hooks);

  // A button click or menu choice (NOTES §5, "Observed / Button click"): the
  // context's HMAC is checked, the action becomes a command line run as the
  // clicker, the answer comes back as ephemeral_text and, when the command
  // succeeded, the alert post is updated from hooks.alert_status (buttons
  // kept while the case is open). A forged or unreadable click gets 200
  // with an ephemeral refusal (a non-200 would only show "Action failed")
  // plus `error.message` for servers >= 10.5.
  HookReply handle_action(std::string_view json_body) const;

  // A slash command (NOTES §4): the command token, from `Authorization:
  // Token …` and/or the `token` field, compared in constant time (missing:
  // 401, wrong: 403); then `text` runs as the user (empty: "aide") and the
  // answer is an ephemeral response.
  HookReply handle_command(std::string_view authorization_header, std::string_view form_body) const;

private:
  const MattermostConfig& config_;
  chat::Hooks hooks_;
};

}  // namespace relance::mattermost
