#include "adapters/chat/escape.hpp"

namespace relance::chat {

namespace {
constexpr std::string_view word_joiner = "\u2060";
}

std::string defuse_mentions(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char ch : text) {
    out += ch;
    if (ch == '@') out += word_joiner;
  }
  return out;
}

std::string escape_markdown(std::string_view text) {
  // CommonMark: any ASCII punctuation may be backslash-escaped, and a
  // backslash before other characters is kept literally, so escaping every
  // character with a meaning is always safe.
  static constexpr std::string_view special = "\\`*_{}[]()<>#+-.!|~:&\"";
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char ch : text) {
    if (special.find(ch) != std::string_view::npos) out += '\\';
    out += ch;
    if (ch == '@') out += word_joiner;
  }
  return out;
}

std::string html_entities(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\n': out += "<br>"; break;
      case '@': out += "@"; out += word_joiner; break;
      default: out += ch;
    }
  }
  return out;
}

}  // namespace relance::chat
