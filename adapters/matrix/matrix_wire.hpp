// Matrix client-server wire format (spec v1.19, ../shared/specs/matrix), as
// pure functions: the event contents relance sends, the transaction ids that
// make them idempotent, and /sync answers turned into typed inbound events.
// No I/O here; matrix_session/sender/sync do the talking.
#pragma once

#include "adapters/chat/chat.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace relance::matrix {

// --- small helpers ---

// A path segment, percent-encoded (room ids, event ids, user ids carry ! $ : @ #).
std::string encode_segment(std::string_view s);
// A query value (since tokens, filter ids).
std::string encode_query(std::string_view s);
// FNV-1a 64, 16 hex digits: short, stable names for transaction ids.
std::string stable_hash(std::string_view s);

// Spec "Transaction identifiers": the same txnId on the same device makes a
// retry of PUT /send answer the first event again instead of a second one.
// The outbox id is unique and stable across restarts.
std::string txn_for_post(std::int64_t outbox_id);        // "relance.<outbox_id>"
std::string txn_for_edit(const chat::Edit& edit);         // "relance.edit.<hash>" of target + content
std::string txn_for_reply(std::string_view to_event_id);  // "relance.reply.<hash>"
std::string txn_for_e2ee_notice(std::string_view room_id);

// Spec "Standard error response": {"errcode", "error"}; both empty when the
// body is not one (a proxy's HTML page).
struct ErrorBody {
  std::string errcode;
  std::string error;
};
ErrorBody parse_error(std::string_view body);

// --- what relance sends ---

// An m.notice for a staff post: `body` is the plain text with the mentioned
// ids first, `formatted_body` the HTML with mentions as pills
// (<a href="https://matrix.to/#/@u:hs">@u:hs</a>), `m.mentions.user_ids` the
// people to notify (spec "User and room mentions"). With `thread_root`, an
// m.thread relation (spec "Threading", with the reply fallback to the root
// for clients without threads). A non-empty `claim_hint` is added as a last
// line (the alert's "react with ✋").
nlohmann::json post_content(const chat::Post& post, std::string_view claim_hint);

// An m.replace of `edit.remote_id` (spec "Event replacements"): "* " fallback
// at the top level, the new text in m.new_content, no new mention.
nlohmann::json edit_content(const chat::Edit& edit, std::string_view claim_hint);

// A plain m.notice (command answers, the encryption warning), escaped with
// render::escape_plain / escape_html (mentions defused). With a
// `thread_root`, in that thread, replying to `in_reply_to` (defaults to the
// root); without, a reply to `in_reply_to` when set.
nlohmann::json notice_content(std::string_view text, std::string_view thread_root = {},
                              std::string_view in_reply_to = {});

// The /sync filter (filter.yaml): only what the bot acts on. Messages,
// reactions, memberships, and the encryption markers; no presence, no
// ephemeral events, no account data.
nlohmann::json sync_filter(std::int64_t timeline_limit = 50);

// The body of POST /login (m.login.password with an m.id.user identifier,
// spec "Password-based"), keeping the configured device.
nlohmann::json password_login(std::string_view user, std::string_view password, std::string_view device_id);

// --- learners' direct rooms (matrix_direct) ---

// "@localpart:server": what can be invited (spec "User Identifiers", loosely:
// a non-empty localpart and server name, no whitespace).
bool is_user_id(std::string_view s);

// POST /createRoom for a learner's DM (spec "Direct Messaging"): is_direct,
// the learner invited, preset trusted_private_chat. No m.room.encryption in
// the initial state: relance does not do end-to-end encryption.
nlohmann::json direct_room_request(std::string_view learner);

// An m.text to a learner (a person, not a bot's m.notice): `body`, plus
// formatted_body when `html` is not empty; no mention.
nlohmann::json direct_message_content(std::string_view body, std::string_view html);

// The rooms m.direct lists for `user` (content {"@user:hs": ["!room", ...]},
// oldest first); entries that are not strings are left out.
std::vector<std::string> direct_rooms_of(const nlohmann::json& m_direct, std::string_view user);

// m.direct with `add` listed for `user` (appended when missing) and `drop`
// removed from `user`'s list (a user left with no room is removed). Every
// other entry is kept as it was, even ones this code cannot read. A content
// that is not an object is taken as empty.
nlohmann::json direct_updated(const nlohmann::json& m_direct, std::string_view user, std::string_view add,
                              const std::vector<std::string>& drop);

// --- what /sync brings ---

struct Invite {
  std::string room_id;
  std::string inviter;     // sender of our m.room.member invite
  bool encrypted = false;  // m.room.encryption in the stripped state
};

struct Message {  // m.room.message
  std::string event_id, sender, msgtype, body;
  std::string thread_root;  // m.thread relation: the root event
  bool is_edit = false;     // m.replace: an edit of an older message, never a new command
};

struct Reaction {  // m.reaction, m.annotation
  std::string event_id, sender, target, key;
};

struct Encrypted {  // m.room.encryption state, or an m.room.encrypted event
  std::string event_id, sender;
};

struct Unknown {  // anything else (memberships, unreadable events)
  std::string event_id, sender, type;
};

using TimelineEvent = std::variant<Message, Reaction, Encrypted, Unknown>;

struct JoinedRoom {
  std::string room_id;
  bool encrypted = false;  // m.room.encryption in the state block or the timeline
  bool limited = false;    // the server left older events out (timeline.limited)
  std::vector<TimelineEvent> timeline;
  std::string prev_batch;  // with limited: where GET /messages back-fills from
  // Our own join is in this timeline: what a limited timeline left out came
  // before we were there (history, not a gap).
  bool joined_here = false;
};

struct SyncBatch {
  std::string next_batch;
  std::vector<Invite> invites;
  std::vector<JoinedRoom> joined;
  int skipped = 0;  // malformed events left out (logged by the caller)
};

// Reads a /sync answer; `own_user_id` finds our invite in invite_state.
// Throws std::invalid_argument only when the answer itself is unusable (no
// next_batch); a bad event is skipped and counted.
SyncBatch parse_sync(const nlohmann::json& j, std::string_view own_user_id);

// One page of GET /rooms/{id}/messages?dir=b (message_pagination.yaml),
// read back to the events a limited /sync timeline left out.
struct BackfillPage {
  std::vector<TimelineEvent> events;  // oldest first, only those after our own join
  std::string end;                    // the next page's `from`; empty: no more
  bool reached_own_join = false;      // our join is in this page: nothing older concerns us
  int skipped = 0;
};
BackfillPage parse_backfill_page(const nlohmann::json& j, std::string_view own_user_id);
// The RoomEventFilter for that back-fill: the timeline types of sync_filter.
nlohmann::json backfill_filter();

// Reaction keys that claim a case: ✋ and ✅, with or without U+FE0F and with
// any skin tone (U+1F3FB..U+1F3FF).
bool is_claim_key(std::string_view key);

// A command line when `body` starts with `prefix` followed by a space or its
// end ("!relance prendre 42" -> "prendre 42"); nothing otherwise. A leading
// reply fallback ("> <@u:hs> ..." lines) is skipped first.
std::optional<std::string> command_line(std::string_view body, std::string_view prefix);

}  // namespace relance::matrix
