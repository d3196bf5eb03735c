// Staff posts from the outbox to a chat network, and the app's side of what
// staff do in the chat.
//
// ChatDispatcher: one per network. Every room is an ordered queue (outbox
// rows of channel "staff.<network>" with that recipient, by id): a room's
// next post leaves only when the previous one is on the server, a room that
// fails waits (backoff, or the server's Retry-After) without holding the
// others back. Before each send the attempt is committed (outbox.started),
// and the post id is recorded in the same transaction as "sent" together
// with the case's thread root, so a crash at any point neither loses a post
// nor, with the adapter's lookup (Mattermost) or txnId (Matrix), doubles it.
//
// Answers to staff (rows "chat.answer", queued by Hooks::command_once with
// the command) go before bulk posts, in a queue of their own per room; bulk
// posts keep their order. A wake() while a post waits on a rate limit makes
// the dispatcher look again, so a new answer does not wait for the backlog.
// When the server does not answer (SendResult::unreachable), nothing more is
// sent: the outage is logged once, the server probed (Sender::probe, every
// 0.25 s growing to 1.5 s), and the queue resumes when it answers (logged
// once). A room that cannot take posts (room_unusable: an encrypted Matrix
// room) keeps them pending, and another staff room is told which cases wait.
#pragma once

#include "adapters/chat/chat.hpp"
#include "bot/app/engine.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>

namespace relance::app {

class ChatDispatcher {
public:
  ChatDispatcher(boost::asio::any_io_executor ex, Engine& engine, chat::Sender& sender, std::function<Timestamp()> clock);
  ~ChatDispatcher();
  ChatDispatcher(const ChatDispatcher&) = delete;
  ChatDispatcher& operator=(const ChatDispatcher&) = delete;

  void start();
  void stop();
  chat::Network network() const;
  // Rows may be ready (a scan, a command): look now instead of at the next timer.
  void wake();
  // Re-renders the alerts of a case in this network's rooms (state, holder),
  // best effort: the durable record is the thread's own posts.
  void refresh_alert(std::int64_t case_id);

  // Posts delivered / given up since start (logs, tests).
  std::int64_t sent() const;
  std::int64_t failed() const;

private:
  struct State;
  std::shared_ptr<State> state_;
};

// The hooks adapters call for inbound traffic: commands typed, clicked or
// reacted by chat users (mapped to [[staff]] members), thread lookups, alert
// status, dedupe, small durable state and texts. `after_command` runs after
// each command that changed something (wake the dispatchers, refresh alerts).
// `already_updated`: the network whose alert the command's answer updated
// itself (a Mattermost button click), not to be edited again.
using AfterCommand =
    std::function<void(std::optional<std::int64_t> case_id, std::optional<chat::Network> already_updated)>;
// `inbound`: the writer every learner message goes through (Matrix direct
// rooms' messages are stored there, like SMS and email); without it they are
// refused (not stored, fetched again later).
class InboundWriter;
chat::Hooks make_chat_hooks(Engine& engine, std::function<Timestamp()> clock, AfterCommand after_command,
                            InboundWriter* inbound = nullptr);

// Staff texts for a chat network: values marked for escaping (only what came
// from outside is escaped, adapters/chat/escape), {cmd} the command prefix
// that works there, {asker} a mention of who asked (empty: nobody).
messages::FillStyle chat_style(Engine& engine, chat::Network network, std::string_view asker = {});

// The alert of `case_id` as posted in this network's room, with a status line
// (waiting, held by, closed): what a button answer or a refresh edits.
std::optional<chat::Edit> alert_status(Engine& engine, chat::Network network, std::int64_t case_id);

}  // namespace relance::app
