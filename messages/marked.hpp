// Texts for staff chats are rendered with each template value between two
// private-use characters, so that a chat network escapes what came from
// outside (learner names and replies, imported fields, comments: the
// {placeholder} values) and leaves relance's own words alone (templates are
// not Markdown- or mention-escaped: a raw message, which is what mobile
// notifications show, reads as written). fill() strips these characters from
// every value, so nothing from outside can open or close a span; a text
// without them is all outside (escaped whole). adapters/chat/escape.* reads
// them; nothing else ever sees them.
#pragma once

#include <string_view>

namespace relance::messages {

inline constexpr std::string_view value_begin = "\xEE\x80\x80";  // U+E000
inline constexpr std::string_view value_end = "\xEE\x80\x81";    // U+E001

// The command prefix placeholder: "{cmd}prendre 42" shows how to type a
// command on the network the text goes to ("" on the console, "/relance " or
// "@relance-bot " on Mattermost, "!relance " on Matrix). Never escaped.
inline constexpr std::string_view command_prefix_param = "cmd";
// Who a command's answer is for: "@alice " on Mattermost, the Matrix id on
// Matrix, "" on the console. Never escaped (it is a mention on purpose).
inline constexpr std::string_view asker_param = "asker";

}  // namespace relance::messages
