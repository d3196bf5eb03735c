// A received message read with GMime 3, then classified: reply, automatic
// answer, or delivery failure. GMime does the MIME work (structure, transfer
// encodings, RFC 2047/2231, addresses, dates); the decisions are ours.
//
// Ownership: every GObject this file creates is held in a GPtr (unref on
// scope exit); objects a getter returns (parts, address lists, dates,
// header values) belong to their parent and are never unref'd here.
#include "adapters/email/received.hpp"

#include "messages/text/ascii.hpp"
#include "messages/text/utf8.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <initializer_list>
#include <memory>
#include <mutex>

namespace relance::email {
namespace {

// ---- GObject / glib ownership ------------------------------------------------

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p) g_object_unref(p);
  }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};
using GChars = std::unique_ptr<char, GFree>;

struct ParserOptionsFree {
  void operator()(GMimeParserOptions* o) const { g_mime_parser_options_free(o); }
};
struct ReferencesFree {
  void operator()(GMimeReferences* r) const { g_mime_references_free(r); }
};

void init_gmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// ---- small text helpers ------------------------------------------------------

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view nbsp = "\xC2\xA0";             // U+00A0
constexpr std::string_view nnbsp = "\xE2\x80\xAF";        // U+202F, French typography before ':'

using text::iequals;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = text::ascii_lower(c);
  return out;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::size_t ifind(std::string_view s, std::string_view needle, std::size_t from = 0) {
  if (needle.empty()) return from <= s.size() ? from : std::string_view::npos;
  for (std::size_t i = from; i + needle.size() <= s.size(); ++i)
    if (iequals(s.substr(i, needle.size()), needle)) return i;
  return std::string_view::npos;
}

bool icontains(std::string_view s, std::string_view needle) { return ifind(s, needle) != std::string_view::npos; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

// Trims ASCII white space and the no-break spaces French text puts around ':'.
std::string_view trim(std::string_view s) {
  for (;;) {
    if (!s.empty() && is_space(s.front()))
      s.remove_prefix(1);
    else if (s.substr(0, nbsp.size()) == nbsp)
      s.remove_prefix(nbsp.size());
    else if (s.substr(0, nnbsp.size()) == nnbsp)
      s.remove_prefix(nnbsp.size());
    else
      break;
  }
  for (;;) {
    if (!s.empty() && is_space(s.back()))
      s.remove_suffix(1);
    else if (s.size() >= nbsp.size() && s.substr(s.size() - nbsp.size()) == nbsp)
      s.remove_suffix(nbsp.size());
    else if (s.size() >= nnbsp.size() && s.substr(s.size() - nnbsp.size()) == nnbsp)
      s.remove_suffix(nnbsp.size());
    else
      break;
  }
  return s;
}

bool blank(std::string_view s) { return trim(s).empty(); }

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (;;) {
    const auto nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(s.substr(start));
      return lines;
    }
    lines.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
}

std::string join_lines(const std::vector<std::string_view>& lines, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) out += '\n';
    out += lines[i];
  }
  return out;
}

// Converts with iconv; an undecodable byte becomes U+FFFD and decoding goes on
// (g_convert would stop at the first one). nullopt: iconv does not know `from`.
std::optional<std::string> iconv_to_utf8(std::string_view bytes, const char* from) {
  GIConv cd = g_iconv_open("UTF-8", from);
  if (cd == reinterpret_cast<GIConv>(-1)) return std::nullopt;
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4);
  char* in = const_cast<char*>(bytes.data());
  gsize in_left = bytes.size();
  std::array<char, 4096> buf;
  while (in_left > 0) {
    char* o = buf.data();
    gsize o_left = buf.size();
    const gsize r = g_iconv(cd, &in, &in_left, &o, &o_left);
    const int err = errno;
    out.append(buf.data(), static_cast<std::size_t>(o - buf.data()));
    if (r != static_cast<gsize>(-1) || err == E2BIG) continue;
    out += replacement;
    if (err != EILSEQ) break;  // EINVAL: truncated sequence at the end
    ++in;
    --in_left;
    g_iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset shift state
  }
  char* o = buf.data();
  gsize o_left = buf.size();
  g_iconv(cd, nullptr, nullptr, &o, &o_left);  // flush stateful encodings (ISO-2022-JP)
  out.append(buf.data(), static_cast<std::size_t>(o - buf.data()));
  g_iconv_close(cd);
  return text::make_valid_utf8(out);
}

// Body bytes in their declared charset to UTF-8. As browsers do (WHATWG
// Encoding), ISO-8859-1 and US-ASCII labels are read as windows-1252: mail
// labelled Latin-1 routinely carries ’ € œ from Windows. With no label, or an
// unknown one, UTF-8 if the bytes are valid UTF-8, else windows-1252.
std::string to_utf8(std::string_view bytes, std::string_view charset) {
  const std::string cs = lower(trim(charset));
  const bool unlabelled = cs.empty() || cs == "us-ascii" || cs == "ascii" || cs == "unknown-8bit" ||
                          cs == "x-unknown" || cs == "utf-8" || cs == "utf8" || cs == "default";
  if (unlabelled && text::is_valid_utf8(bytes)) return std::string(bytes);
  if (cs.starts_with("utf-8") || cs == "utf8") return text::make_valid_utf8(bytes);
  if (unlabelled || cs == "iso-8859-1" || cs == "iso8859-1" || cs == "latin1" || cs == "l1" ||
      cs == "iso_8859-1" || cs == "cp819" || cs == "windows-1252" || cs == "cp1252")
    return text::windows_1252_to_utf8(bytes);
  if (auto s = iconv_to_utf8(bytes, g_mime_charset_iconv_name(cs.c_str()))) return *s;
  return text::is_valid_utf8(bytes) ? std::string(bytes) : text::windows_1252_to_utf8(bytes);
}

std::string normalize_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else
      out += s[i];
  }
  return out;
}

// Body text for a person: no C0 controls but tab and LF, no trailing blanks
// on a line.
std::string tidy_lines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const auto line : split_lines(s)) {
    std::string_view l = line;
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    for (char c : l)
      if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out += c;
    out += '\n';
  }
  if (!out.empty()) out.pop_back();
  return out;
}

// A header value on one line: controls become spaces, valid UTF-8, trimmed.
std::string header_text(const char* v) {
  if (!v) return {};
  std::string s = text::make_valid_utf8(v);
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return std::string(trim(s));
}

std::string cap_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  while (!s.empty() && is_space(s.back())) s.pop_back();
  return s;
}

void add_unique(std::vector<std::string>& v, std::string s) {
  if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

// ---- format=flowed (RFC 3676) ------------------------------------------------

// Joins soft-broken lines: a line ending in a space continues on the next one
// of the same quote depth. Quoted lines come back as "> text" / ">> text".
std::string unflow(std::string_view text, bool delsp) {
  std::vector<std::string> out;
  std::string para;
  std::size_t para_depth = 0;
  bool open = false;
  const auto flush = [&] {
    out.push_back(para_depth == 0 ? para : std::string(para_depth, '>') + (para.empty() ? "" : " ") + para);
    para.clear();
    open = false;
  };
  for (const auto line : split_lines(text)) {
    std::size_t depth = 0;
    while (depth < line.size() && line[depth] == '>') ++depth;
    std::string_view content = line.substr(depth);
    if (!content.empty() && content.front() == ' ') content.remove_prefix(1);  // space-stuffing (§4.4)
    const bool signature = content == "-- ";
    const bool flowed = !signature && !content.empty() && content.back() == ' ';
    if (open && depth != para_depth) flush();  // §4.5: depth change ends a paragraph
    para_depth = depth;
    if (flowed && delsp) content.remove_suffix(1);
    para += content;
    if (flowed)
      open = true;
    else
      flush();
  }
  if (open) flush();
  std::string joined;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i) joined += '\n';
    joined += out[i];
  }
  return joined;
}

// ---- HTML --------------------------------------------------------------------

struct NamedEntity {
  std::string_view name;
  char32_t code;
};
constexpr NamedEntity named_entities[] = {
    {"amp", '&'},      {"lt", '<'},        {"gt", '>'},        {"quot", '"'},      {"apos", '\''},
    {"nbsp", ' '},     {"eacute", 0xE9},   {"Eacute", 0xC9},   {"egrave", 0xE8},   {"Egrave", 0xC8},
    {"ecirc", 0xEA},   {"Ecirc", 0xCA},    {"euml", 0xEB},     {"agrave", 0xE0},   {"Agrave", 0xC0},
    {"acirc", 0xE2},   {"Acirc", 0xC2},    {"auml", 0xE4},     {"ccedil", 0xE7},   {"Ccedil", 0xC7},
    {"icirc", 0xEE},   {"iuml", 0xEF},     {"ocirc", 0xF4},    {"ouml", 0xF6},     {"ugrave", 0xF9},
    {"ucirc", 0xFB},   {"uuml", 0xFC},     {"yuml", 0xFF},     {"oelig", 0x153},   {"OElig", 0x152},
    {"aelig", 0xE6},   {"szlig", 0xDF},    {"ntilde", 0xF1},   {"aacute", 0xE1},   {"iacute", 0xED},
    {"oacute", 0xF3},  {"uacute", 0xFA},   {"laquo", 0xAB},    {"raquo", 0xBB},    {"lsquo", 0x2018},
    {"rsquo", 0x2019}, {"sbquo", 0x201A},  {"ldquo", 0x201C},  {"rdquo", 0x201D},  {"bdquo", 0x201E},
    {"ndash", 0x2013}, {"mdash", 0x2014},  {"hellip", 0x2026}, {"euro", 0x20AC},   {"copy", 0xA9},
    {"reg", 0xAE},     {"trade", 0x2122},  {"deg", 0xB0},      {"middot", 0xB7},   {"bull", 0x2022},
    {"times", 0xD7},   {"shy", 0},         {"zwnj", 0},        {"zwj", 0},         {"thinsp", ' '},
    {"ensp", ' '},     {"emsp", ' '},      {"iexcl", 0xA1},    {"iquest", 0xBF},   {"sect", 0xA7},
    {"para", 0xB6},    {"frac12", 0xBD},   {"plusmn", 0xB1},   {"pound", 0xA3},    {"cent", 0xA2},
};

// The entity at html[i] == '&': appends its text and returns the length read,
// or 0 if it is not one (the '&' is then literal).
std::size_t decode_entity(std::string_view html, std::size_t i, std::string& out) {
  const auto semi = html.find(';', i);
  if (semi == std::string_view::npos || semi - i > 12 || semi == i + 1) return 0;
  const std::string_view body = html.substr(i + 1, semi - i - 1);
  if (body[0] == '#') {
    const bool hex = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
    const auto digits = body.substr(hex ? 2 : 1);
    std::uint32_t v = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, hex ? 16 : 10);
    if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size()) return 0;
    // &#0; is U+FFFD, &#128;..&#159; are windows-1252 (WHATWG "numeric
    // character reference end state").
    const char32_t c = v == 0      ? char32_t(0xFFFD)
                       : v <= 0xFF ? text::windows_1252_char(static_cast<unsigned char>(v))
                                   : static_cast<char32_t>(v);
    text::append_utf8(out, c);
    return semi - i + 1;
  }
  for (const auto& e : named_entities)
    if (e.name == body) {
      if (e.code) text::append_utf8(out, e.code);
      return semi - i + 1;
    }
  return 0;
}

bool has_class(std::string_view classes, std::string_view name) {
  std::size_t i = 0;
  while (i < classes.size()) {
    while (i < classes.size() && is_space(classes[i])) ++i;
    std::size_t j = i;
    while (j < classes.size() && !is_space(classes[j])) ++j;
    if (iequals(classes.substr(i, j - i), name)) return true;
    i = j;
  }
  return false;
}

struct Tag {
  std::string name;  // lower case
  bool closing = false;
  bool self_closing = false;
  std::string id, cls;
  std::size_t end = 0;  // index after '>'
};

// Reads the tag at html[i] == '<'. nullopt: not a tag, the '<' is text.
std::optional<Tag> read_tag(std::string_view html, std::size_t i) {
  Tag t;
  std::size_t j = i + 1;
  if (j < html.size() && html[j] == '/') {
    t.closing = true;
    ++j;
  }
  const auto name_start = j;
  while (j < html.size() && (std::isalnum(static_cast<unsigned char>(html[j])) || html[j] == ':' || html[j] == '-'))
    ++j;
  if (j == name_start || !std::isalpha(static_cast<unsigned char>(html[name_start]))) return std::nullopt;
  t.name = lower(html.substr(name_start, j - name_start));
  // Attributes: name, optionally = and a quoted or bare value; a '>' inside
  // quotes does not end the tag.
  while (j < html.size() && html[j] != '>') {
    if (is_space(html[j])) {
      ++j;
      continue;
    }
    if (html[j] == '/') {
      t.self_closing = true;
      ++j;
      continue;
    }
    t.self_closing = false;
    const auto a = j;
    while (j < html.size() && !is_space(html[j]) && html[j] != '=' && html[j] != '>' && html[j] != '/') ++j;
    const std::string attr = lower(html.substr(a, j - a));
    if (j == a) {  // stray character
      ++j;
      continue;
    }
    while (j < html.size() && is_space(html[j])) ++j;
    std::string_view value;
    if (j < html.size() && html[j] == '=') {
      ++j;
      while (j < html.size() && is_space(html[j])) ++j;
      if (j < html.size() && (html[j] == '"' || html[j] == '\'')) {
        const char q = html[j++];
        const auto close = html.find(q, j);
        const auto e = close == std::string_view::npos ? html.size() : close;
        value = html.substr(j, e - j);
        j = close == std::string_view::npos ? html.size() : close + 1;
      } else {
        const auto v = j;
        while (j < html.size() && !is_space(html[j]) && html[j] != '>') ++j;
        value = html.substr(v, j - v);
      }
    }
    if (attr == "id") t.id = value;
    if (attr == "class") t.cls = value;
  }
  t.end = j < html.size() ? j + 1 : html.size();
  return t;
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

bool is_void(std::string_view n) {
  return one_of(n, {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "wbr", "source", "embed"});
}
bool is_block(std::string_view n) {
  return one_of(n, {"p", "div", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
                    "blockquote", "dd", "dt", "dl", "section", "article", "header", "footer", "center",
                    "address", "form", "tbody", "thead", "tfoot", "main", "nav", "aside", "figure"});
}

// html_to_text, also telling whether a quote container was dropped.
std::string render_html(std::string_view html, bool& dropped_quote) {
  dropped_quote = false;
  std::string out;
  bool pending_space = false;
  int pre = 0;
  std::string skip_tag;  // inside a dropped quote container of this element
  int skip_depth = 0;

  const auto line_has_text = [&] { return !out.empty() && out.back() != '\n'; };
  const auto emit = [&](std::string_view s) {
    if (pending_space && line_has_text()) out += ' ';
    pending_space = false;
    out += s;
  };
  const auto line_break = [&] {
    if (line_has_text()) out += '\n';
    pending_space = false;
  };

  std::size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<') {
      if (html.compare(i, 4, "<!--") == 0) {
        const auto e = html.find("-->", i + 4);
        i = e == std::string_view::npos ? html.size() : e + 3;
        continue;
      }
      if (html.compare(i, 2, "<!") == 0 || html.compare(i, 2, "<?") == 0) {
        const auto e = html.find('>', i);
        i = e == std::string_view::npos ? html.size() : e + 1;
        continue;
      }
      const auto tag = read_tag(html, i);
      if (!tag) {
        if (skip_depth == 0) emit("<");
        ++i;
        continue;
      }
      i = tag->end;
      const auto& n = tag->name;
      if (skip_depth > 0) {
        if (n == skip_tag) {
          if (tag->closing)
            --skip_depth;
          else if (!tag->self_closing)
            ++skip_depth;
          if (skip_depth == 0 && is_block(n)) line_break();
        }
        continue;
      }
      if (tag->closing) {
        if (n == "pre" && pre > 0) --pre;
        if (is_block(n)) line_break();
        continue;
      }
      // Raw text and metadata: skip to the matching end tag.
      if (n == "style" || n == "script" || n == "head" || n == "title" || n == "textarea") {
        if (tag->self_closing) continue;
        const auto e = ifind(html, "</" + n, i);
        if (e == std::string_view::npos) {
          if (n != "head") i = html.size();  // an unclosed <head> drops nothing
          continue;
        }
        const auto gt = html.find('>', e);
        i = gt == std::string_view::npos ? html.size() : gt + 1;
        continue;
      }
      // Outlook (new Outlook, OWA): an empty div#appendonsend, an <hr>, the
      // header block div#divRplyFwdMsg, then the quoted message as siblings,
      // not inside a container: everything from the marker on is history.
      if (iequals(tag->id, "appendonsend") || iequals(tag->id, "divRplyFwdMsg") ||
          iequals(tag->id, "mail-editor-reference-message-container")) {
        dropped_quote = true;
        break;
      }
      if (n == "blockquote" || has_class(tag->cls, "gmail_quote") || has_class(tag->cls, "gmail_quote_container") ||
          has_class(tag->cls, "moz-cite-prefix") || has_class(tag->cls, "yahoo_quoted")) {
        dropped_quote = true;
        if (is_block(n)) line_break();
        if (!tag->self_closing && !is_void(n)) {
          skip_tag = n;
          skip_depth = 1;
        }
        continue;
      }
      if (n == "br") {
        pending_space = false;
        out += '\n';
      } else if (n == "hr") {
        line_break();
      } else if (n == "td" || n == "th") {
        if (line_has_text()) pending_space = true;
      } else if (is_block(n)) {
        line_break();
        if (n == "pre") ++pre;
      }
      continue;
    }
    if (skip_depth > 0) {
      ++i;
      continue;
    }
    if (c == '&') {
      std::string decoded;
      if (const auto len = decode_entity(html, i, decoded)) {
        emit(decoded);
        i += len;
        continue;
      }
      emit("&");
      ++i;
      continue;
    }
    if (is_space(c)) {
      if (pre > 0) {
        if (c == '\n') {
          pending_space = false;
          out += '\n';
        } else if (c != '\r')
          out += c;
      } else
        pending_space = true;
      ++i;
      continue;
    }
    const auto next = html.find_first_of("<& \t\r\n\f\v", i);
    emit(html.substr(i, (next == std::string_view::npos ? html.size() : next) - i));
    i = next == std::string_view::npos ? html.size() : next;
  }

  // Blank lines: trailing spaces off, runs collapsed to one, none at the ends.
  std::string text;
  bool previous_blank = true;
  for (const auto line : split_lines(out)) {
    std::string_view l = line;
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    const bool is_blank = trim(l).empty();
    if (is_blank && previous_blank) continue;
    text += is_blank ? std::string_view{} : l;
    text += '\n';
    previous_blank = is_blank;
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace

std::string html_to_text(std::string_view html) {
  bool dropped = false;
  return render_html(html, dropped);
}

namespace {

// ---- quoted history in plain text --------------------------------------------

bool quoted(std::string_view line) { return !line.empty() && line.front() == '>'; }

// "________________________________" (Outlook) or a long dash rule.
bool rule_line(std::string_view line) {
  const auto t = trim(line);
  return t.size() >= 5 && t.find_first_not_of(t.front() == '_' ? "_" : "-") == std::string_view::npos;
}

// "-----Original Message-----", "-----Message d'origine-----" (with ’ too).
bool original_message_line(std::string_view line) {
  auto t = trim(line);
  if (!t.starts_with("--")) return false;
  while (!t.empty() && t.front() == '-') t.remove_prefix(1);
  while (!t.empty() && t.back() == '-') t.remove_suffix(1);
  t = trim(t);
  return iequals(t, "original message") || iequals(t, "message d'origine") ||
         iequals(t, "message d\xE2\x80\x99origine");
}

// "De :", "From:", "*Envoyé :*" (bold from an HTML part turned to text).
bool header_field(std::string_view line, std::initializer_list<std::string_view> names) {
  auto t = trim(line);
  while (!t.empty() && t.front() == '*') t.remove_prefix(1);
  for (const auto name : names) {
    if (!istarts_with(t, name)) continue;
    const auto rest = trim(t.substr(name.size()));
    if (rest.starts_with(":")) return true;
  }
  return false;
}

// An Outlook header block starting at lines[i]: From/De, then within six
// lines a date (Envoyé/Sent/Date) and a subject (Objet/Subject).
bool header_block_at(const std::vector<std::string_view>& lines, std::size_t i) {
  if (!header_field(lines[i], {"De", "From"})) return false;
  bool sent = false, subject = false;
  for (std::size_t j = i + 1; j < lines.size() && j <= i + 6; ++j) {
    sent = sent || header_field(lines[j], {"Envoy\xC3\xA9", "Sent", "Date"});
    subject = subject || header_field(lines[j], {"Objet", "Subject"});
  }
  return sent && subject;
}

bool ends_with_wrote(std::string_view s) {
  s = trim(s);
  if (!s.ends_with(":")) return false;
  s = trim(s.substr(0, s.size() - 1));
  return s.ends_with("\xC3\xA9" "crit") || s.ends_with("wrote") || s.ends_with("schrieb");
}

// An attribution starting at lines[i] ("Le lun. 23 nov. 2026 à 10:00, X <x@y>
// a écrit :", "On Mon, Nov 23, 2026 at 10:00 AM X <x@y> wrote:"), on one line
// or wrapped over up to three. Returns how many lines it takes, 0 if none. It
// must carry a digit (the date) so that "Le formateur m'a écrit :" is not one.
std::size_t attribution_at(const std::vector<std::string_view>& lines, std::size_t i) {
  const auto first = trim(lines[i]);
  if (!first.starts_with("Le ") && !first.starts_with("On ") && !first.starts_with("Am ")) return 0;
  std::string joined;
  for (std::size_t k = i; k < lines.size() && k < i + 3; ++k) {
    if (k > i && (blank(lines[k]) || quoted(lines[k]))) return 0;
    if (k > i) joined += ' ';
    joined += trim(lines[k]);
    if (joined.size() > 400) return 0;
    if (ends_with_wrote(joined))
      return std::any_of(joined.begin(), joined.end(), [](char c) { return c >= '0' && c <= '9'; }) ? k - i + 1 : 0;
  }
  return 0;
}

// After an attribution: does the learner write between quoted lines (an
// inline answer)? Then the attribution does not end the reply.
bool interleaved(const std::vector<std::string_view>& lines, std::size_t from) {
  bool seen_quote = false;
  for (std::size_t k = from; k < lines.size(); ++k) {
    if (quoted(lines[k]))
      seen_quote = true;
    else if (seen_quote && !blank(lines[k]))
      return true;
  }
  return false;
}

}  // namespace

std::string strip_quoted(std::string_view text) {
  const auto lines = split_lines(text);
  std::size_t cut = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (quoted(lines[i])) continue;
    if (original_message_line(lines[i]) || header_block_at(lines, i)) {
      cut = i;
      break;
    }
    if (const auto len = attribution_at(lines, i)) {
      if (!interleaved(lines, i + len)) cut = i;
      break;
    }
  }
  // The rule and blank lines Outlook puts before its header block go too.
  if (cut < lines.size())
    while (cut > 0 && (blank(lines[cut - 1]) || rule_line(lines[cut - 1]))) --cut;
  // A trailing quoted block (and the blank lines around it).
  std::size_t end = cut;
  bool saw_quote = false;
  while (end > 0 && (blank(lines[end - 1]) || quoted(lines[end - 1]))) {
    saw_quote = saw_quote || quoted(lines[end - 1]);
    --end;
  }
  if (!saw_quote) end = cut;
  if (end == lines.size()) return std::string(text);
  while (end > 0 && blank(lines[end - 1])) --end;
  if (end == 0) return std::string(text);  // nothing of the learner's would remain
  return join_lines(lines, 0, end);
}

std::optional<std::int64_t> relance_outbox_id(std::string_view message_id) {
  auto id = trim(message_id);
  if (id.starts_with("<") && id.ends_with(">") && id.size() >= 2) id = id.substr(1, id.size() - 2);
  constexpr std::string_view prefix = "relance.";
  if (!istarts_with(id, prefix)) return std::nullopt;
  id.remove_prefix(prefix.size());
  const auto at = id.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == id.size()) return std::nullopt;
  const auto digits = id.substr(0, at);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc{} || p != digits.data() + digits.size()) return std::nullopt;  // overflow
  const auto domain = id.substr(at + 1);
  if (domain.find_first_of("<>@ \t\r\n") != std::string_view::npos) return std::nullopt;
  return v;
}

namespace {

// ---- the MIME tree -------------------------------------------------------------

struct Leaf {
  GMimeObject* object;
  bool in_related;  // a child of multipart/related (inline images of the HTML)
};

void collect_leaves(GMimeObject* o, bool in_related, std::vector<Leaf>& out, int depth) {
  if (!o || depth > 32) return;
  if (GMIME_IS_MULTIPART(o)) {
    auto* mp = GMIME_MULTIPART(o);
    const bool related = g_mime_content_type_is_type(g_mime_object_get_content_type(o), "multipart", "related");
    const int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; ++i) collect_leaves(g_mime_multipart_get_part(mp, i), related, out, depth + 1);
    return;
  }
  out.push_back({o, in_related});  // parts and message/* parts (not descended)
}

bool is_type(GMimeObject* o, const char* type, const char* subtype) {
  auto* ct = g_mime_object_get_content_type(o);
  return ct && g_mime_content_type_is_type(ct, type, subtype);
}

// The part's content with its transfer encoding undone, in its own charset.
std::string part_bytes(GMimePart* part) {
  auto* content = g_mime_part_get_content(part);
  if (!content) return {};
  GPtr<GMimeStream> mem{g_mime_stream_mem_new()};
  g_mime_data_wrapper_write_to_stream(content, mem.get());
  auto* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return bytes ? std::string(reinterpret_cast<const char*>(bytes->data), bytes->len) : std::string{};
}

// A leaf's content as UTF-8 text, LF line ends: a part decoded, or a message/*
// part written back out (GMime reads message/delivery-status as a message).
std::string leaf_text(GMimeObject* o) {
  if (GMIME_IS_PART(o)) {
    const auto charset = header_text(g_mime_object_get_content_type_parameter(o, "charset"));
    return normalize_newlines(to_utf8(part_bytes(GMIME_PART(o)), charset));
  }
  if (GMIME_IS_MESSAGE_PART(o)) {
    auto* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
    if (!inner) return {};
    GChars s{g_mime_object_to_string(GMIME_OBJECT(inner), nullptr)};
    return s ? normalize_newlines(text::make_valid_utf8(s.get())) : std::string{};
  }
  return {};
}

bool is_signature(GMimeObject* o) {
  return is_type(o, "application", "pkcs7-signature") || is_type(o, "application", "x-pkcs7-signature") ||
         is_type(o, "application", "pgp-signature");
}

// Attached files: disposition attachment, or a file name. Images that the HTML
// shows inline (a Content-ID in multipart/related: Outlook's image001.png
// signature) are part of the body, not attachments.
bool is_attachment(const Leaf& leaf) {
  auto* o = leaf.object;
  if (leaf.in_related && g_mime_object_get_content_id(o) && !is_type(o, "text", "*")) return false;
  const char* disposition = g_mime_object_get_disposition(o);
  if (disposition && iequals(disposition, "attachment")) return true;
  return GMIME_IS_PART(o) && g_mime_part_get_filename(GMIME_PART(o));
}

// ---- delivery reports (RFC 3464) ------------------------------------------------

struct Field {
  std::string name;  // lower case
  std::string value;
};
using FieldGroup = std::vector<Field>;

// "Name: value" groups separated by blank lines; folded lines unfolded.
std::vector<FieldGroup> field_groups(std::string_view text) {
  std::vector<FieldGroup> groups(1);
  for (const auto line : split_lines(text)) {
    if (blank(line)) {
      if (!groups.back().empty()) groups.emplace_back();
      continue;
    }
    if ((line.front() == ' ' || line.front() == '\t') && !groups.back().empty()) {
      groups.back().back().value += ' ';
      groups.back().back().value += trim(line);
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    groups.back().push_back({lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1)))});
  }
  return groups;
}

std::string field(const FieldGroup& g, std::string_view name) {
  for (const auto& f : g)
    if (f.name == name) return f.value;
  return {};
}

std::string collapse_spaces(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : trim(s)) {
    if (is_space(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The Message-ID header of returned headers (text/rfc822-headers).
std::string message_id_in_headers(std::string_view headers) {
  for (const auto& g : field_groups(headers)) {
    auto id = field(g, "message-id");
    if (id.empty()) continue;
    const auto lt = id.find('<');
    const auto gt = id.find('>', lt == std::string::npos ? 0 : lt);
    if (lt != std::string::npos && gt != std::string::npos) return id.substr(lt + 1, gt - lt - 1);
    return collapse_spaces(id);
  }
  return {};
}

// Every relance.<digits>@domain in the text, in order of appearance.
void scan_relance_ids(std::string_view s, std::vector<std::string>& out) {
  constexpr std::string_view prefix = "relance.";
  const auto id_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  };
  for (auto p = s.find(prefix); p != std::string_view::npos; p = s.find(prefix, p + 1)) {
    if (p > 0 && id_char(s[p - 1])) continue;
    auto q = p + prefix.size();
    const auto digits = q;
    while (q < s.size() && s[q] >= '0' && s[q] <= '9') ++q;
    if (q == digits || q >= s.size() || s[q] != '@') continue;
    const auto domain = ++q;
    while (q < s.size() && (std::isalnum(static_cast<unsigned char>(s[q])) || s[q] == '.' || s[q] == '-')) ++q;
    while (q > domain && (s[q - 1] == '.' || s[q - 1] == '-')) --q;
    if (q == domain) continue;
    add_unique(out, std::string(s.substr(p, q - p)));
  }
}

// The lines of a free-form bounce that say what went wrong: those carrying an
// SMTP reply code ("550", "550-5.1.1") or an enhanced status ("5.1.1"), else
// the first few lines. Stops where the returned message is copied.
bool has_smtp_code(std::string_view line) {
  const auto digit = [&](std::size_t k) { return k < line.size() && line[k] >= '0' && line[k] <= '9'; };
  for (std::size_t i = 0; i + 3 <= line.size(); ++i) {
    if (i > 0 && (digit(i - 1) || line[i - 1] == '.')) continue;
    if ((line[i] != '4' && line[i] != '5') || !digit(i + 1)) continue;
    if (digit(i + 2) && !digit(i + 3) && (i + 3 == line.size() || line[i + 3] == ' ' || line[i + 3] == '-'))
      return true;  // 550
  }
  for (std::size_t i = 0; i + 5 <= line.size(); ++i) {  // 5.1.1
    if (i > 0 && (digit(i - 1) || line[i - 1] == '.')) continue;
    if ((line[i] == '4' || line[i] == '5') && line[i + 1] == '.' && digit(i + 2)) {
      auto k = i + 2;
      while (digit(k)) ++k;
      if (k < line.size() && line[k] == '.' && digit(k + 1)) {
        k += 1;
        while (digit(k)) ++k;
        if (k == line.size() || line[k] != '.' || !digit(k + 1)) return true;
      }
    }
  }
  return false;
}

std::string free_form_bounce_detail(std::string_view text) {
  std::vector<std::string> code_lines, first_lines;
  for (const auto line : split_lines(text)) {
    const auto t = trim(line);
    if (istarts_with(t, "Return-Path:") || istarts_with(t, "Received:") || icontains(t, "copy of the message") ||
        icontains(t, "Below this line") || icontains(t, "original message") || quoted(t))
      break;
    if (t.empty()) continue;
    if (has_smtp_code(t) && code_lines.size() < 3) code_lines.emplace_back(t);
    if (first_lines.size() < 3) first_lines.emplace_back(t);
  }
  const auto& chosen = code_lines.empty() ? first_lines : code_lines;
  std::string detail;
  for (const auto& l : chosen) {
    if (!detail.empty()) detail += '\n';
    detail += l;
  }
  return cap_utf8(detail, 1000);
}

// ---- automatic answers ---------------------------------------------------------

bool header_present(GMimeObject* o, const char* name) { return g_mime_object_get_header(o, name) != nullptr; }

std::string header_token(GMimeObject* o, const char* name) {
  const char* v = g_mime_object_get_header(o, name);
  if (!v) return {};
  std::string_view s = v;
  s = s.substr(0, s.find_first_of(";("));  // "auto-replied; owner-email=..." / comments
  return lower(trim(s));
}

// Subject prefixes of vacation and out-of-office messages (Exchange/Outlook,
// Gmail, Thunderbird's filters), French first.
constexpr std::string_view auto_reply_subjects[] = {
    "R\xC3\xA9ponse automatique", "Reponse automatique", "Absence du bureau", "Message d'absence",
    "Automatic reply",            "Auto reply",          "Auto-reply",        "Autoreply",
    "Out of Office",              "Out of the office",   "Abwesenheitsnotiz", "Respuesta autom\xC3\xA1tica",
};

// The rule (RFC 3834 first, then what real autoresponders send):
//   - Auto-Submitted present with any value but "no";
//   - X-Autoreply, X-Autorespond, X-Autoresponder (any value);
//   - Precedence: auto_reply, bulk, junk or list;
//   - X-MS-Exchange-Inbox-Rules-Loop: Exchange adds it to what a mailbox rule
//     generated (out-of-office, rule replies and forwards), never to mail a
//     person wrote. X-Auto-Response-Suppress is NOT a marker: Outlook puts it
//     on ordinary mail too, asking others not to auto-answer it;
//   - a subject starting with an out-of-office prefix ("Réponse automatique :",
//     "Automatic reply:", "Absence du bureau", "Out of Office", ...), for
//     servers that mark nothing in the headers.
bool auto_reply_marked(GMimeObject* m, std::string_view subject) {
  if (header_present(m, "Auto-Submitted") && header_token(m, "Auto-Submitted") != "no") return true;
  if (header_present(m, "X-Autoreply") || header_present(m, "X-Autorespond") ||
      header_present(m, "X-Autoresponder"))
    return true;
  const auto precedence = header_token(m, "Precedence");
  if (one_of(precedence, {"auto_reply", "bulk", "junk", "list"})) return true;
  if (header_present(m, "X-MS-Exchange-Inbox-Rules-Loop")) return true;
  const auto s = trim(subject);
  return std::any_of(std::begin(auto_reply_subjects), std::end(auto_reply_subjects),
                     [&](std::string_view p) { return istarts_with(s, p); });
}

// Free-form reports (no multipart/report): the sender is the mail system, or
// the subject is one of theirs. Failures unless the subject says delay or
// success.
constexpr std::string_view report_subjects[] = {
    "Undelivered Mail Returned to Sender",
    "Delivery Status Notification",
    "Non remis",
    "Undeliverable",
    "Mail delivery failed",
    "Returned mail",
    "failure notice",
    "Delivery failure",
    "Mail System Error",
    "\xC3\x89" "chec de la remise",
    "Undelivered Mail",
    "Delayed Mail",
    "Delivery delayed",
    "Warning: could not send message",
};
constexpr std::string_view non_failure_words[] = {
    "(Delay)", "Delayed Mail", "Delivery delayed", "Warning: could not send", "retard", "(Success)",
};
constexpr std::string_view non_failure_prefixes[] = {"Delivered:", "Relayed:", "Remis :", "Remis:",
                                                     "Distribu\xC3\xA9 :", "Distribu\xC3\xA9:"};

bool mail_system_sender(std::string_view address) {
  const auto local = address.substr(0, address.find('@'));
  return local == "mailer-daemon" || local == "postmaster" || local == "mail-daemon";
}

// ---- the pieces of parse_received ----------------------------------------------

void read_headers(GMimeMessage* msg, GMimeParserOptions* options, ReceivedEmail& r) {
  auto* obj = GMIME_OBJECT(msg);
  r.message_id = header_text(g_mime_message_get_message_id(msg));
  r.subject = header_text(g_mime_message_get_subject(msg));
  if (auto* d = g_mime_message_get_date(msg)) r.date = from_unix(g_date_time_to_unix(d));

  InternetAddressList* from = g_mime_message_get_from(msg);
  if (!from || internet_address_list_length(from) == 0) from = g_mime_message_get_sender(msg);
  InternetAddress* first = nullptr;
  if (from && internet_address_list_length(from) > 0) first = internet_address_list_get_address(from, 0);
  if (first && INTERNET_ADDRESS_IS_GROUP(first)) {
    auto* members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(first));
    first = members && internet_address_list_length(members) > 0 ? internet_address_list_get_address(members, 0)
                                                                   : nullptr;
  }
  if (first && INTERNET_ADDRESS_IS_MAILBOX(first)) {
    r.from_address = lower(header_text(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(first))));
    r.from_name = header_text(internet_address_get_name(first));
  }

  // In-Reply-To first; then References, whose last entry is the newest.
  const auto add_refs = [&](const char* header, bool newest_first) {
    const char* v = g_mime_object_get_header(obj, header);
    if (!v) return;
    std::unique_ptr<GMimeReferences, ReferencesFree> refs{g_mime_references_parse(options, v)};
    if (!refs) return;
    const int n = g_mime_references_length(refs.get());
    for (int k = 0; k < n; ++k) {
      const int idx = newest_first ? n - 1 - k : k;
      // A malformed header ("< <id@host>") leaves brackets or spaces in
      // GMime's answer: the id is what is between them.
      std::string id = header_text(g_mime_references_get_message_id(refs.get(), idx));
      const auto b = id.find_first_not_of("<> \t");
      const auto e = id.find_last_not_of("<> \t");
      add_unique(r.refs, b == std::string::npos ? std::string() : id.substr(b, e - b + 1));
    }
  };
  add_refs("In-Reply-To", false);
  add_refs("References", true);
}

// A message GMime read, but nothing says it is mail: no originator, date,
// id or subject (GMime takes any bytes for a body without headers).
bool looks_like_mail(GMimeMessage* msg) {
  auto* o = GMIME_OBJECT(msg);
  return header_present(o, "From") || header_present(o, "Sender") || header_present(o, "Date") ||
         header_present(o, "Message-ID") || header_present(o, "Subject");
}

std::string body_text(GMimeObject* o, bool& dropped_quote) {
  std::string text = leaf_text(o);
  if (is_type(o, "text", "html")) return tidy_lines(render_html(text, dropped_quote));
  const char* format = g_mime_object_get_content_type_parameter(o, "format");
  if (format && iequals(trim(format), "flowed")) {
    const char* delsp = g_mime_object_get_content_type_parameter(o, "delsp");
    text = unflow(text, delsp && iequals(trim(delsp), "yes"));
  }
  return tidy_lines(text);
}

}  // namespace

ReceivedEmail parse_received(std::string_view raw) {
  init_gmime();
  ReceivedEmail r;
  if (trim(raw).empty()) {
    r.problem = "empty message";
    return r;
  }

  std::unique_ptr<GMimeParserOptions, ParserOptionsFree> options{g_mime_parser_options_new()};
  // Raw 8-bit header values (no RFC 2047): UTF-8 when valid, else windows-1252.
  const char* fallback[] = {"UTF-8", "windows-1252", nullptr};
  g_mime_parser_options_set_fallback_charsets(options.get(), fallback);
  g_mime_parser_options_set_rfc2047_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_address_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);

  GPtr<GMimeStream> stream{g_mime_stream_mem_new_with_buffer(raw.data(), raw.size())};
  GPtr<GMimeParser> parser{g_mime_parser_new_with_stream(stream.get())};
  GPtr<GMimeMessage> msg{g_mime_parser_construct_message(parser.get(), options.get())};
  if (!msg) {
    r.problem = "not a MIME message (GMime could not read it)";
    return r;
  }
  if (!looks_like_mail(msg.get())) r.problem = "no From, Date, Message-ID or Subject header: not a mail message";

  read_headers(msg.get(), options.get(), r);

  std::vector<Leaf> leaves;
  collect_leaves(g_mime_message_get_mime_part(msg.get()), false, leaves, 0);

  GMimeObject* plain = nullptr;
  GMimeObject* html = nullptr;
  GMimeObject* delivery_status = nullptr;
  std::vector<GMimeObject*> returned;  // the undelivered message, or its headers
  for (const auto& leaf : leaves) {
    auto* o = leaf.object;
    if (is_type(o, "message", "delivery-status") || is_type(o, "message", "global-delivery-status")) {
      if (!delivery_status) delivery_status = o;
      continue;
    }
    if (is_type(o, "message", "rfc822") || is_type(o, "message", "global") || is_type(o, "text", "rfc822-headers") ||
        is_type(o, "message", "global-headers"))
      returned.push_back(o);
    if (is_signature(o)) continue;
    if (is_attachment(leaf)) {
      const char* name = GMIME_IS_PART(o) ? g_mime_part_get_filename(GMIME_PART(o))
                                          : g_mime_object_get_content_disposition_parameter(o, "filename");
      if (name) add_unique(r.attachments, header_text(name));
      continue;
    }
    if (!plain && is_type(o, "text", "plain")) plain = o;
    if (!html && is_type(o, "text", "html")) html = o;
  }

  bool html_quote_dropped = false;
  std::string text = plain ? body_text(plain, html_quote_dropped) : std::string{};
  if (trim(text).empty() && html) text = body_text(html, html_quote_dropped);
  text = std::string(trim(text));

  // What the message is. A delivery report first: Postfix marks its DSNs
  // Auto-Submitted: auto-replied, which would otherwise read as a vacation.
  auto* top = GMIME_OBJECT(msg.get());
  bool report = false;
  if (delivery_status) {
    report = true;
    bool failed = false;
    std::string detail;
    for (const auto& g : field_groups(leaf_text(delivery_status))) {
      const auto action = lower(field(g, "action"));
      if (action.empty()) continue;  // the per-message group
      if (action.starts_with("failed")) {
        failed = true;
        std::string line = collapse_spaces(field(g, "status"));
        const auto diagnostic = collapse_spaces(field(g, "diagnostic-code"));
        if (!diagnostic.empty()) line += (line.empty() ? "" : " ") + diagnostic;
        if (line.empty()) line = "failed " + collapse_spaces(field(g, "final-recipient"));
        if (!detail.empty()) detail += '\n';
        detail += line;
      }
    }
    // "delayed" (still retrying), "delivered", "relayed", "expanded": the mail
    // system talking, not the learner, and not a failure either.
    r.kind = failed ? ReceivedEmail::Kind::bounce : ReceivedEmail::Kind::auto_reply;
    if (failed) r.bounce_detail = cap_utf8(text::make_valid_utf8(detail), 2000);
  } else if (is_type(g_mime_message_get_mime_part(msg.get()), "multipart", "report")) {
    report = true;  // read receipts (disposition-notification) and the like
    r.kind = ReceivedEmail::Kind::auto_reply;
  } else if (mail_system_sender(r.from_address) ||
             std::any_of(std::begin(report_subjects), std::end(report_subjects),
                         [&](std::string_view p) { return icontains(r.subject, p); })) {
    report = true;
    const bool not_failure =
        std::any_of(std::begin(non_failure_words), std::end(non_failure_words),
                    [&](std::string_view p) { return icontains(r.subject, p); }) ||
        std::any_of(std::begin(non_failure_prefixes), std::end(non_failure_prefixes),
                    [&](std::string_view p) { return istarts_with(r.subject, p); });
    if (not_failure) {
      r.kind = ReceivedEmail::Kind::auto_reply;
    } else {
      r.kind = ReceivedEmail::Kind::bounce;
      r.bounce_detail = free_form_bounce_detail(text);
    }
  } else if (auto_reply_marked(top, r.subject)) {
    r.kind = ReceivedEmail::Kind::auto_reply;
  }

  if (r.kind == ReceivedEmail::Kind::bounce) {
    for (auto* o : returned) {
      if (GMIME_IS_MESSAGE_PART(o)) {
        if (auto* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o)))
          add_unique(r.bounced_ids, header_text(g_mime_message_get_message_id(inner)));
      } else {
        add_unique(r.bounced_ids, message_id_in_headers(leaf_text(o)));
      }
    }
    if (r.bounced_ids.empty()) {
      if (delivery_status) scan_relance_ids(leaf_text(delivery_status), r.bounced_ids);
      scan_relance_ids(text, r.bounced_ids);
      scan_relance_ids(raw, r.bounced_ids);
    }
  }

  // Reports are the mail system's words: nothing quoted to strip.
  if (!report) {
    const auto stripped = strip_quoted(text);
    r.quote_removed = html_quote_dropped || stripped != text;
    text = std::string(trim(stripped));
  }
  r.text = cap_utf8(text::make_valid_utf8(text), max_text);
  return r;
}

}  // namespace relance::email
