// The inbound side of Matrix: the /sync long-poll loop (spec "Syncing").
//
// - A filter created once (POST /user/{id}/filter), its id kept in the store.
// - next_batch saved after each handled batch: a restart resumes where it
//   stopped. The very first start does an initial sync and acts on none of
//   the old history (pending invites and encryption are still handled).
// - Commands and claims deduped by event_id (source "matrix"; only events
//   acted upon are recorded); the bot's own events ignored.
// - Nothing that may wait on the homeserver's rate limit runs inline: joins,
//   rejected invites (leave), notices and answers go beside the loop, so
//   /sync keeps being read while they wait.
// - Invites joined when they come from `allowed_inviters` or are to an
//   allowed or routed room; others rejected (leave).
// - "!relance prendre 42" (command_prefix) -> Hooks::command_once: marked
//   seen, run, and its answer (an m.notice in the same room, in the thread
//   when the command was in one) queued in the outbox, in one transaction:
//   a crash never leaves a command unanswered, and the dispatcher sends
//   answers before queued alerts. Without command_once: first_seen, command
//   and the answer sent by the adapter.
// - ✋ or ✅ on an alert (Hooks::case_of_post) -> "prendre <case>", answered
//   in the case's thread; the app then edits the alert (after_command).
// - A `limited` timeline (more events than the filter's limit since the
//   last sync) is back-filled: GET /rooms/{id}/messages from its prev_batch
//   back to the previous since token (or our own join), and those events
//   are handled first, in order. A room just joined is limited by its
//   history, not by a gap: nothing is fetched.
// - Encrypted rooms: a warning and, once per room, a plain notice.
// - Learners' direct rooms (Hooks::is_learner_room, see MatrixDirect): their
//   messages go to Hooks::learner_message, never to the command parser (no
//   "not staff" answer to a learner); only a command line from a configured
//   staff id (allowed_inviters) is still run there. Not deduped here: the
//   event id is the app's dedupe key. When learner_message reports false
//   (not stored), next_batch is not advanced: the same /sync is asked
//   again after a backoff (and after a restart), so the event comes back;
//   the rest of that batch is replayed too, and its commands and claims are
//   kept from running twice by first_seen. Reactions there are ignored.
// - Failures (502, dropped connection, 429): backoff with jitter, Retry-After
//   honoured; one warning when syncing starts failing, one info line when it
//   works again. stop() ends run() at once, even in the middle of a long-poll.
#pragma once

#include "adapters/common/retry.hpp"
#include "adapters/matrix/matrix_session.hpp"
#include "adapters/matrix/matrix_wire.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace relance::matrix {

class MatrixSync {
public:
  explicit MatrixSync(std::shared_ptr<MatrixSession> session);
  MatrixSync(const MatrixSync&) = delete;
  MatrixSync& operator=(const MatrixSync&) = delete;

  // Logs in, then syncs until stop() (returns "") or a login problem an
  // administrator must fix (returns it: wrong password, token refused with
  // no password, user id mismatch). The object must outlive the coroutine.
  boost::asio::awaitable<std::string> async_run();
  // Ends async_run() soon: the pending long-poll is abandoned (it ends on its
  // own deadline in the background). Call on the session's executor.
  void stop();

  bool stopping() const { return stopping_; }
  int batches() const { return batches_; }  // /sync answers handled so far

private:
  boost::asio::awaitable<std::optional<CallResult>> async_stoppable_call(net::Method method, std::string path,
                                                                         std::string body,
                                                                         std::chrono::milliseconds timeout);
  boost::asio::awaitable<bool> async_pause(std::chrono::milliseconds d);  // false: stopped
  boost::asio::awaitable<std::string> async_filter_id();                  // "" on failure
  // false: something could not be delivered (learner_message said so); the
  // batch must be asked for again.
  boost::asio::awaitable<bool> async_handle(const SyncBatch& batch, bool initial, const std::string& since);
  // The events a limited timeline left out, oldest first, back to `since`
  // (or to our own join); nullopt when they could not be fetched yet.
  boost::asio::awaitable<std::optional<std::vector<TimelineEvent>>> async_backfill(const std::string& room_id,
                                                                                  const std::string& prev_batch,
                                                                                  const std::string& since);
  boost::asio::awaitable<void> async_handle_message(const std::string& room_id, const Message& m);
  // false: not stored by the app, to be delivered again.
  boost::asio::awaitable<bool> async_handle_learner_message(const std::string& room_id, const Message& m);
  boost::asio::awaitable<void> async_handle_reaction(const std::string& room_id, const Reaction& r);
  // Runs a command once per event and has it answered (Hooks::command_once,
  // or first_seen + command + a send beside the loop); nullopt: seen before.
  std::optional<chat::Answer> answer_once(const std::string& user, const chat::Input& input,
                                          const std::string& event_id, const chat::Hooks::AnswerTo& to);
  bool invite_allowed(const Invite& invite) const;
  // Hooks::is_learner_room; nullopt when it threw (the store may be down).
  std::optional<bool> learner_room(const std::string& room_id) const;
  chat::Answer run_command(std::string_view user, const chat::Input& input) const;
  bool first_time(const std::string& event_id) const;  // Hooks::first_seen("matrix", id)

  std::shared_ptr<MatrixSession> session_;
  bool stopping_ = false;
  std::shared_ptr<boost::asio::steady_timer> wake_;  // the current wait; stop() cancels it
  std::string filter_id_;
  int batches_ = 0;
  net::Backoff backoff_;
  // Since when /sync fails (the outage is logged once, and its end).
  std::optional<std::chrono::steady_clock::time_point> failing_since_;
};

}  // namespace relance::matrix
