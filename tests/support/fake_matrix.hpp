// A fake Matrix homeserver, in process, following the client-server API of
// ../shared/specs/matrix (release v1.19) and its NOTES.md, for the subset a
// bot uses: versions, login, whoami, filters, /sync as a real long-poll
// (joined rooms, invites, leaves, global account data), join/leave/invite,
// createRoom (is_direct, invite, preset, initial_state; invitees checked: an
// unknown local user is 404 M_NOT_FOUND, one refusing invites 403
// M_FORBIDDEN), send and redact with txnId
// idempotency, state, event fetch with the thread aggregation, relations, /messages
// back-fill, global account data (GET/PUT, m.direct included: PUT replaces it
// whole, GET of a type never set is 404 M_NOT_FOUND), room account data
// (GET/PUT only; not delivered through /sync).
// Errors are the standard error response ({"errcode","error"}, spec
// "Standard error response"); rate limiting answers 429 M_LIMIT_EXCEEDED with
// both `retry_after_ms` and `Retry-After` (spec "Rate limiting", v1.10), from
// a token bucket per user with Synapse's stock rc_message (0.2/s, burst 10;
// tests run it at scaled rates so they take seconds).
// A /sync timeline with more new events than the filter's `limit` is
// `limited` with a prev_batch; GET /messages back-fills from it, backwards,
// and stops at `to` (a token from /sync) when given.
// set_down() makes the whole server unreachable (502 from its proxy,
// connections dropped, or requests never answered) and back; fail_next can
// also leave chosen requests unanswered (Fault::hang).
//
// Tests play the other users through the hooks below (as if their own
// clients had sent the events) and read back what the client did.
//
// Choices where the spec leaves room (Synapse's way unless said):
// - a login with a known device_id revokes that device's older tokens;
// - txnId scope = user + device + the decoded path; only successes are
//   cached, and a retransmission is answered before the rate limit;
// - empty /sync sections are left out; a long-poll ends only on data that
//   passes the filter; `state` of a limited or newly joined room is the
//   current state less what the timeline carries (not the state at its start);
// - only m.thread is aggregated (on GET /event), never m.annotation (spec
//   v1.7+), though NOTES saw Synapse bundle reactions there.
// Not there yet: E2EE endpoints, typing/receipts (ephemeral), presence, room
// account data in /sync, power levels (never enforced), kick/ban endpoints,
// event_fields and lazy-loading in filters, refresh tokens and soft logout,
// media, profiles, GET of the whole state and of members, the threads list
// (GET of one state event is there).
#pragma once

#include "fake_http_server.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace relance::test {

class FakeMatrix {
public:
  static constexpr const char* default_server_name = "fake.test";

  explicit FakeMatrix(std::string server_name = default_server_name);
  ~FakeMatrix();
  FakeMatrix(const FakeMatrix&) = delete;
  FakeMatrix& operator=(const FakeMatrix&) = delete;

  std::string url() const { return server_.url(); }  // the homeserver base URL
  const std::string& server_name() const { return server_name_; }
  FakeHttpServer& server() { return server_; }
  std::string user_id(const std::string& localpart) const;  // "@localpart:server"

  // --- accounts ---
  // Registers a user who can log in with a password. Returns the user id.
  std::string add_user(const std::string& localpart, const std::string& password);
  // A pre-provisioned access token (what an admin hands out instead of a password).
  void add_access_token(const std::string& user_id, const std::string& device_id, const std::string& token);
  // The token stops working (logged out elsewhere): 401 M_UNKNOWN_TOKEN.
  void revoke_token(const std::string& token);

  // --- the other side: what other users' clients do ---
  struct RoomOptions {
    std::string name{};
    std::string alias_localpart{};     // "#alias:server" when set
    bool is_public = false;            // join_rules public (else invite)
    bool encrypted = false;            // m.room.encryption in the initial state
    std::vector<std::string> members{};  // joined straight away (besides the creator)
  };
  std::string create_room(const std::string& creator, const RoomOptions& options);
  void join(const std::string& user, const std::string& room_id);
  // The invited user's client accepts (throws std::logic_error when not invited).
  void accept_invite(const std::string& user, const std::string& room_id);
  void leave(const std::string& user, const std::string& room_id);
  // From now on invites to `user` are refused: POST /invite and createRoom
  // with them in `invite` answer 403 M_FORBIDDEN (their server blocks invites).
  void refuse_invites(const std::string& user, bool refuse = true);
  void invite(const std::string& inviter, const std::string& room_id, const std::string& invitee,
              bool is_direct = false);
  // A new room made by `inviter` who invites `invitee` (a DM when is_direct,
  // marked in the inviter's m.direct as Element does). Returns the room id.
  std::string invite_to_new_room(const std::string& inviter, const std::string& invitee, bool is_direct = false,
                                 bool encrypted = false);
  // Any event, as `sender`. Returns the event id. Throws std::logic_error
  // when the sender may not send there (a test bug, not a protocol case).
  std::string send_event(const std::string& room_id, const std::string& sender, const std::string& type,
                         nlohmann::json content);
  std::string send_state(const std::string& room_id, const std::string& sender, const std::string& type,
                         const std::string& state_key, nlohmann::json content);
  std::string send_text(const std::string& room_id, const std::string& sender, const std::string& body);
  // m.reaction, m.relates_to {rel_type: m.annotation, event_id, key} (spec "Event annotations").
  std::string react(const std::string& room_id, const std::string& sender, const std::string& target_event_id,
                    const std::string& key);
  // A threaded reply as Element sends it: rel_type m.thread to the root,
  // is_falling_back and m.in_reply_to the latest event (spec "Threading").
  std::string reply_in_thread(const std::string& room_id, const std::string& sender, const std::string& root_event_id,
                              const std::string& body, const std::string& in_reply_to = {});
  // m.room.encryption state (megolm): the room is end-to-end encrypted from now on.
  std::string enable_encryption(const std::string& room_id, const std::string& sender);
  // An m.room.encrypted event a bot without E2EE cannot read.
  std::string send_encrypted(const std::string& room_id, const std::string& sender);
  // m.room.redaction of `event_id` (how a reaction is taken back, NOTES "Traps").
  std::string redact(const std::string& room_id, const std::string& sender, const std::string& event_id);
  void set_account_data(const std::string& user, const std::string& type, nlohmann::json content);

  // --- faults ---
  struct RateLimit {
    double per_second = 0.2;     // stock Synapse rc_message (NOTES "Observed")
    int burst = 10;
    bool all_endpoints = false;  // else: send, state, createRoom, join, invite, leave, login
  };
  void set_rate_limit(std::optional<RateLimit> limit);  // nullopt: none (the default)
  // The next `count` requests whose path contains `path_contains` get 429
  // M_LIMIT_EXCEEDED with this delay, whatever the bucket says.
  // `method` ("PUT", ...): only requests with it ("" = any).
  void limit_next(int count, std::chrono::milliseconds retry_after, std::string path_contains = {},
                  std::string method = {});
  enum class Fault {
    bad_gateway,           // 502 with a reverse proxy's HTML page (nginx)
    drop,                  // the connection closes, no answer
    drop_after_processing,  // the request takes effect, then the connection closes unanswered
    hang                    // never answered (a stuck server): the client's timeout ends it
  };
  void fail_next(int count, Fault fault, std::string path_contains = {}, std::string method = {});
  // The homeserver is down behind its proxy: every request (long-polls
  // already held excepted) fails this way until set_down(nullopt).
  void set_down(std::optional<Fault> fault);
  // Forgets what fail_next and limit_next still had to do.
  void clear_faults();

  // --- what happened ---
  struct SentEvent {  // every PUT .../send that created an event
    std::string room_id, event_id, type, txn_id, sender, device_id;
    nlohmann::json content;
  };
  std::vector<SentEvent> sent_events() const;
  // PUT .../send requests answered from the transaction cache (retransmissions).
  int retransmissions() const;
  struct Join {
    std::string user_id, room_id, via;  // via: the path used
  };
  std::vector<Join> joins() const;
  // The room's timeline, every event in order (client format, with room_id).
  std::vector<nlohmann::json> room_events(const std::string& room_id) const;
  std::optional<nlohmann::json> event(const std::string& event_id) const;
  std::vector<std::string> room_ids() const;
  // "join", "invite", "leave" or "" (never a member).
  std::string membership(const std::string& room_id, const std::string& user) const;
  // The rooms where `user` has this membership, in creation order.
  std::vector<std::string> rooms_of(const std::string& user, const std::string& membership = "join") const;
  bool is_encrypted(const std::string& room_id) const;
  std::optional<nlohmann::json> account_data(const std::string& user, const std::string& type) const;
  std::vector<nlohmann::json> filters(const std::string& user) const;
  int rate_limited_count() const;  // 429s answered so far
  // /sync requests being held right now (long-polls waiting).
  int waiting_syncs() const;

  struct State;  // public so the helpers of the .cpp can name it

private:
  FakeResponse handle(const FakeRequest& req);
  void notify_syncs();

  std::string server_name_;
  std::unique_ptr<State> state_;
  FakeHttpServer server_;  // last: its thread starts once the rest exists, stops first
};

}  // namespace relance::test
