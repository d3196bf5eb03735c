// Reading the mailbox learners answer to, through libcurl's IMAP client.
//
// relance sends relaunch emails with `Reply-To:` the organisation's mailbox
// ([email] reply_to); this reads that mailbox (or a folder a filter moves
// learners' answers to). It never deletes or moves anything: fetching a
// message marks it \Seen, which is how staff reading the same mailbox see
// that relance took it.
//
// What has been read is a cursor (UIDVALIDITY, last UID) the caller keeps
// with what it stored: a message is taken again only if the cursor was not
// saved (a crash), and the Message-ID makes that a no-op. A new UIDVALIDITY
// (the mailbox was recreated, or restored from a backup) starts again from
// the first message, for the same reason without doubles.
//
// Blocking (a session lasts up to `timeout` per command): run it off the io
// thread. Failures come back as values; the password never appears in them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::email {

struct ImapConfig {
  // imaps://imap.example.org/INBOX (TLS from the first byte, port 993) or
  // imap://imap.example.org/INBOX (STARTTLS, port 143). The path is the
  // mailbox; "INBOX" when there is none.
  std::string url;
  bool require_tls = true;  // imap:// must upgrade with STARTTLS (false: loopback tests only)
  std::string username, password;
  std::string ca_file;  // empty: the system store
  std::chrono::seconds timeout{30};
  std::chrono::seconds poll_every{60};
  std::size_t max_message_bytes = 25 * 1024 * 1024;  // larger: headers only
  // The first time the mailbox is read (no cursor yet), messages received in
  // the last this many days are taken too; 0: only those arriving from now
  // on (a front-desk mailbox with years of mail is not replayed into chat).
  int first_read_days = 0;
};

struct ImapCursor {
  std::uint64_t uidvalidity = 0;  // 0: nothing read yet
  std::uint64_t last_uid = 0;     // every message up to this one was taken
  bool operator==(const ImapCursor&) const = default;
};
std::string to_string(const ImapCursor& c);          // "1700000000:42"
std::optional<ImapCursor> parse_cursor(std::string_view s);

struct ImapError {
  // transient: no answer, timeout, the server busy (try again at the next
  // poll); config: login refused, no TLS where required, no such mailbox,
  // bad certificate (nothing works until someone fixes the configuration).
  enum Kind { transient, config };
  Kind kind = transient;
  std::string message;
};

// One message as the server gave it.
struct FetchedMessage {
  std::uint64_t uid = 0;
  std::string raw;        // the whole RFC 5322 message (or its header, when truncated)
  bool truncated = false; // larger than max_message_bytes: only the header was fetched
  bool gone = false;      // expunged since the search: raw is empty, nothing to read
};

class ImapSession {
public:
  explicit ImapSession(ImapConfig config);
  ~ImapSession();
  ImapSession(const ImapSession&) = delete;
  ImapSession& operator=(const ImapSession&) = delete;

  struct Status {
    std::uint64_t uidvalidity = 0;
    std::uint64_t uidnext = 0;
  };
  // STATUS of the configured mailbox, on a new connection: the first
  // command of each poll. (On a reused connection with the mailbox still
  // selected, Dovecot reports neither new mail nor a new UIDNEXT until it
  // is told to look again.)
  std::optional<Status> status(ImapError& err);
  // UIDs greater than `after`, ascending, at most `limit`.
  std::optional<std::vector<std::uint64_t>> uids_after(std::uint64_t after, std::size_t limit, ImapError& err);
  // UIDs of messages the server received on or after `day` (SEARCH SINCE,
  // by the server's date: a day of margin is the caller's), ascending.
  std::optional<std::vector<std::uint64_t>> uids_since(std::chrono::sys_days day, ImapError& err);
  // One message by UID of the mailbox generation `uidvalidity` (nullopt +
  // err on failure, also when the mailbox was recreated meanwhile: a UID of
  // the old one is never fetched from the new one). A UID that is gone
  // (expunged since the search) gives an empty raw and no error.
  std::optional<FetchedMessage> fetch(std::uint64_t uid, std::uint64_t uidvalidity, ImapError& err);

  const ImapConfig& config() const { return config_; }
  std::string mailbox() const;  // decoded path of the URL, "INBOX" by default

private:
  struct Impl;
  ImapConfig config_;
  std::unique_ptr<Impl> impl_;
};

// ---- pure pieces, exposed for tests -----------------------------------------

// "* STATUS INBOX (UIDVALIDITY 1700000000 UIDNEXT 43)" (any order, quoted or
// literal mailbox names) -> the two numbers.
std::optional<ImapSession::Status> parse_status_response(std::string_view untagged);
// "* SEARCH 3 7 42\r\n" (possibly several lines) -> {3, 7, 42}.
std::vector<std::uint64_t> parse_search_response(std::string_view untagged);
// What a libcurl result means: transient or config. `curl_code` is a CURLcode.
ImapError classify_imap_result(int curl_code, std::string_view detail);

}  // namespace relance::email
