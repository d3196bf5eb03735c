// Learners' email replies. Relaunch emails carry `Reply-To: [email]
// reply_to`; a thread polls that mailbox over IMAP ([email.imap]), reads each
// new message (adapters/email/received) and hands it to the inbound writer,
// which stores it like an SMS reply: once (the Message-ID), as a sign of
// life, posted in the case's thread.
//
// What the mailbox cursor (UIDVALIDITY, last UID) says has been read is
// committed in the same transaction as what was read, so a crash at any
// point either finds the message stored and the cursor past it, or neither:
// it is read again, and stored once.
//
//   - A reply to one of our emails (In-Reply-To/References carry
//     relance.<outbox id>@...) belongs to that email's learner, whatever
//     address they write from; otherwise the From address finds the learner.
//   - Mail from nobody we know, answering none of ours, is left alone (a
//     front-desk mailbox gets other mail): not stored, not posted.
//   - An out-of-office answer is posted but is not a sign of life.
//   - A bounce for one of our emails marks it undelivered; staff are told.
//   - Nothing in the mailbox is deleted or moved; fetching marks \Seen.
#pragma once

#include "adapters/email/imap.hpp"
#include "adapters/email/received.hpp"
#include "bot/app/inbound.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace relance::app {

// The kv row holding the cursor ("uidvalidity:last uid").
inline constexpr std::string_view imap_cursor_key = "email.imap.cursor";
// A mailbox found recreated (new UIDVALIDITY) is read again over this many
// days: what was already stored is recognised, older mail is not replayed.
inline constexpr int imap_reread_days = 14;

// What one fetched message becomes for the writer (pure). Empty when there
// is nothing to store: our own message (a copy), a bounce of someone else's.
InboundBatch email_batch(const email::FetchedMessage& fetched, const email::ReceivedEmail& mail);

struct EmailInboxStats {
  std::uint64_t polls = 0;      // polls that reached the mailbox
  std::uint64_t failed_polls = 0;
  std::uint64_t fetched = 0;    // messages read
  std::uint64_t stored = 0;     // batches committed (message, bounce, or nothing to store)
  std::uint64_t unparsed = 0;   // messages GMime could not read (skipped, logged)
};

class EmailInbox {
public:
  // `start`: the cursor saved by an earlier run (kv imap_cursor_key), if any.
  EmailInbox(email::ImapConfig config, InboundWriter& writer, std::optional<email::ImapCursor> start,
             std::function<Timestamp()> clock);
  ~EmailInbox();  // stops the thread (after the message in progress)
  EmailInbox(const EmailInbox&) = delete;
  EmailInbox& operator=(const EmailInbox&) = delete;

  // Starts polling every config.poll_every on a thread of its own.
  void start();
  // Poll now rather than at the next tick (any thread).
  void poke();
  void stop();

  // One poll, on the calling thread (the thread's body; tests). Returns
  // false when the mailbox could not be read or a message not stored. After
  // stop(), it returns between two messages (the rest is read next time).
  bool poll_once();

  EmailInboxStats stats() const;
  std::optional<email::ImapCursor> cursor() const;

private:
  bool commit(InboundBatch batch);
  bool stopping() const;
  void report(const email::ImapError& err);

  email::ImapSession session_;
  InboundWriter& writer_;
  std::function<Timestamp()> clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool poked_ = false;
  std::optional<email::ImapCursor> cursor_;
  EmailInboxStats stats_;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace relance::app
