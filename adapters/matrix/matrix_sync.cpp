#include "adapters/matrix/matrix_sync.hpp"

#include "adapters/common/log_privacy.hpp"
#include "adapters/common/sleep.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

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

// Membership changes and notices run beside the sync loop, never inline:
// under the homeserver's rate limit a join, a rejected invite or a notice
// can wait for minutes, and /sync (staff commands) must not wait with it.
asio::awaitable<CallResult> membership_call(std::shared_ptr<MatrixSession> session, net::Method method,
                                            std::string path) {
  // Off the loop, it may take its time: a rate-limited leave is tried again
  // until the homeserver takes it (about an hour at most, then logged).
  constexpr int attempts = 60;
  net::Backoff backoff(session->options().backoff_initial, session->options().backoff_cap);
  for (int attempt = 0;; ++attempt) {
    auto r = co_await session->async_call(method, path, "{}", true);
    const bool transient = !r.not_logged_in && (!r.http.answered() || r.http.status >= 500 || r.http.status == 429);
    if (!transient || attempt + 1 >= attempts) co_return r;
    if (r.http.status != 429)  // a 429 is waited out by the Pacer
      co_await net::async_sleep(session->executor(), backoff.next());
  }
}

asio::awaitable<void> handle_invite(std::shared_ptr<MatrixSession> session, Invite invite, bool allowed) {
  if (allowed) {
    auto r = co_await membership_call(session, net::Method::post, join_path(invite.room_id));
    if (!r.ok()) {
      spdlog::error("matrix: could not join {} (invited by {}): {}", invite.room_id, invite.inviter, r.describe());
      co_return;
    }
    spdlog::info("matrix: joined {} (invited by {})", invite.room_id, invite.inviter);
    if (invite.encrypted) co_await session->async_report_encrypted(invite.room_id);
    co_return;
  }
  // Spec "Room membership": rejecting an invite is leaving the room.
  auto r = co_await membership_call(session, net::Method::post, leave_path(invite.room_id));
  if (r.ok())
    spdlog::info("matrix: rejected the invite to {} from {} (not an allowed inviter or room)", invite.room_id,
                 invite.inviter);
  else
    spdlog::warn("matrix: rejecting the invite to {} from {}: {}", invite.room_id, invite.inviter, r.describe());
}

void spawn_report_encrypted(const std::shared_ptr<MatrixSession>& session, const std::string& room_id) {
  asio::co_spawn(
      session->executor(),
      [session, room_id]() -> asio::awaitable<void> { co_await session->async_report_encrypted(room_id); },
      asio::detached);
}

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
      // One warning when syncing starts failing, one line when it works
      // again; the retries in between are only debug.
      auto failing = [&](const std::string& what) {
        if (!failing_since_) {
          failing_since_ = std::chrono::steady_clock::now();
          spdlog::warn("matrix: sync: {}; retrying", what);
        } else {
          spdlog::debug("matrix: sync: {}", what);
        }
      };
      if (r->not_logged_in) {
        if (r->login_fatal) co_return r->error;
        failing("not logged in: " + r->error);
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
          failing("rate limited");
          if (!co_await async_pause(wait ? *wait : backoff_.next())) break;
          continue;
        } else if (r->http.status == 400 || r->http.status == 404) {
          // The filter may be gone (a homeserver reset): make a new one.
          spdlog::warn("matrix: sync refused ({}), recreating the filter", r->describe());
          filter_id_.clear();
          if (hooks.save) hooks.save(key_filter, "");
        } else {
          failing(r->describe());
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
      if (failing_since_) {
        const auto gap = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - *failing_since_);
        spdlog::info("matrix: sync works again after {} s", gap.count());
        failing_since_.reset();
      }
      if (batch.skipped > 0) spdlog::warn("matrix: {} malformed event(s) skipped", batch.skipped);
      const bool delivered = co_await async_handle(batch, initial, since);
      if (!delivered) {
        ++batches_;
        // A learner's message the app could not store: next_batch stays
        // where it was (in memory and in the store), and the same /sync is
        // asked again after a backoff; what was handled is deduped then
        // (and a timeline that comes back `limited` is back-filled).
        spdlog::warn("matrix: a learner's message (or events a limited timeline skipped) could not be handled; "
                     "this batch will be fetched again");
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

asio::awaitable<bool> MatrixSync::async_handle(const SyncBatch& batch, bool initial, const std::string& since) {
  bool delivered = true;
  for (const auto& invite : batch.invites)
    asio::co_spawn(session_->executor(), handle_invite(session_, invite, invite_allowed(invite)), asio::detached);
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
        session_->set_encrypted(room.room_id, true);
        spawn_report_encrypted(session_, room.room_id);
      }
    }
    if (initial) continue;  // old history: nothing to act on
    std::vector<TimelineEvent> timeline;
    if (room.limited && !room.joined_here) {
      // The server left events out (more arrived than the filter's limit,
      // or a long gap): fetch them back to where the last sync stopped, so
      // a command or a learner's message in the gap is not lost. A room we
      // have just joined is limited by its history, not by a gap.
      auto earlier = co_await async_backfill(room.room_id, room.prev_batch, since);
      if (!earlier) {
        delivered = false;  // the same /sync is asked again, and back-filled again
        continue;
      }
      timeline = std::move(*earlier);
    }
    timeline.insert(timeline.end(), room.timeline.begin(), room.timeline.end());
    bool held_back = false;  // a learner's message was not stored: the later ones wait too, in order
    for (const auto& ev : timeline) {
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

asio::awaitable<std::optional<std::vector<TimelineEvent>>> MatrixSync::async_backfill(const std::string& room_id,
                                                                                     const std::string& prev_batch,
                                                                                     const std::string& since) {
  std::vector<TimelineEvent> out;
  if (prev_batch.empty()) {
    spdlog::warn("matrix: {}: limited timeline without prev_batch: events in the gap cannot be fetched", room_id);
    co_return out;
  }
  // message_pagination.yaml: from prev_batch backwards, `to` the token the
  // last sync started from. Pages are bounded: a gap of weeks in a busy
  // room is not worth replaying as commands.
  constexpr int max_pages = 20;
  const std::string filter = backfill_filter().dump();
  std::string from = prev_batch;
  int pages = 0, skipped = 0;
  for (; pages < max_pages && !from.empty(); ++pages) {
    std::string path = "/v3/rooms/" + encode_segment(room_id) + "/messages?dir=b&limit=100&from=" + encode_query(from) +
                       "&filter=" + encode_query(filter);
    if (!since.empty()) path += "&to=" + encode_query(since);
    auto r = co_await async_stoppable_call(net::Method::get, path, {}, session_->options().request_timeout);
    if (!r) co_return std::nullopt;  // stopping
    if (!r->ok()) {
      const bool transient = r->not_logged_in || !r->http.answered() || r->http.status >= 500 || r->http.status == 429;
      spdlog::warn("matrix: {}: back-filling the events the sync skipped: {}{}", room_id, r->describe(),
                   transient ? "; trying again" : "; they are lost");
      if (transient) co_return std::nullopt;
      break;
    }
    const json j = json::parse(r->http.body, nullptr, false);
    auto page = parse_backfill_page(j, session_->user_id());
    skipped += page.skipped;
    out.insert(out.begin(), std::make_move_iterator(page.events.begin()), std::make_move_iterator(page.events.end()));
    from = page.end;
  }
  if (pages == max_pages && !from.empty())
    spdlog::warn("matrix: {}: more than {} pages of events were skipped by the sync; only the latest are read",
                 room_id, max_pages);
  if (skipped > 0) spdlog::warn("matrix: {} malformed event(s) skipped", skipped);
  spdlog::debug("matrix: {}: {} event(s) back-filled after a limited timeline", room_id, out.size());
  co_return out;
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
    spdlog::warn("matrix: message from {} in the learner's room {} dropped: no learner_message hook", logs::personal(m.sender),
                 room_id);
    co_return true;
  }
  // Any msgtype but m.notice: `body` is the text for clients that cannot
  // show the rest (a file's name, an emote's text): still a reply and a
  // sign of life. Not deduped here: the app stores one row per event id.
  // Stored by the app's writer thread; this coroutine waits for it (the
  // I/O thread goes on meanwhile) and resumes on its own executor.
  bool stored = false;
  try {
    const auto ex = co_await asio::this_coro::executor;
    stored = co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
        [&](auto handler) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          hooks.learner_message(chat::Network::matrix, m.sender, room_id, m.event_id, m.body, [h, ex](bool ok) {
            asio::post(ex, [h, ok] { std::move (*h)(ok); });
          });
        },
        asio::use_awaitable);
  } catch (const std::exception& e) {
    spdlog::error("matrix: learner_message for {} in {} failed: {}", m.event_id, room_id, e.what());
  }
  if (stored) spdlog::debug("matrix: message from learner {} in {}", logs::personal(m.sender), room_id);
  else
    spdlog::warn("matrix: message {} from learner {} not stored, it will be fetched again", m.event_id,
                 logs::personal(m.sender));
  co_return stored;
}

namespace {

// A room the configuration names (default_room, a route, allowed_rooms):
// a staff room, private to staff.
bool staff_room(const MatrixConfig& c, const std::string& room_id) {
  if (room_id == c.default_room || std::find(c.allowed_rooms.begin(), c.allowed_rooms.end(), room_id) != c.allowed_rooms.end())
    return true;
  return std::any_of(c.routes.begin(), c.routes.end(), [&](const chat::ChatRoute& r) { return r.target == room_id; });
}

}  // namespace

bool MatrixSync::invite_allowed(const Invite& invite) const {
  const auto& c = session_->config();
  if (!invite.inviter.empty() &&
      std::find(c.allowed_inviters.begin(), c.allowed_inviters.end(), invite.inviter) != c.allowed_inviters.end())
    return true;
  return staff_room(c, invite.room_id);
}

bool MatrixSync::first_time(const std::string& event_id) const {
  const auto& hooks = session_->hooks();
  return !hooks.first_seen || hooks.first_seen("matrix", event_id);
}

chat::Answer MatrixSync::run_command(std::string_view user, const chat::Input& input) const {
  const auto& hooks = session_->hooks();
  if (!hooks.command) return chat::Answer{true, false, {}, std::nullopt};
  try {
    return hooks.command(chat::Network::matrix, user, input);
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
  if (auto enc = co_await session_->async_is_encrypted(room_id); enc && *enc) {
    // The answer may name learners: not in clear in an encrypted room.
    spdlog::warn("matrix: command from {} in encrypted room {} ignored", m.sender, room_id);
    spawn_report_encrypted(session_, room_id);
    co_return;
  }
  if (!staff_room(session_->config(), room_id)) {
    // Answers name learners and show their details: only in the configured
    // staff rooms (a room a staff member invited the bot to, or a learner's
    // direct room, may have other readers). Refused once per event, beside
    // the loop (a rate-limited answer must not hold /sync).
    if (!first_time(m.event_id)) co_return;
    spdlog::warn("matrix: command from {} in {}, which is not a configured staff room: refused", m.sender, room_id);
    asio::co_spawn(
        session_->executor(),
        [session = session_, room_id, root = m.thread_root, event_id = m.event_id]() -> asio::awaitable<void> {
          auto r = co_await session->async_send_event(room_id, "m.room.message", txn_for_reply(event_id),
                                                      reply_json(session->text("matrix.not_staff_room"), root, event_id));
          if (r.status != chat::SendResult::Status::sent) spdlog::warn("matrix: answer in {}: {}", room_id, r.error);
        },
        asio::detached);
    co_return;
  }
  // In the thread the command was typed in, answering it.
  answer_once(m.sender, chat::Typed{*line}, m.event_id, chat::Hooks::AnswerTo{room_id, m.thread_root, m.event_id});
  co_return;
}

asio::awaitable<void> MatrixSync::async_handle_reaction(const std::string& room_id, const Reaction& r) {
  if (!is_claim_key(r.key) || r.target.empty()) co_return;
  const auto& hooks = session_->hooks();
  if (!hooks.case_of_post) co_return;
  const auto case_id = hooks.case_of_post(chat::Network::matrix, r.target);
  if (!case_id) co_return;  // a reaction on anything but an alert
  spdlog::debug("matrix: claim of case {} by {} (reaction)", *case_id, r.sender);
  // The alert is the case's thread root: the confirmation goes there.
  const auto answer = answer_once(r.sender, ClaimCmd{*case_id}, r.event_id,
                                  chat::Hooks::AnswerTo{room_id, r.target, r.target});
  // With command_once the app refreshes the alert itself after the claim.
  if (!answer || !answer->ok || hooks.command_once || !hooks.alert_status) co_return;
  auto edit = hooks.alert_status(chat::Network::matrix, *case_id);
  if (!edit) co_return;
  if (edit->destination.empty()) edit->destination = room_id;
  if (edit->remote_id.empty()) edit->remote_id = r.target;
  asio::co_spawn(
      session_->executor(),
      [session = session_, edit = std::move(*edit), case_id = *case_id]() -> asio::awaitable<void> {
        auto sent = co_await session->async_send_event(edit.destination, "m.room.message", txn_for_edit(edit),
                                                       edit_json(edit, session->text("matrix.claim_hint")));
        if (sent.status != chat::SendResult::Status::sent)
          spdlog::warn("matrix: updating the alert of case {}: {}", case_id, sent.error);
      },
      asio::detached);
}

std::optional<chat::Answer> MatrixSync::answer_once(const std::string& user, const chat::Input& input,
                                                    const std::string& event_id, const chat::Hooks::AnswerTo& to) {
  const auto& hooks = session_->hooks();
  spdlog::debug("matrix: command from {} in {}", user, to.room);
  if (hooks.command_once) {
    // Seen, run and answered (queued in the outbox) in one transaction.
    try {
      return hooks.command_once(chat::Network::matrix, user, input, event_id, to);
    } catch (const std::exception& e) {
      spdlog::error("matrix: command from {} failed: {}", user, e.what());
      return std::nullopt;
    }
  }
  // Dedupe only what is acted upon: the store keeps one row per id.
  if (!first_time(event_id)) return std::nullopt;
  auto answer = run_command(user, input);
  if (!answer.text.empty()) {
    // Sent beside the loop: a rate-limited answer must not hold /sync.
    asio::co_spawn(
        session_->executor(),
        [session = session_, to, event_id, text = answer.text]() -> asio::awaitable<void> {
          auto r = co_await session->async_send_event(to.room, "m.room.message", txn_for_reply(event_id),
                                                      reply_json(text, to.thread_root, to.reply_to));
          if (r.status != chat::SendResult::Status::sent) spdlog::warn("matrix: answer in {}: {}", to.room, r.error);
        },
        asio::detached);
  }
  return answer;
}

}  // namespace relance::matrix
