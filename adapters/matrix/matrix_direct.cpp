#include "adapters/matrix/matrix_direct.hpp"

#include "adapters/common/log_privacy.hpp"
#include "adapters/common/retry.hpp"
#include "adapters/common/sleep.hpp"
#include "adapters/matrix/matrix_wire.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace relance::matrix {

namespace asio = boost::asio;
using chat::SendResult;
using nlohmann::json;
using Status = chat::SendResult::Status;
using namespace std::chrono_literals;

namespace {

// JSON is built in plain functions, never as braced temporaries inside a
// coroutine (GCC 12 internal compiler error).
std::string create_body(const std::string& user) { return direct_room_request(user).dump(); }
std::string message_body(const DirectMessage& m) { return direct_message_content(m.body, m.html).dump(); }
std::string updated_direct(const json& current, const std::string& user, const std::string& add,
                           const std::vector<std::string>& drop, bool& changed) {
  json next = direct_updated(current, user, add, drop);
  changed = next != (current.is_object() ? current : json::object());
  return next.dump();
}
json parse_object(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  return j.is_object() ? j : json::object();
}
std::string string_field(const std::string& body, const char* key) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return {};
  return j[key].get<std::string>();
}
std::vector<std::string> joined_rooms_of(const std::string& body, bool& ok) {
  std::vector<std::string> out;
  const json j = json::parse(body, nullptr, false);
  ok = j.is_object() && j.contains("joined_rooms") && j["joined_rooms"].is_array();
  if (ok)
    for (const auto& r : j["joined_rooms"])
      if (r.is_string()) out.push_back(r.get<std::string>());
  return out;
}
// m.room.member content: membership, and whether the invite said is_direct.
std::string membership_of(const std::string& body, bool& is_direct) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return {};
  is_direct = j.contains("is_direct") && j["is_direct"].is_boolean() && j["is_direct"].get<bool>();
  return j.contains("membership") && j["membership"].is_string() ? j["membership"].get<std::string>() : std::string{};
}

std::string direct_path(const std::string& bot) { return "/v3/user/" + encode_segment(bot) + "/account_data/m.direct"; }
std::string member_path(const std::string& room, const std::string& user) {
  return "/v3/rooms/" + encode_segment(room) + "/state/m.room.member/" + encode_segment(user);
}

std::vector<std::string> no_rooms() { return {}; }

bool transient(const CallResult& r) {
  return r.not_logged_in || !r.http.answered() || r.http.status >= 500 || r.http.status == 429;
}

}  // namespace

std::string key_dm(std::string_view user_id) { return std::string(key_dm_prefix) + std::string(user_id); }
std::string key_dm_room(std::string_view room_id) { return std::string(key_dm_room_prefix) + std::string(room_id); }

bool is_direct_room(const chat::Hooks& hooks, std::string_view room_id) {
  if (!hooks.load) return false;
  const auto v = hooks.load(key_dm_room(room_id));
  return v && !v->empty();
}

// Releases a learner's (or m.direct's) turn when the coroutine holding it
// ends, however it ends. It shares the table, so a coroutine frame destroyed
// after its MatrixDirect (the io_context torn down) touches nothing freed.
struct MatrixDirect::Held {
  std::shared_ptr<std::map<std::string, std::shared_ptr<asio::steady_timer>>> table;
  std::string key;
  Held(std::shared_ptr<std::map<std::string, std::shared_ptr<asio::steady_timer>>> t, std::string k)
      : table(std::move(t)), key(std::move(k)) {}
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;
  ~Held() {
    if (auto it = table->find(key); it != table->end()) {
      it->second->cancel();
      table->erase(it);
    }
  }
};

MatrixDirect::MatrixDirect(std::shared_ptr<MatrixSession> session)
    : session_(std::move(session)),
      locks_(std::make_shared<std::map<std::string, std::shared_ptr<asio::steady_timer>>>()) {}

std::optional<std::string> MatrixDirect::load(const std::string& key) const {
  const auto& h = session_->hooks();
  if (!h.load) return std::nullopt;
  auto v = h.load(key);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

void MatrixDirect::save(const std::string& key, std::string_view value) const {
  if (const auto& h = session_->hooks(); h.save) h.save(key, value);
}

asio::awaitable<void> MatrixDirect::async_lock(std::string key) {
  auto table = locks_;
  for (;;) {
    auto it = table->find(key);
    if (it == table->end()) {
      table->emplace(key, std::make_shared<asio::steady_timer>(session_->executor(),
                                                               asio::steady_timer::time_point::max()));
      co_return;
    }
    auto busy = it->second;  // cancelled when its holder is done
    boost::system::error_code ec;
    co_await busy->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<DirectResult> MatrixDirect::send(DirectMessage m) {
  if (!is_user_id(m.user_id))
    co_return DirectResult{Status::failed, {}, {}, std::nullopt, "matrix: not a Matrix user id: '" + m.user_id + "'"};
  if (auto login = co_await session_->async_login(); !login.ok) {
    DirectResult out{Status::retry, {}, {}, std::nullopt, "matrix: not logged in: " + login.error};
    if (login.fatal) out.retry_after = session_->options().auth_retry_after;
    co_return out;
  }
  if (m.user_id == session_->user_id())
    co_return DirectResult{Status::failed, {}, {}, std::nullopt, "matrix: " + m.user_id + " is the bot itself"};

  // One learner at a time: two relaunches racing must not make two rooms.
  co_await async_lock(m.user_id);
  Held turn(locks_, m.user_id);

  auto room = co_await async_room_for(m.user_id);
  if (room.status != Status::sent) {
    spdlog::warn("matrix: outbox {} to {}: {}", m.outbox_id, logs::personal(m.user_id), room.error);
    co_return DirectResult{room.status, room.room_id, {}, room.retry_after, room.error};
  }
  auto r = co_await session_->async_send_event(room.room_id, "m.room.message", txn_for_post(m.outbox_id),
                                               message_body(m));
  if (r.status == Status::sent)
    spdlog::debug("matrix: outbox {} sent to {} in {} as {}", m.outbox_id, logs::personal(m.user_id), room.room_id, r.remote_id);
  else
    spdlog::warn("matrix: outbox {} to {} in {}: {}", m.outbox_id, logs::personal(m.user_id), room.room_id, r.error);
  co_return DirectResult{r.status, room.room_id, r.remote_id, r.retry_after, r.error};
}

asio::awaitable<MatrixDirect::Lookup> MatrixDirect::async_room_for(std::string user) {
  const auto& o = session_->options();
  const std::string unrecorded_key = std::string(key_dm_unrecorded_prefix) + user;
  const std::string creating_key = std::string(key_dm_creating_prefix) + user;

  // 1. The room the store remembers, checked: still usable?
  if (auto saved = load(key_dm(user))) {
    const Fit fit = co_await async_fit(*saved, user);
    if (fit == Fit::unknown)
      co_return Lookup{Status::retry, *saved, std::nullopt, "matrix: could not check the direct room " + *saved};
    if (fit == Fit::usable) {
      // An m.direct update that failed earlier: try again, the send goes on anyway.
      if (load(unrecorded_key) == saved) {
        const bool recorded = co_await async_record_direct(user, *saved, no_rooms());
        if (recorded) save(unrecorded_key, "");
      }
      co_return Lookup{Status::sent, *saved, std::nullopt, {}};
    }
    spdlog::info("matrix: {} is no longer in the direct room {} (or it cannot be used): opening a new one", logs::personal(user),
                 *saved);
    co_await async_forget(user, *saved);
  }

  net::Backoff backoff(o.backoff_initial, o.backoff_cap);
  for (int attempt = 0;; ++attempt) {
    const bool last = attempt + 1 >= std::max(1, o.send_attempts);
    // 2. A DM the bot already has with this user: m.direct, and when an
    // earlier createRoom may have worked unseen, every room the bot is in.
    const bool maybe_created = load(creating_key).has_value();
    auto found = co_await async_find_existing(user, maybe_created);
    if (!found.ok) co_return Lookup{Status::retry, {}, std::nullopt, "matrix: " + found.error};
    if (!found.room_id.empty()) {
      adopt(user, found.room_id, found.listed);
      if (!found.listed) {
        const bool recorded = co_await async_record_direct(user, found.room_id, no_rooms());
        if (recorded) save(unrecorded_key, "");
      }
      co_return Lookup{Status::sent, found.room_id, std::nullopt, {}};
    }

    // 3. A new room. The marker goes first: from here on, an answer that
    // does not come back may hide a room that exists (a txnId cannot help:
    // createRoom has none), and the next attempt, here or after a restart,
    // scans the bot's rooms for one where this user is invited with
    // is_direct before making another.
    //
    // Remaining window: a createRoom the homeserver is still processing
    // when the scan runs (our request timed out, the server had not
    // finished) is not seen yet, and a second room can be made. The backoff
    // before each new attempt narrows it; nothing in the API closes it.
    save(creating_key, "1");
    auto r = co_await session_->async_call(net::Method::post, "/v3/createRoom", create_body(user), true);
    if (r.not_logged_in) {
      Lookup out{Status::retry, {}, std::nullopt, "matrix: not logged in: " + r.error};
      if (r.login_fatal) out.retry_after = o.auth_retry_after;
      co_return out;
    }
    if (r.ok()) {
      const std::string room = string_field(r.http.body, "room_id");
      if (!room.empty()) {
        // Saved before anything else can fail: a crash from here on finds it.
        save(key_dm(user), room);
        save(key_dm_room(room), user);
        save(unrecorded_key, room);
        save(creating_key, "");
        spdlog::info("matrix: opened the direct room {} with {}", room, logs::personal(user));
        const bool recorded = co_await async_record_direct(user, room, no_rooms());
        if (recorded) save(unrecorded_key, "");
        co_return Lookup{Status::sent, room, std::nullopt, {}};
      }
      // A 200 without room_id (a broken proxy): as good as no answer.
      r.http.status = 502;
      r.error = "createRoom answer without room_id";
    }
    if (r.http.status == 429) {
      const auto wait = net::rate_signal(r.http, std::chrono::system_clock::now()).retry_after.value_or(1s);
      // Nothing was made: the next attempt creates without scanning.
      save(creating_key, "");
      if (!last && wait <= o.max_inline_wait) continue;  // the Pacer holds the next call until then
      co_return Lookup{Status::retry, {}, wait, "matrix: createRoom: " + r.describe()};
    }
    if (transient(r)) {
      if (last) co_return Lookup{Status::retry, {}, std::nullopt, "matrix: createRoom: " + r.describe()};
      spdlog::debug("matrix: createRoom for {}: {}, looking for the room before trying again", logs::personal(user), r.describe());
      co_await net::async_sleep(session_->executor(), backoff.next());
      continue;
    }
    if (r.http.status == 401) co_return Lookup{Status::retry, {}, o.auth_retry_after, "matrix: " + r.describe()};
    // 403 (the learner's server refused the invite, invites blocked, the
    // bot may not create rooms), 404 M_NOT_FOUND (no such user), 400: trying
    // again will not help. No learner was invited anywhere: nothing to find.
    save(creating_key, "");
    co_return Lookup{Status::failed, {}, std::nullopt,
                     "matrix: cannot open a direct room with " + user + ": " + r.describe()};
  }
}

asio::awaitable<std::optional<std::string>> MatrixDirect::async_membership(std::string room_id, std::string user,
                                                                           bool* is_direct) {
  // GET of one state event (room_state.yaml): the member's current content.
  auto r = co_await session_->async_call(net::Method::get, member_path(room_id, user), {}, false);
  if (r.ok()) {
    bool direct = false;
    std::string m = membership_of(r.http.body, direct);
    if (is_direct) *is_direct = direct;
    co_return m;
  }
  if (transient(r) || r.http.status == 401) co_return std::nullopt;
  // 404: never a member; 403: the bot cannot see the room (not in it).
  co_return std::string{};
}

asio::awaitable<MatrixDirect::Fit> MatrixDirect::async_fit(std::string room_id, std::string user) {
  // The bot itself: a homeserver may still show a left member the room's
  // state as it was when it left, so the learner's membership alone would
  // not tell that the bot was kicked.
  const auto bot = co_await async_membership(room_id, session_->user_id(), nullptr);
  if (!bot) co_return Fit::unknown;
  if (*bot != "join") co_return Fit::gone;
  const auto learner = co_await async_membership(room_id, user, nullptr);
  if (!learner) co_return Fit::unknown;
  // "invite": not accepted yet; the message waits there for them.
  if (*learner != "join" && *learner != "invite") co_return Fit::gone;
  // Asked every time, not the session's cache: the learner may have turned
  // it on since, and /sync (which would tell) may not run or lag behind.
  auto enc = co_await session_->async_call(
      net::Method::get, "/v3/rooms/" + encode_segment(room_id) + "/state/m.room.encryption", {}, false);
  if (!enc.ok() && enc.http.status != 404) co_return Fit::unknown;
  const bool encrypted = enc.ok();
  session_->set_encrypted(room_id, encrypted);
  if (encrypted) {
    // Someone turned encryption on (the learner has the power to): we could
    // not read the replies, and clear text there is flagged by clients.
    spdlog::warn("matrix: the direct room {} with {} is end-to-end encrypted, which relance does not support", room_id,
                 logs::personal(user));
    co_return Fit::gone;
  }
  co_return Fit::usable;
}

asio::awaitable<MatrixDirect::Found> MatrixDirect::async_find_existing(std::string user, bool scan_joined) {
  Found out;
  auto jr = co_await session_->async_call(net::Method::get, "/v3/joined_rooms", {}, false);
  bool readable = false;
  const auto joined = jr.ok() ? joined_rooms_of(jr.http.body, readable) : std::vector<std::string>{};
  if (!jr.ok() || !readable) {
    out.ok = false;
    out.error = "listing the bot's rooms: " + (jr.ok() ? std::string("unreadable answer") : jr.describe());
    co_return out;
  }
  const std::set<std::string> in(joined.begin(), joined.end());

  auto dr = co_await session_->async_call(net::Method::get, direct_path(session_->user_id()), {}, false);
  if (!dr.ok() && dr.http.status != 404) {  // 404 M_NOT_FOUND: no m.direct yet
    out.ok = false;
    out.error = "reading m.direct: " + dr.describe();
    co_return out;
  }
  const auto listed = dr.ok() ? direct_rooms_of(parse_object(dr.http.body), user) : std::vector<std::string>{};
  bool unsure = false;
  // Newest last in m.direct: prefer it.
  for (auto it = listed.rbegin(); it != listed.rend(); ++it) {
    if (!in.count(*it)) continue;
    const Fit fit = co_await async_fit(*it, user);
    if (fit == Fit::usable) {
      out.room_id = *it;
      out.listed = true;
      co_return out;
    }
    if (fit == Fit::unknown) unsure = true;
  }
  if (scan_joined) {
    for (const auto& room : joined) {
      if (std::find(listed.begin(), listed.end(), room) != listed.end()) continue;
      bool direct = false;
      const auto m = co_await async_membership(room, user, &direct);
      if (!m) {
        unsure = true;
        continue;
      }
      if ((*m != "invite" && *m != "join") || !direct) continue;
      const Fit fit = co_await async_fit(room, user);
      if (fit == Fit::usable) {
        spdlog::info("matrix: found the direct room {} with {} made by an attempt whose answer was lost", room, logs::personal(user));
        out.room_id = room;
        co_return out;
      }
      if (fit == Fit::unknown) unsure = true;
    }
  }
  if (unsure) {
    // A room we could not check may be the one: making another could double it.
    out.ok = false;
    out.error = "could not check the bot's existing rooms with " + user;
  }
  co_return out;
}

void MatrixDirect::adopt(const std::string& user, const std::string& room_id, bool listed) {
  save(key_dm(user), room_id);
  save(key_dm_room(room_id), user);
  save(std::string(key_dm_unrecorded_prefix) + user, listed ? std::string_view{} : std::string_view{room_id});
  save(std::string(key_dm_creating_prefix) + user, "");
  spdlog::info("matrix: using the existing direct room {} with {}", room_id, logs::personal(user));
}

asio::awaitable<bool> MatrixDirect::async_record_direct(std::string user, std::string add,
                                                        std::vector<std::string> drop) {
  // m.direct is one document: PUT replaces it whole. Read, change our
  // entry, write back, one update at a time (two learners' rooms made at
  // once must not erase each other). Another device of the bot's account
  // writing in between can still be lost: the bot has no other device.
  const std::string lock_key = "\nm.direct";  // not a user id: no clash with a learner's turn
  co_await async_lock(lock_key);
  Held turn(locks_, lock_key);
  const std::string path = direct_path(session_->user_id());
  auto r = co_await session_->async_call(net::Method::get, path, {}, false);
  if (!r.ok() && r.http.status != 404) {
    spdlog::warn("matrix: reading m.direct: {} (retried on the next send to {})", r.describe(), logs::personal(user));
    co_return false;
  }
  const json current = r.ok() ? parse_object(r.http.body) : json::object();
  bool changed = false;
  const std::string next = updated_direct(current, user, add, drop, changed);
  if (!changed) co_return true;
  auto w = co_await session_->async_call(net::Method::put, path, next, true);
  if (!w.ok()) {
    spdlog::warn("matrix: updating m.direct: {} (retried on the next send to {})", w.describe(), logs::personal(user));
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> MatrixDirect::async_forget(std::string user, std::string room_id) {
  if (load(key_dm(user)) == room_id) save(key_dm(user), "");
  save(key_dm_room(room_id), "");
  const std::string unrecorded_key = std::string(key_dm_unrecorded_prefix) + user;
  if (load(unrecorded_key) == room_id) save(unrecorded_key, "");
  // Best effort: a stale m.direct entry is checked (and skipped) anyway.
  std::vector<std::string> drop;  // not a braced list: GCC 12 fails on those in a coroutine
  drop.push_back(room_id);
  co_await async_record_direct(user, std::string{}, std::move(drop));
  // Nobody to talk to there any more. Not joined (kicked): 403, nothing to do.
  auto r = co_await session_->async_call(net::Method::post, "/v3/rooms/" + encode_segment(room_id) + "/leave", "{}",
                                         true);
  if (r.ok()) spdlog::info("matrix: left the old direct room {} with {}", room_id, logs::personal(user));
  else spdlog::debug("matrix: leaving the old direct room {}: {}", room_id, r.describe());
}

channel::SendResult to_send_result(const DirectResult& r) {
  switch (r.status) {
    case chat::SendResult::Status::sent: return channel::sent(r.event_id);
    case chat::SendResult::Status::failed: return channel::failed(r.error);
    case chat::SendResult::Status::retry: break;
  }
  return channel::retry(r.error, r.retry_after);
}

boost::asio::awaitable<channel::SendResult> DirectPort::send(channel::Message m) {
  // A named message, not a braced temporary in the co_await (GCC frees
  // such a temporary twice).
  DirectMessage dm{m.outbox_id, std::move(m.to), std::move(m.text), std::move(m.html)};
  const DirectResult r = co_await direct_.send(std::move(dm));
  co_return to_send_result(r);
}

}  // namespace relance::matrix
