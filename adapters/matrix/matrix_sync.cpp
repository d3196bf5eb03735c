#include "adapters/matrix/matrix_sync.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace relance::matrix {

namespace asio = boost::asio;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The detached half of a stoppable call: it owns what it needs (the session,
// the result slot, the wake-up timer), so the loop can stop without waiting
// for a 30 s long-poll to end.
asio::awaitable<void> call_into(std::shared_ptr<MatrixSession> session, std::shared_ptr<std::optional<CallResult>> slot,
                                std::shared_ptr<asio::steady_timer> wake, net::Method method, std::string path,
                                std::string body, std::chrono::milliseconds timeout) {
  try {
    *slot = co_await session->async_call(method, std::move(path), std::move(body), false, timeout);
  } catch (const std::exception& e) {
    CallResult failed;
    failed.http.failure = net::Failure::receive;
    failed.http.error = e.what();
    *slot = std::move(failed);
  }
  wake->cancel();
}

std::string filter_body() { return sync_filter().dump(); }

std::string join_path(std::string_view room_id) { return "/v3/join/" + encode_segment(room_id); }
std::string leave_path(std::string_view room_id) { return "/v3/rooms/" + encode_segment(room_id) + "/leave"; }

std::string reply_json(std::string_view text, std::string_view thread_root, std::string_view in_reply_to) {
  return notice_content(text, thread_root, in_reply_to).dump();
}

std::string edit_json(const chat::Edit& e, const std::string& hint) { return edit_content(e, hint).dump(); }

std::string sender_of(const TimelineEvent& e) {
  return std::visit([](const auto& x) { return x.sender; }, e);
}
std::string id_of(const TimelineEvent& e) {
  return std::visit([](const auto& x) { return x.event_id; }, e);
}

}  // namespace

MatrixSync::MatrixSync(std::shared_ptr<MatrixSession> session)
    : session_(std::move(session)), backoff_(session_->options().backoff_initial, session_->options().backoff_cap) {}

void MatrixSync::stop() {
  stopping_ = true;
  if (wake_) wake_->cancel();
}

asio::awaitable<bool> MatrixSync::async_pause(std::chrono::milliseconds d) {
  if (stopping_) co_return false;
  auto timer = std::make_shared<asio::steady_timer>(session_->executor(), d);
  wake_ = timer;
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !stopping_;
}

asio::awaitable<std::optional<CallResult>> MatrixSync::async_stoppable_call(net::Method method, std::string path,
                                                                            std::string body,
                                                                            std::chrono::milliseconds timeout) {
  if (stopping_) co_return std::nullopt;
  auto slot = std::make_shared<std::optional<CallResult>>();
  auto wake = std::make_shared<asio::steady_timer>(session_->executor(), asio::steady_timer::time_point::max());
  wake_ = wake;
  asio::co_spawn(session_->executor(),
                 call_into(session_, slot, wake, method, std::move(path), std::move(body), timeout), asio::detached);
  boost::system::error_code ec;
  co_await wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (stopping_ || !*slot) co_return std::nullopt;
  co_return std::move(**slot);
}

asio::awaitable<std::string> MatrixSync::async_filter_id() {
  const auto& hooks = session_->hooks();
  const std::string body = filter_body();
  // The id is only good for this user and this filter.
  const std::string fingerprint = stable_hash(session_->user_id() + "\n" + body);
  if (hooks.load)
    if (auto saved = hooks.load(key_filter)) {
      const auto sp = saved->find(' ');
      if (sp != std::string::npos && saved->substr(0, sp) == fingerprint && sp + 1 < saved->size())
        co_return saved->substr(sp + 1);
    }
  auto r = co_await async_stoppable_call(net::Method::post, "/v3/user/" + encode_segment(session_->user_id()) + "/filter",
                                         body, session_->options().request_timeout);
  if (!r) co_return std::string{};
  if (!r->ok()) {
    spdlog::warn("matrix: creating the sync filter: {}", r->describe());
    co_return std::string{};
  }
  const json j = json::parse(r->http.body, nullptr, false);
  if (!j.is_object() || !j.contains("filter_id") || !j["filter_id"].is_string()) co_return std::string{};
  std::string id = j["filter_id"].get<std::string>();
  if (hooks.save) hooks.save(key_filter, fingerprint + " " + id);
  co_return id;
}

asio::awaitable<std::string> MatrixSync::async_run() {
  try {
    backoff_.reset();
    // Log in (and keep trying while the homeserver cannot be reached).
    while (!stopping_) {
      auto login = co_await session_->async_login();
      if (login.ok) break;
      if (login.fatal) co_return login.error;
      if (!co_await async_pause(backoff_.next())) co_return std::string{};
    }
    const auto& hooks = session_->hooks();
    std::string since;
    if (hooks.load)
      if (auto saved = hooks.load(key_next_batch)) since = *saved;
    const auto& o = session_->options();

    while (!stopping_) {
      if (filter_id_.empty()) {
        filter_id_ = co_await async_filter_id();
        if (stopping_) break;
        if (filter_id_.empty()) {
          if (!co_await async_pause(backoff_.next())) break;
          continue;
        }
      }
      const bool initial = since.empty();
      std::string path = "/v3/sync?filter=" + encode_query(filter_id_);
      // An initial sync answers at once; then a long-poll (spec: timeout in ms).
      path += "&timeout=" + std::to_string(initial ? 0 : o.sync_timeout.count());
      if (!initial) path += "&since=" + encode_query(since);
      auto r = co_await async_stoppable_call(net::Method::get, path, {}, o.sync_timeout + o.sync_slack);
      if (!r) break;
      if (r->not_logged_in) {
        if (r->login_fatal) co_return r->error;
        if (!co_await async_pause(backoff_.next())) break;
        continue;
      }
      if (!r->ok()) {
        if (r->http.status == 401) {
          // The session already tried a new login; without a password, an
          // administrator must act.
          if (!session_->fatal_error().empty()) co_return session_->fatal_error();
        } else if (r->http.status == 429) {
          const auto wait = net::rate_signal(r->http, std::chrono::system_clock::now()).retry_after;
          spdlog::warn("matrix: sync rate limited");
          if (!co_await async_pause(wait ? *wait : backoff_.next())) break;
          continue;
        } else if (r->http.status == 400 || r->http.status == 404) {
          // The filter may be gone (a homeserver reset): make a new one.
          spdlog::warn("matrix: sync refused ({}), recreating the filter", r->describe());
          filter_id_.clear();
          if (hooks.save) hooks.save(key_filter, "");
        } else {
          spdlog::warn("matrix: sync: {}", r->describe());
        }
        if (!co_await async_pause(backoff_.next())) break;
        continue;
      }
      SyncBatch batch;
      bool readable = true;
      try {
        batch = parse_sync(json::parse(r->http.body), session_->user_id());
      } catch (const std::exception& e) {
        spdlog::warn("matrix: unreadable sync answer: {}", e.what());
        readable = false;
      }
      if (!readable) {
        if (!co_await async_pause(backoff_.next())) break;
        continue;
      }
      if (batch.skipped > 0) spdlog::warn("matrix: {} malformed event(s) skipped", batch.skipped);
      const bool delivered = co_await async_handle(batch, initial);
      if (!delivered) {
        ++batches_;
        // A learner's message the app could not store: next_batch stays
        // where it was (in memory and in the store), and the same /sync is
        // asked again after a backoff; what was handled is deduped then.
        // (A gap so long that its room's timeline comes back `limited` would
        // still skip older events; see async_handle.)
        spdlog::warn("matrix: a learner's message could not be stored; this batch will be fetched again");
        if (!co_await async_pause(backoff_.next())) break;
        continue;
      }
      // Saved only once handled: a crash in between replays the batch, and
      // first_seen keeps its events from running twice.
      since = batch.next_batch;
      if (hooks.save) hooks.save(key_next_batch, since);
      ++batches_;
      backoff_.reset();
    }
    co_return std::string{};
  } catch (const std::exception& e) {
    spdlog::error("matrix: sync loop stopped: {}", e.what());
    co_return std::string("matrix sync: ") + e.what();
  }
}

asio::awaitable<bool> MatrixSync::async_handle(const SyncBatch& batch, bool initial) {
  bool delivered = true;
  for (const auto& invite : batch.invites) co_await async_handle_invite(invite);
  for (const auto& room : batch.joined) {
    const auto learner = learner_room(room.room_id);
    if (!learner) {
      // Cannot tell where its messages go: leave them for the next try.
      delivered = false;
      continue;
    }
    if (room.encrypted) {
      if (*learner) {
        // The staff notice about encryption is not for a learner: only
        // remembered, so MatrixDirect opens a new, unencrypted room.
        session_->set_encrypted(room.room_id, true);
        spdlog::warn("matrix: the learner's direct room {} is end-to-end encrypted: its messages cannot be read",
                     room.room_id);
      } else {
        co_await session_->async_report_encrypted(room.room_id);
      }
    }
    if (initial) continue;  // old history: nothing to act on
    if (room.limited)
      // Not back-filled (GET /messages): after a long outage, older commands
      // are stale anyway; staff repeat what they still want. In a learner's
      // room, more than a timeline's worth of messages in one gap is lost
      // the same way (50 messages, sync_filter).
      spdlog::warn("matrix: {}: the server skipped older events (limited timeline); messages sent during "
                   "the gap were not seen",
                   room.room_id);
    bool held_back = false;  // a learner's message was not stored: the later ones wait too, in order
    for (const auto& ev : room.timeline) {
      const std::string sender = sender_of(ev);
      const std::string id = id_of(ev);
      if (sender == session_->user_id() || id.empty()) continue;  // our own echo
      if (const auto* m = std::get_if<Message>(&ev)) {
        if (*learner) {
          if (held_back || !co_await async_handle_learner_message(room.room_id, *m)) held_back = true;
        } else {
          co_await async_handle_message(room.room_id, *m);
        }
      } else if (const auto* r = std::get_if<Reaction>(&ev); r && !*learner) {
        co_await async_handle_reaction(room.room_id, *r);
      }
    }
    if (held_back) delivered = false;
  }
  co_return delivered;
}

std::optional<bool> MatrixSync::learner_room(const std::string& room_id) const {
  const auto& hooks = session_->hooks();
  if (!hooks.is_learner_room) return false;
  try {
    return hooks.is_learner_room(chat::Network::matrix, room_id);
  } catch (const std::exception& e) {
    spdlog::error("matrix: is_learner_room({}) failed: {}", room_id, e.what());
    return std::nullopt;
  }
}

asio::awaitable<bool> MatrixSync::async_handle_learner_message(const std::string& room_id, const Message& m) {
  // An edit repeats a text already delivered; a notice is another bot's.
  if (m.is_edit || m.msgtype == "m.notice") co_return true;
  const auto& c = session_->config();
  if (command_line(m.body, c.command_prefix) &&
      std::find(c.allowed_inviters.begin(), c.allowed_inviters.end(), m.sender) != c.allowed_inviters.end()) {
    // A staff member in the learner's room: a command, as anywhere.
    co_await async_handle_message(room_id, m);
    co_return true;
  }
  const auto& hooks = session_->hooks();
  if (!hooks.learner_message) {
    spdlog::warn("matrix: message from {} in the learner's room {} dropped: no learner_message hook", m.sender,
                 room_id);
    co_return true;
  }
  // Any msgtype but m.notice: `body` is the text for clients that cannot
  // show the rest (a file's name, an emote's text): still a reply and a
  // sign of life. Not deduped here: the app stores one row per event id.
  bool stored = false;
  try {
    stored = hooks.learner_message(chat::Network::matrix, m.sender, room_id, m.event_id, m.body);
  } catch (const std::exception& e) {
    spdlog::error("matrix: learner_message for {} in {} failed: {}", m.event_id, room_id, e.what());
  }
  if (stored) spdlog::info("matrix: message from learner {} in {}", m.sender, room_id);
  else spdlog::warn("matrix: message {} from learner {} not stored, it will be fetched again", m.event_id, m.sender);
  co_return stored;
}

namespace {

// A room the configuration names (default_room, a route, allowed_rooms):
// a staff room, private to staff.
bool staff_room(const app::MatrixConfig& c, const std::string& room_id) {
  if (room_id == c.default_room || std::find(c.allowed_rooms.begin(), c.allowed_rooms.end(), room_id) != c.allowed_rooms.end())
    return true;
  return std::any_of(c.routes.begin(), c.routes.end(), [&](const app::ChatRoute& r) { return r.target == room_id; });
}

}  // namespace

bool MatrixSync::invite_allowed(const Invite& invite) const {
  const auto& c = session_->config();
  if (!invite.inviter.empty() &&
      std::find(c.allowed_inviters.begin(), c.allowed_inviters.end(), invite.inviter) != c.allowed_inviters.end())
    return true;
  return staff_room(c, invite.room_id);
}

asio::awaitable<CallResult> MatrixSync::async_membership_call(net::Method method, std::string path) {
  net::Backoff backoff(session_->options().backoff_initial, session_->options().backoff_cap);
  for (int attempt = 0;; ++attempt) {
    auto r = co_await session_->async_call(method, path, "{}", true);
    const bool transient = !r.not_logged_in && (!r.http.answered() || r.http.status >= 500 || r.http.status == 429);
    if (!transient || attempt + 1 >= std::max(1, session_->options().send_attempts) || stopping_) co_return r;
    if (r.http.status != 429) {  // a 429 is waited out by the Pacer
      boost::system::error_code ec;
      asio::steady_timer t(session_->executor(), backoff.next());
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
}

asio::awaitable<void> MatrixSync::async_handle_invite(const Invite& invite) {
  if (invite_allowed(invite)) {
    auto r = co_await async_membership_call(net::Method::post, join_path(invite.room_id));
    if (!r.ok()) {
      spdlog::error("matrix: could not join {} (invited by {}): {}", invite.room_id, invite.inviter, r.describe());
      co_return;
    }
    spdlog::info("matrix: joined {} (invited by {})", invite.room_id, invite.inviter);
    if (invite.encrypted) co_await session_->async_report_encrypted(invite.room_id);
    co_return;
  }
  // Spec "Room membership": rejecting an invite is leaving the room.
  auto r = co_await async_membership_call(net::Method::post, leave_path(invite.room_id));
  if (r.ok())
    spdlog::info("matrix: rejected the invite to {} from {} (not an allowed inviter or room)", invite.room_id,
                 invite.inviter);
  else
    spdlog::warn("matrix: rejecting the invite to {} from {}: {}", invite.room_id, invite.inviter, r.describe());
}

bool MatrixSync::first_time(const std::string& event_id) const {
  const auto& hooks = session_->hooks();
  return !hooks.first_seen || hooks.first_seen("matrix", event_id);
}

chat::Answer MatrixSync::run_command(std::string_view user, std::string_view line) const {
  const auto& hooks = session_->hooks();
  if (!hooks.command) return chat::Answer{true, false, {}, std::nullopt};
  try {
    return hooks.command(chat::Network::matrix, user, line);
  } catch (const std::exception& e) {
    spdlog::error("matrix: command from {} failed: {}", user, e.what());
    return chat::Answer{true, false, {}, std::nullopt};
  }
}

asio::awaitable<void> MatrixSync::async_handle_message(const std::string& room_id, const Message& m) {
  // Edits arrive as new events: never a new command (NOTES "Edits"). Notices
  // are other bots' output.
  if (m.is_edit || m.msgtype != "m.text") co_return;
  auto line = command_line(m.body, session_->config().command_prefix);
  if (!line) co_return;
  // Dedupe only what is acted upon: the store keeps one row per id.
  if (!first_time(m.event_id)) co_return;
  if (auto enc = co_await session_->async_is_encrypted(room_id); enc && *enc) {
    // The answer may name learners: not in clear in an encrypted room.
    spdlog::warn("matrix: command from {} in encrypted room {} ignored", m.sender, room_id);
    co_await session_->async_report_encrypted(room_id);
    co_return;
  }
  if (!staff_room(session_->config(), room_id)) {
    // Answers name learners and show their details: only in the configured
    // staff rooms (a room a staff member invited the bot to, or a learner's
    // direct room, may have other readers).
    spdlog::warn("matrix: command from {} in {}, which is not a configured staff room: refused", m.sender, room_id);
    co_await async_reply(room_id, m.thread_root, m.event_id, m.event_id, session_->text("matrix.not_staff_room"));
    co_return;
  }
  spdlog::info("matrix: command from {} in {}", m.sender, room_id);
  const auto answer = run_command(m.sender, *line);
  if (answer.text.empty()) co_return;
  co_await async_reply(room_id, m.thread_root, m.event_id, m.event_id, answer.text);
}

asio::awaitable<void> MatrixSync::async_handle_reaction(const std::string& room_id, const Reaction& r) {
  if (!is_claim_key(r.key) || r.target.empty()) co_return;
  const auto& hooks = session_->hooks();
  if (!hooks.case_of_post) co_return;
  const auto case_id = hooks.case_of_post(chat::Network::matrix, r.target);
  if (!case_id) co_return;  // a reaction on anything but an alert
  if (!first_time(r.event_id)) co_return;
  spdlog::info("matrix: claim of case {} by {} (reaction)", *case_id, r.sender);
  const auto answer = run_command(r.sender, "prendre " + std::to_string(*case_id));
  // The alert is the case's thread root.
  if (!answer.text.empty()) co_await async_reply(room_id, r.target, r.target, r.event_id, answer.text);
  if (!answer.ok || !hooks.alert_status) co_return;
  auto edit = hooks.alert_status(chat::Network::matrix, *case_id);
  if (!edit) co_return;
  if (edit->destination.empty()) edit->destination = room_id;
  if (edit->remote_id.empty()) edit->remote_id = r.target;
  const std::string txn = txn_for_edit(*edit);
  auto sent = co_await session_->async_send_event(edit->destination, "m.room.message", txn,
                                                  edit_json(*edit, session_->text("matrix.claim_hint")));
  if (sent.status != chat::SendResult::Status::sent)
    spdlog::warn("matrix: updating the alert of case {}: {}", *case_id, sent.error);
}

asio::awaitable<void> MatrixSync::async_reply(std::string room_id, std::string thread_root, std::string in_reply_to,
                                              std::string txn_key, std::string text) {
  auto r = co_await session_->async_send_event(room_id, "m.room.message", txn_for_reply(txn_key),
                                               reply_json(text, thread_root, in_reply_to));
  if (r.status != chat::SendResult::Status::sent) spdlog::warn("matrix: answer in {}: {}", room_id, r.error);
}

}  // namespace relance::matrix
