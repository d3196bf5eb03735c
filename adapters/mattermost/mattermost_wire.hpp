// Mattermost wire formats, as plain functions (no I/O): the post body with
// its interactive buttons, the signed button contexts, the WebSocket events
// a bot needs and error bodies. Our replies are escaped with
// render::escape_markdown (messages/render/staff.hpp).
// Protocol facts: ../shared/specs/mattermost/NOTES.md (the "Observed on a
// real server" section wins).
//
// JSON is built here and not inside coroutines: GCC 12 mis-compiles braced
// nlohmann::json temporaries in coroutine frames.
#pragma once

#include "bot/domain/command.hpp"

#include "adapters/chat/chat.hpp"
#include "adapters/common/http_client.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace relance::mattermost {

using Text = std::function<std::string(std::string_view key, std::string_view fallback)>;

// The props key carrying the outbox id (the idempotency key, NOTES §2: props
// are free-form and come back in GET and `since` listings).
inline constexpr std::string_view outbox_prop = "relance_outbox";

// ----- signed button contexts (NOTES §5: `context` is never shown to
// clients and the callback has no other authentication) -----

// Lowercase hex HMAC-SHA256(secret, "<action>:<case>").
std::string action_mac(std::string_view secret, std::string_view action, std::string_view case_id);
// Constant time over the longer input (CRYPTO_memcmp).
bool constant_time_equals(std::string_view a, std::string_view b);
bool verify_action_mac(std::string_view secret, std::string_view action, std::string_view case_id,
                       std::string_view mac);

// The actions on an alert: context.action values and the command each runs.
inline constexpr std::string_view action_claim = "claim";
inline constexpr std::string_view action_log = "log";  // the "Relance faite…" menu
inline constexpr std::string_view action_resumed = "resumed";
inline constexpr std::string_view action_dropout = "dropout";

// A "Relance faite…" menu option: its value (what Mattermost sends back in
// context.selected_option), the relaunch it logs and its label's message key.
struct MenuOption {
  std::string_view value;
  Means means;
  Result result;
  std::string_view label_key;
  std::string_view fallback;
};
const std::vector<MenuOption>& menu_options();

// The staff command a signed action is: ClaimCmd (prendre 42), LogCmd
// (relance 42 tel joint), ResumedCmd, DropoutCmd; nothing for an unknown
// action or menu value (the menu value is not covered by the MAC, so only
// values of the table are accepted) or a case id that is not a number.
std::optional<Command> action_command(std::string_view action, std::string_view case_id,
                                      std::string_view selected_option);

// ----- posts -----

// POST /api/v4/posts body. With `action_url` (public_url + the action hook)
// and an alert with a case, the attachment with the buttons.
nlohmann::json post_body(const chat::Post& post, const std::string& action_url, std::string_view action_secret,
                         const Text& text);
// The attachment of an alert after its case is over (NOTES "Update
// semantics": props replaced by the attachment without actions).
nlohmann::json closed_props(const Text& text);
// PUT /api/v4/posts/{id}/patch body.
nlohmann::json patch_body(const chat::Edit& edit, const Text& text);
// A plain reply (to a command) in a channel, in a thread when root_id is set.
nlohmann::json reply_body(const std::string& channel_id, const std::string& root_id, const std::string& message);

// The id of the post carrying outbox id `outbox_id` in a PostList body, if any.
std::optional<std::string> find_outbox_post(std::string_view post_list_body, std::int64_t outbox_id);

// What an answer means for an outbox send (201/200 sent, 429/5xx/no answer
// retry, other 4xx failed with the server's `message`).
chat::SendResult to_send_result(const net::HttpResult& r, std::chrono::system_clock::time_point now);
// A Mattermost error body's `message`, else the status and the start of the body.
std::string error_message(const net::HttpResult& r);

// ----- WebSocket events (NOTES §3) -----

struct Hello {
  std::int64_t seq = 0;
  std::string connection_id;
};
struct WirePost {
  std::string id, user_id, channel_id, root_id, message, type;
  std::int64_t create_at = 0, update_at = 0, delete_at = 0;
};
struct Posted {
  std::int64_t seq = 0;
  WirePost post;
  std::string channel_type;  // O P D G
  std::string sender_name;   // "@alice"
};
struct ReactionAdded {
  std::int64_t seq = 0;
  std::string user_id, post_id, emoji_name, channel_id;
};
struct OtherEvent {  // any other event: counts for `seq`
  std::int64_t seq = 0;
  std::string event;
};
struct Reply {};  // a reply to one of our requests (seq_reply), no `seq`
struct Undecodable {
  std::string why;
};
using Event = std::variant<Hello, Posted, ReactionAdded, OtherEvent, Reply, Undecodable>;

Event decode_event(std::string_view text);
std::optional<WirePost> decode_post(const nlohmann::json& j);
// A PostList ({"order": [...], "posts": {...}}) oldest first.
std::vector<WirePost> decode_post_list(std::string_view body);

// GET /channels/{id}/posts?since=<ms> lists posts with update_at > since, but
// at most this many, the oldest of the window (NOTES "Observed /
// Reconnection"): a busy channel needs several calls.
inline constexpr std::size_t since_listing_cap = 1000;
// The `since` of the next call after `page` (a listing from `since`), or
// nothing when `page` was the last. It steps back one millisecond so posts
// sharing the page's newest update_at are listed again rather than missed
// (callers dedupe), unless that would not move forward.
std::optional<std::int64_t> next_since(const std::vector<WirePost>& page, std::int64_t since);

// The command in a post addressed to the bot: a DM, or a message starting
// with @<bot_username> (the mention removed). Nothing when it is neither.
std::optional<std::string> command_line(std::string_view message, bool direct, std::string_view bot_username);

}  // namespace relance::mattermost
