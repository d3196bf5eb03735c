// What a learner sends back by email: one raw RFC 5322 message (as an IMAP
// server hands it over) read into what the engine needs.
//
// Parsing is GMime's (MIME structure, transfer encodings, charsets, RFC 2047
// headers, addresses, dates); this file only decides what the message *is*:
//   - a reply a person wrote (Kind::message), with the quoted history that
//     mail clients append removed, so staff see what the learner said;
//   - an automatic answer (Kind::auto_reply: out-of-office, "vacation",
//     read receipts, "delayed" delivery reports), shown to staff but not a
//     sign of life. Marked by Auto-Submitted other than "no" (RFC 3834),
//     X-Autoreply/X-Autorespond, Precedence auto_reply/bulk/junk/list,
//     Exchange's X-MS-Exchange-Inbox-Rules-Loop, or an out-of-office subject
//     prefix ("Réponse automatique :", "Automatic reply:", "Out of Office");
//     not by X-Auto-Response-Suppress, which Outlook puts on ordinary mail;
//   - a delivery failure report (Kind::bounce: RFC 3464 multipart/report, or
//     a classic mailer-daemon text that quotes our Message-ID), which marks
//     our message undelivered.
// Pure: no I/O, no clock; thread-safe (GMime is initialised once).
#pragma once

#include "bot/domain/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::email {

struct ReceivedEmail {
  enum class Kind { message, auto_reply, bounce };
  Kind kind = Kind::message;

  std::string message_id;          // without < >; empty when the message has none
  // In-Reply-To first, then References from the newest back; without < >,
  // each once. Our own ids (relance.<outbox id>@...) tell which message this
  // answers.
  std::vector<std::string> refs;
  std::string from_address;        // addr-spec, lower-cased: "lea.martin@example.fr"
  std::string from_name;           // display name, decoded UTF-8 ("Léa Martin")
  std::string subject;             // decoded UTF-8
  std::optional<Timestamp> date;   // the Date header, if it parses

  // The learner's words: UTF-8, LF line ends, the quoted history removed
  // (see strip_quoted), trimmed, at most max_text bytes (cut on a character
  // boundary). From the text/plain part, else the HTML part as text.
  std::string text;
  bool quote_removed = false;            // history removed: by strip_quoted, or quote containers of the HTML
  std::vector<std::string> attachments;  // file names of attached parts, decoded

  // Kind::bounce: Message-IDs of the message that could not be delivered
  // (from the returned headers, else any of ours quoted in the report), and
  // what the report says: "5.1.1 smtp; 550 5.1.1 <lea@example.fr>: user unknown".
  std::vector<std::string> bounced_ids;
  std::string bounce_detail;

  // Not empty: the bytes are not a message GMime could read. Everything else
  // is then best-effort (possibly empty).
  std::string problem;
};

inline constexpr std::size_t max_text = 16 * 1024;

ReceivedEmail parse_received(std::string_view raw);

// "relance.42@example.org" (or with < >) -> 42; anything else -> nullopt.
std::optional<std::int64_t> relance_outbox_id(std::string_view message_id);

// The reply without the history a mail client quotes under it:
//   - from an attribution line on: "Le lun. 23 nov. 2026 à 10:00, X <x@y> a
//     écrit :" (also split over two lines, as Gmail wraps it), "On ... wrote:",
//     "Envoyé de mon iPhone" is kept (it is the learner's);
//   - from an Outlook header block on: "-----Original Message-----",
//     "-----Message d'origine-----", or "De :"/"From:" followed within a few
//     lines by "Envoyé :"/"Sent:" and "Objet :"/"Subject:";
//   - trailing lines starting with ">" (and the blank lines before them).
// Quoted lines *between* the learner's own paragraphs (inline answers) are
// kept. If removing would leave nothing, the text is returned unchanged.
std::string strip_quoted(std::string_view text);

// An HTML body as plain text: <br>, </p>, </div>, </li>, </tr> end lines;
// <style>, <script>, <head> and Gmail/Outlook/Apple quote containers
// (<blockquote>, div.gmail_quote, div#appendonsend, #divRplyFwdMsg and what
// follows it) are dropped; entities decoded (named common ones and numeric);
// runs of blank lines collapsed to one.
std::string html_to_text(std::string_view html);

}  // namespace relance::email
