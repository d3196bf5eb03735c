// Email adapter: a relaunch as an RFC 5322 / MIME message, sent through
// libcurl's SMTP client (STARTTLS on smtp://, implicit TLS on smtps://).
//
// build_mime() is pure (time is an input). send_email() blocks for up to
// `SmtpConfig::timeout`: the caller runs it off the io thread. Failures come
// back as values; nothing here logs the password or the body.
#pragma once

#include "bot/domain/time.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace relance::email {

struct SmtpConfig {
  // smtp://host:587 (STARTTLS) or smtps://host:465 (TLS from the first byte).
  std::string url;
  // smtp:// must upgrade with STARTTLS or the send fails (a configuration
  // problem, not retried). false: STARTTLS when the server offers it, plain
  // otherwise (loopback relays, test sinks).
  bool require_tls = true;
  std::string username, password;  // both empty: no AUTH
  std::string from;                // "Organisme <relance@example.org>" or a bare address
  std::string ca_file;             // empty: the system store
  std::chrono::seconds timeout{30};  // connect, and the whole send
  std::string message_id_domain;   // empty: the domain of `from`
};

struct Email {
  std::int64_t outbox_id = 0;  // the idempotency key: Message-ID and MIME boundary
  std::string to;              // bare address: lea@example.fr
  std::string to_name;         // display name, any UTF-8
  std::string subject;         // UTF-8
  std::string text;            // UTF-8 plain text, required
  std::string html;            // UTF-8 HTML, optional (empty: text/plain only)
  std::string reply_to;        // bare address, optional
};

struct SendOutcome {
  enum Status { sent, retry, failed };
  Status status = failed;
  int smtp_code = 0;  // last SMTP reply code seen (0: none, e.g. no connection)
  std::string error;  // empty when sent
};

// The whole message (headers + body), CRLF line endings, every line at most
// 78 characters except never more than 998, 7-bit only (bodies are
// quoted-printable, non-ASCII headers RFC 2047 encoded-words). No dot-stuffing:
// libcurl escapes a leading "." itself when it uploads (tested).
// Headers: From, To, Reply-To (if any), Subject, Date (UTC), Message-ID
// `<relance.<outbox_id>@<domain>>` (same id on a resend, so a duplicate is
// recognisable), MIME-Version, then multipart/alternative (text + html) or a
// single text/plain part.
// No `Auto-Submitted`: a relaunch is a personal message a person is meant to
// answer, and an out-of-office reply ("en congé jusqu'au 3") is exactly what
// staff want to see when a learner has gone quiet; RFC 3834 auto-generated
// would suppress it. The bot never answers email itself, so there is no loop.
std::string build_mime(const Email& mail, const SmtpConfig& config, Timestamp now);

// Blocking SMTP send of build_mime(mail, config, now) to mail.to.
SendOutcome send_email(const Email& mail, const SmtpConfig& config);

// ---- pure pieces, exposed for tests -----------------------------------------

// What a libcurl result means for the outbox: sent; retry (no connection,
// timeout, 4xx reply); failed (5xx reply, TLS required but not offered,
// certificate or login refused, bad URL). `curl_code` is a CURLcode.
SendOutcome classify_smtp_result(int curl_code, long smtp_code, std::string_view detail);

// "Organisme <relance@example.org>" -> {"Organisme", "relance@example.org"};
// "relance@example.org" -> {"", "relance@example.org"}.
struct Mailbox {
  std::string name;
  std::string address;
};
Mailbox parse_mailbox(std::string_view s);

// RFC 2047 Q encoded-words (UTF-8) for `text`, each at most `max_word`
// characters, the first at most `first_max`; never splits a UTF-8 sequence.
// Plain ASCII that needs no encoding comes back as one word, unchanged.
std::vector<std::string> encode_words(std::string_view text, std::size_t first_max, std::size_t max_word = 75);

// "Subject: " + words, folded (CRLF + space) so lines stay <= 78 where a word allows.
std::string fold_header(std::string_view name, const std::vector<std::string>& words);

// RFC 2045 §6.7 quoted-printable with CRLF hard breaks, lines <= 76.
// Any input line ending (LF, CRLF, CR) becomes CRLF.
std::string quoted_printable(std::string_view utf8);

// RFC 5322 §3.3 date in UTC: "Mon, 23 Nov 2026 10:00:00 +0000".
std::string rfc5322_date(Timestamp t);

}  // namespace relance::email
