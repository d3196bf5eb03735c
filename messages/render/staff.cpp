#include "messages/render/staff.hpp"

#include "messages/marked.hpp"
#include "messages/text/markup.hpp"

#include <functional>

namespace relance::render {

namespace {

constexpr std::string_view word_joiner = "\u2060";

bool ascii_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Part of a word an '@' can sit inside without starting a mention: an email
// address's local part, or any letter (bytes of a UTF-8 sequence count).
bool word_char(char c) {
  return ascii_alnum(c) || c == '.' || c == '_' || c == '-' || c == '+' || c == '%' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// What may follow the '@' of a mention: a Mattermost username or a Matrix
// localpart starts with one of these.
bool name_char(char c) { return ascii_alnum(c) || c == '_' || c == '-' || c == '.'; }

// Calls `piece(text, outside)` for each run of the text: inside span marks
// (or everywhere when there is none) is outside text to escape.
void for_each_piece(std::string_view text, const std::function<void(std::string_view, bool)>& piece) {
  if (text.find(messages::value_begin) == std::string_view::npos &&
      text.find(messages::value_end) == std::string_view::npos) {
    piece(text, true);
    return;
  }
  bool inside = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto begin = text.find(messages::value_begin, i);
    const auto end = text.find(messages::value_end, i);
    const auto next = std::min(begin, end);
    if (next > i) piece(text.substr(i, std::min(next, text.size()) - i), inside);
    if (next == std::string_view::npos) break;
    inside = next == begin;
    i = next + messages::value_begin.size();
  }
}

// `prev` is the character before `text` in the whole message ('\0' at its start).
void append_defused(std::string& out, std::string_view text, char prev) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    out += ch;
    const char before = i == 0 ? prev : text[i - 1];
    if (ch == '@' && !word_char(before) && i + 1 < text.size() && name_char(text[i + 1])) out += word_joiner;
  }
}

char last_char(const std::string& s) { return s.empty() ? '\0' : s.back(); }

// ":name:" (an emoji shortcode) starts at text[i].
bool shortcode_at(std::string_view text, std::size_t i) {
  std::size_t j = i + 1;
  while (j < text.size() && (ascii_alnum(text[j]) || text[j] == '_' || text[j] == '+' || text[j] == '-')) ++j;
  return j > i + 1 && j < text.size() && text[j] == ':';
}

}  // namespace

std::string defuse_mentions(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  append_defused(out, text, '\0');
  return out;
}

std::string escape_markdown(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for_each_piece(text, [&out](std::string_view piece, bool outside) {
    if (!outside) {
      out.append(piece);
      return;
    }
    // CommonMark: a backslash before ASCII punctuation shows it literally,
    // and is kept before anything else, so every escape below is safe.
    for (std::size_t i = 0; i < piece.size(); ++i) {
      const char ch = piece[i];
      const char prev = i == 0 ? last_char(out) : piece[i - 1];
      const char next = i + 1 < piece.size() ? piece[i + 1] : '\0';
      // At a line's start (spaces aside): headings, quotes, lists, rules,
      // setext underlines, and "1." / "1)" ordered lists.
      std::size_t k = out.size();
      while (k > 0 && out[k - 1] == ' ') --k;
      const bool line_start = k == 0 || out[k - 1] == '\n';
      bool escape = false;
      switch (ch) {
        case '\\': case '`': case '*': case '~': case '[': case ']': case '<': case '|':
          escape = true;
          break;
        case '_':  // inside a word (jean_dupont) it emphasises nothing
          escape = !(ascii_alnum(prev) && ascii_alnum(next));
          break;
        case '&':  // an entity (&amp; &#64;)
          escape = ascii_alnum(next) || next == '#';
          break;
        case ':':
          escape = shortcode_at(piece, i);
          break;
        case '#': case '>': case '-': case '+': case '=':
          escape = line_start;
          break;
        case '.': case ')': {  // "12." or "12)" opening a line
          std::size_t d = out.size();
          while (d > 0 && out[d - 1] >= '0' && out[d - 1] <= '9') --d;
          std::size_t s = d;
          while (s > 0 && out[s - 1] == ' ') --s;
          escape = d < out.size() && (s == 0 || out[s - 1] == '\n');
          break;
        }
        default: break;
      }
      if (escape) out += '\\';
      out += ch;
      if (ch == '@' && !word_char(prev) && name_char(next)) out += word_joiner;
    }
  });
  return out;
}

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for_each_piece(text, [&out](std::string_view piece, bool outside) {
    std::string plain;
    if (outside) append_defused(plain, piece, last_char(out));
    else plain.assign(piece);
    for (char ch : text::html_entities(plain)) {
      if (ch == '\n') out += "<br>";
      else out += ch;
    }
  });
  return out;
}

std::string escape_plain(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for_each_piece(text, [&out](std::string_view piece, bool outside) {
    if (outside) append_defused(out, piece, last_char(out));
    else out.append(piece);
  });
  return out;
}

}  // namespace relance::render
