// Text staff read in their chat, made inert: whatever a learner typed (a name
// from the LMS, a reply, a comment) must show as typed and do nothing else.
// The app renders a message as plain text, then escapes the whole of it for
// the target format; adapters add their own mentions and chrome afterwards.
#pragma once

#include <string>
#include <string_view>

namespace relance::chat {

// "@all", "@channel", "@here", "@room", "@alice": a word joiner (U+2060)
// after each '@' so no server or client sees a mention in it.
std::string defuse_mentions(std::string_view text);

// Mattermost Markdown: mentions defused, and every character Markdown could
// read as syntax (emphasis, links, headings, code, tables, quotes, lists,
// HTML, emoji shortcodes) backslash-escaped, so the text renders as typed.
std::string escape_markdown(std::string_view text);

// Matrix formatted_body: mentions defused, & < > " ' as entities, newlines as <br>.
std::string escape_html(std::string_view text);
// Only the five HTML entities (& < > " '), nothing defused, line breaks kept:
// for HTML the app writes itself around text (an email's paragraphs, a Matrix
// pill's display name).
std::string html_entities(std::string_view text);

// Matrix body (plain text): mentions defused.
inline std::string escape_plain(std::string_view text) { return defuse_mentions(text); }

}  // namespace relance::chat
