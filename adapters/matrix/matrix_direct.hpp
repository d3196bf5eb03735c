// Relaunch messages to learners in a Matrix direct room with the bot (spec
// "Direct Messaging"). One room per learner, found or made once and kept:
//
//   1. the app's store: Hooks::load("matrix.dm.<user_id>");
//   2. else the bot's m.direct account data (a DM the bot already has with
//      that user, still joined by the bot, the learner joined or invited);
//   3. else POST /createRoom {is_direct, invite: [user], preset:
//      trusted_private_chat}, saved at once through Hooks::save, then added
//      to m.direct (read-modify-write of the whole map, other entries kept;
//      retried on a later send when it fails).
//
// The room is checked before every send: a learner who left (or rejected the
// invite), a bot no longer in it, or a room someone made end-to-end
// encrypted is dropped (mapping cleared, removed from m.direct, the bot
// leaves it) and the same send opens a new room. relance does not do E2EE:
// rooms are created without encryption.
//
// Messages are m.text (a person reads them, not a bot's m.notice), with
// txnId "relance.<outbox_id>" like MatrixSender: a retry of the same outbox
// row answers the first event instead of sending it twice.
//
// Inbound replies are MatrixSync's job: the app answers
// Hooks::is_learner_room(matrix, room) for the rooms kept here (see
// key_dm_room_prefix) and gets the learner's messages through
// Hooks::learner_message.
//
// Threading: the session's executor only, like MatrixSender. Sends for
// different learners may overlap; sends for one learner are serialised here
// (never two rooms because two relaunches raced).
#pragma once

#include "adapters/channel/learner_port.hpp"
#include "adapters/chat/chat.hpp"
#include "adapters/matrix/matrix_session.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::matrix {

// Durable keys kept through Hooks::load/save (an empty value = none):
// "matrix.dm.<user_id>"           = the learner's DM room id
inline constexpr std::string_view key_dm_prefix = "matrix.dm.";
// "matrix.dm_room.<room_id>"      = the learner's user id (the reverse: what
//                                   the app's is_learner_room can look up)
inline constexpr std::string_view key_dm_room_prefix = "matrix.dm_room.";
// "matrix.dm_creating.<user_id>"  = "1" from just before POST /createRoom until
//                                   its room is saved: an answer may have been
//                                   lost, look for the room before making another
inline constexpr std::string_view key_dm_creating_prefix = "matrix.dm_creating.";
// "matrix.dm_unrecorded.<user_id>" = room id not yet in m.direct (retried)
inline constexpr std::string_view key_dm_unrecorded_prefix = "matrix.dm_unrecorded.";

std::string key_dm(std::string_view user_id);
std::string key_dm_room(std::string_view room_id);

// Whether `room_id` is a learner's DM kept by MatrixDirect, read through the
// given load hook: what the app can answer Hooks::is_learner_room with.
bool is_direct_room(const chat::Hooks& hooks, std::string_view room_id);

struct DirectMessage {
  std::int64_t outbox_id = 0;  // unique and stable: the txnId
  std::string user_id;         // @lea:example.org
  std::string body;            // plain text
  std::string html;            // formatted_body (org.matrix.custom.html); empty: none
};

struct DirectResult {
  // sent: event_id set. retry: transient (no answer, 5xx, 429, not logged
  // in), same message later, after retry_after when set. failed: permanent
  // (not a user id, unknown user, invite refused, ...): use another channel.
  chat::SendResult::Status status = chat::SendResult::Status::retry;
  std::string room_id;  // the DM room, when known (also on failures after it was found)
  std::string event_id;
  std::optional<std::chrono::milliseconds> retry_after;
  std::string error;  // for the log and the outbox row
};

class MatrixDirect {
public:
  explicit MatrixDirect(std::shared_ptr<MatrixSession> session);
  MatrixDirect(const MatrixDirect&) = delete;
  MatrixDirect& operator=(const MatrixDirect&) = delete;

  boost::asio::awaitable<DirectResult> send(DirectMessage m);

private:
  struct Lookup {  // finding or making the room
    chat::SendResult::Status status = chat::SendResult::Status::sent;  // sent: room_id is usable
    std::string room_id;
    std::optional<std::chrono::milliseconds> retry_after;
    std::string error;
  };
  enum class Fit : std::uint8_t { usable, gone, unknown };
  struct Found {
    bool ok = true;  // false: could not look (no answer...)
    std::string room_id;
    bool listed = false;  // already in m.direct
    std::string error;
  };

  boost::asio::awaitable<Lookup> async_room_for(std::string user);
  boost::asio::awaitable<Fit> async_fit(std::string room_id, std::string user);
  boost::asio::awaitable<std::optional<std::string>> async_membership(std::string room_id, std::string user,
                                                                      bool* is_direct);
  boost::asio::awaitable<Found> async_find_existing(std::string user, bool scan_joined);
  boost::asio::awaitable<bool> async_record_direct(std::string user, std::string add, std::vector<std::string> drop);
  boost::asio::awaitable<void> async_forget(std::string user, std::string room_id);
  void adopt(const std::string& user, const std::string& room_id, bool listed);

  // Per-key single flight (a learner's user id; one key for m.direct):
  // co_await async_lock(k), then a Held releases it when the scope ends.
  boost::asio::awaitable<void> async_lock(std::string key);
  struct Held;

  std::optional<std::string> load(const std::string& key) const;
  void save(const std::string& key, std::string_view value) const;

  std::shared_ptr<MatrixSession> session_;
  // key -> the holder's timer, cancelled (waking the waiters) on release.
  std::shared_ptr<std::map<std::string, std::shared_ptr<boost::asio::steady_timer>>> locks_;
};

// A DirectResult as the port's result: sent with the event id as remote id.
channel::SendResult to_send_result(const DirectResult& r);

// Direct rooms as a learner channel (channel::LearnerPort): the message's
// `to` is the learner's Matrix id, text and html its body. Same executor
// rules as MatrixDirect.
class DirectPort final : public channel::LearnerPort {
public:
  explicit DirectPort(std::shared_ptr<MatrixSession> session) : direct_(std::move(session)) {}

  std::string_view channel() const override { return "matrix"; }
  std::string_view provider() const override { return "matrix"; }
  // Plain text with an HTML body; no read receipts taken as delivery reports.
  channel::Capabilities capabilities() const override { return {channel::Capabilities::Body::rich, false, false, 0}; }
  boost::asio::awaitable<channel::SendResult> send(channel::Message m) override;

  MatrixDirect& direct() { return direct_; }

private:
  MatrixDirect direct_;
};

}  // namespace relance::matrix
