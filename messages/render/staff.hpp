// Staff texts rendered for each chat format (Mattermost Markdown, Matrix
// body and HTML), made inert: whatever a learner typed (a name
// from the LMS, a reply, a comment) must show as typed and do nothing else.
//
// The app renders staff texts with each template value between span marks
// (messages/marked.hpp). The escape_* functions below escape only what is
// inside the spans (what came from outside) and keep relance's own words as
// written, so that a raw message (what notifications show) has no stray
// backslash or invisible character. A text without any mark is all outside
// and is escaped whole. The marks never reach the server.
#pragma once

#include <string>
#include <string_view>

namespace relance::render {

// Mentions only: "@all", "@channel", "@here", "@room", "@alice",
// "@alice:example.org" get a word joiner (U+2060) after their '@' so no
// server or client sees a mention. An '@' inside a word (an email address,
// jean.dupont@exemple.fr) is no mention and stays as is, so the address still
// copies as an address.
std::string defuse_mentions(std::string_view text);

// Mattermost Markdown: mentions defused, and backslash escapes where
// Markdown would read syntax: emphasis, code, links, HTML and autolinks,
// tables, strikethrough and ~channel links, entities, emoji shortcodes
// (":name:"), and at the start of a line headings, quotes, lists and rules.
// Ordinary punctuation (". : - ( ) ! #" in a sentence) is left alone.
std::string escape_markdown(std::string_view text);

// Matrix formatted_body: the five HTML entities and newlines as <br>; inside
// spans (or in an unmarked text) mentions defused too. (The entities alone,
// for HTML relance writes around text: text::html_entities, common/markup.hpp.)
std::string escape_html(std::string_view text);

// Matrix body (plain text): mentions defused inside spans (or everywhere in
// an unmarked text); the marks removed.
std::string escape_plain(std::string_view text);

}  // namespace relance::render
