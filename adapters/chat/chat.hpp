// The contract between relance's staff-chat dispatcher (bot/app) and the chat
// networks (adapters/mattermost, adapters/matrix). The app decides what to
// post, where, in which thread and in which order (outbox, one ordered queue
// per room); an adapter only speaks its protocol. Inbound, an adapter hands
// the app what staff typed (a line the app parses) or what they clicked or
// reacted (a staff command, already typed).
#pragma once

#include "bot/domain/command.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace relance::chat {

enum class Network : std::uint8_t { mattermost, matrix };
// "mattermost", "matrix" (their outbox rows are on channel "staff.<name>").
inline std::string_view to_string(Network n) { return n == Network::mattermost ? "mattermost" : "matrix"; }

// One staff post, rendered by the app for this network. Text that quotes
// people (learner names, learner replies, comments) is already escaped by the
// app for the target format (escape.hpp), so `@all`, Markdown and HTML in it
// have no effect; the adapter adds nothing but mentions and its own chrome.
struct Post {
  std::int64_t outbox_id = 0;   // unique and stable: the idempotency key
  std::string destination;      // Mattermost channel id / Matrix room id
  std::optional<std::int64_t> case_id;
  // The remote id of the case's first post in this destination (the thread
  // root); empty when this post starts the case's thread. For an answer to a
  // command typed in a thread, that thread's root.
  std::string thread_root;
  // An answer to a command: the message it answers (Matrix m.in_reply_to).
  std::string reply_to;
  std::string markdown;         // Mattermost message
  std::string plain;            // Matrix body
  std::string html;             // Matrix formatted_body (org.matrix.custom.html)
  // People to notify: Mattermost usernames (without @), Matrix user ids.
  std::vector<std::string> mentions;
  // The case's alert: Mattermost adds the action buttons (Je prends, Relance
  // faite, Repris, Abandon), Matrix reminds that ✋ claims.
  bool alert = false;
  // An earlier attempt may have reached the server (a timeout, a crash
  // between sending and recording): Mattermost must first look for a post
  // carrying this outbox id in its props before posting again. Matrix needs
  // nothing: the txnId derived from outbox_id makes the retry idempotent.
  bool maybe_sent = false;
};

struct SendResult {
  enum class Status : std::uint8_t {
    sent,    // remote_id is the post / event id
    retry,   // transient (5xx, 429, network): try again later, same Post
    failed,  // permanent (4xx other than 429: unknown channel, forbidden...)
  };
  Status status = Status::retry;
  std::string remote_id;
  std::optional<std::chrono::milliseconds> retry_after;  // the server said when
  std::string error;                                     // for the log and the outbox row
  // With retry: the server did not answer, or its proxy said it is down
  // (5xx). The dispatcher stops sending to this network and probes it
  // (Sender::probe) until it answers, instead of retrying every post.
  bool unreachable = false;
  // With retry: this destination cannot take posts as it is (an end-to-end
  // encrypted Matrix room). The post stays pending, its room waits, and the
  // dispatcher tells staff in another room which cases are waiting.
  bool room_unusable = false;
};

// A post of an existing message to change in place (the alert's status line
// after a claim, the buttons removed once the case is closed).
struct Edit {
  std::string destination;
  std::string remote_id;
  std::string markdown;
  std::string plain;
  std::string html;
  bool keep_actions = true;  // false: the case is over, remove the buttons
};

// What an adapter sends. Implementations pace themselves (net::Pacer) and
// keep their connections; one call at a time per destination (the dispatcher
// orders them), calls for different destinations may overlap.
class Sender {
public:
  virtual ~Sender() = default;
  virtual Network network() const = 0;
  virtual boost::asio::awaitable<SendResult> send(Post post) = 0;
  virtual boost::asio::awaitable<SendResult> edit(Edit edit) = 0;
  // One cheap request that needs no rate-limit token (Matrix GET
  // /_matrix/client/versions, Mattermost GET /api/v4/system/ping): true when
  // the server answers as itself again after an outage.
  virtual boost::asio::awaitable<bool> probe() = 0;
};

// A staff command's answer, for the chat user who typed or clicked it.
struct Answer {
  bool staff = true;         // false: this chat user is not configured staff (refused)
  bool ok = true;            // false: refused / usage error
  std::string text;          // plain text; adapters escape/format it
  std::optional<std::int64_t> case_id;  // the case the command touched, if one
  // It shows learners' details (dossier, liste): only the asker may read it
  // (an ephemeral answer or a direct message, never a shared channel).
  bool personal = false;
};

// What a chat user asked for: a line they typed, parsed by the app (one
// parser for every channel), or an action on a case's alert (a button, a
// menu option, a reaction), which is a command already: it is never written
// as text to be read again.
struct Typed {
  std::string line;
};
using Input = std::variant<Typed, Command>;

// The input as a command line, for logs (a click reads "prendre 42").
inline std::string line_of(const Input& in) {
  if (const auto* t = std::get_if<Typed>(&in)) return t->line;
  return command_line(std::get<Command>(in));
}

// Where the Mattermost listener keeps the bot's username (kv), for texts that
// show "@<bot> prendre 42" when no slash command is set up.
inline constexpr std::string_view mattermost_bot_username_key = "mattermost.bot_username";

// What the app gives an adapter for inbound traffic. All run on the adapter's
// executor thread (the app's single io_context), synchronously.
struct Hooks {
  // Runs what a chat user typed or did (a reaction: ClaimCmd): a Mattermost
  // username (without @) or a Matrix user id. The app checks once that the
  // user is staff.
  std::function<Answer(Network, std::string_view user, const Input& input)> command;
  // The same for a button click (Mattermost) whose answer updates the alert
  // itself: the app does not edit that alert again on this network (one
  // edit per click). Unset: `command` is used.
  std::function<Answer(Network, std::string_view user, const Input& input)> click;
  // The case whose alert (thread root) is this remote post / event, if any.
  std::function<std::optional<std::int64_t>(Network, std::string_view remote_id)> case_of_post;
  // The alert's current text for this case (after a claim through a button,
  // the post is updated with it). Empty when the case is unknown.
  std::function<std::optional<Edit>(Network, std::int64_t case_id)> alert_status;
  // Inbound dedupe (Matrix event ids, Mattermost post ids): true the first time.
  std::function<bool(std::string_view source, std::string_view id)> first_seen;
  // Small durable state (Matrix next_batch, device id): kv in the store.
  std::function<std::optional<std::string>(std::string_view key)> load;
  std::function<void(std::string_view key, std::string_view value)> save;
  // A text for people from messages/ in the organisation's language, e.g.
  // "matrix.e2ee_unsupported" (adapters keep their keys in
  // messages/<lang>/<network>.toml); {name} placeholders filled from params.
  std::function<std::string(std::string_view key, const std::vector<std::pair<std::string, std::string>>& params)> text;
  // A message from someone who is not staff in a learner's direct room (Matrix
  // DMs the bot opened for a relaunch): stored as the learner's reply, a sign
  // of life, and posted in the case's staff thread by the app, through the
  // same writer as every learner message. `room` is the DM room, `event_id`
  // the dedupe key. `done` is called once, from any thread: true once it is
  // durably stored, false when it could not be (the adapter fetches it again
  // later; no cursor moves past it).
  std::function<void(Network, std::string_view user, std::string_view room, std::string_view event_id,
                     std::string_view text, std::function<void(bool stored)> done)>
      learner_message;
  // Whether `room` is a learner's direct room the bot opened (then messages
  // in it go to learner_message, not to the command parser).
  std::function<bool(Network, std::string_view room)> is_learner_room;
  // A command typed in a room, answered durably: in one transaction the
  // event is marked seen (first_seen(network, event_id)), the command is run
  // and its answer queued in the outbox (to `to.room`, in `to.thread_root`,
  // answering `to.reply_to`), so a crash never leaves a command run or seen
  // but unanswered. nullopt: already seen, nothing done. When not set, the
  // adapter uses first_seen + command and sends the answer itself.
  struct AnswerTo {
    std::string room;
    std::string thread_root;
    std::string reply_to;
  };
  std::function<std::optional<Answer>(Network, std::string_view user, const Input& input,
                                      std::string_view event_id, const AnswerTo& to)>
      command_once;
};

}  // namespace relance::chat
