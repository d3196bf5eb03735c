#include "bot/domain/sms_text.hpp"

namespace relance {
namespace {

constexpr char32_t replacement = 0xFFFD;

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past
// U+10FFFF. On error, consumes the maximal subpart that could have started a
// valid sequence (at least one byte) and yields U+FFFD.
class Utf8Reader {
 public:
  explicit Utf8Reader(std::string_view s) : s_(s) {}

  bool next(char32_t& cp) {
    if (i_ >= s_.size()) return false;
    const auto lead = static_cast<unsigned char>(s_[i_]);
    if (lead < 0x80) {
      cp = lead;
      ++i_;
      return true;
    }
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
      need = 1;
      cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      need = 2;
      cp = lead & 0x0F;
      if (lead == 0xE0) lo = 0xA0;       // overlong
      else if (lead == 0xED) hi = 0x9F;  // UTF-16 surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      need = 3;
      cp = lead & 0x07;
      if (lead == 0xF0) lo = 0x90;       // overlong
      else if (lead == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      cp = replacement;
      ++i_;
      return true;
    }
    for (int k = 1; k <= need; ++k) {
      const bool in_range = i_ + k < s_.size() && [&] {
        const auto b = static_cast<unsigned char>(s_[i_ + k]);
        return k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
      }();
      if (!in_range) {
        cp = replacement;
        i_ += k;
        return true;
      }
      cp = (cp << 6) | (static_cast<unsigned char>(s_[i_ + k]) & 0x3F);
    }
    i_ += need + 1;
    return true;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Septets for one character in the GSM 7-bit default alphabet (TS 23.038
// §6.2.1): 1 in the basic table, 2 in the extension table (ESC + code), 0
// when it cannot be written at all.
int gsm_septets(char32_t cp) {
  if (cp < 0x80) {
    switch (cp) {
      case '\n': case '\r': return 1;
      case '\f':  // page break, ESC 0x0A
      case '^': case '{': case '}': case '\\': case '[': case '~': case ']': case '|': return 2;
      case '`': return 0;  // the only printable ASCII character missing
      default: return (cp >= 0x20 && cp < 0x7F) ? 1 : 0;
    }
  }
  switch (cp) {
    // Latin-1 letters and signs of the basic table. Only these accents: é è ù
    // ì ò à, capital Ç and É, and the German/Nordic/Spanish ones.
    case U'£': case U'¥': case U'è': case U'é': case U'ù': case U'ì': case U'ò':
    case U'Ç': case U'Ø': case U'ø': case U'Å': case U'å': case U'Æ': case U'æ':
    case U'ß': case U'É': case U'¤': case U'¡': case U'Ä': case U'Ö': case U'Ñ':
    case U'Ü': case U'§': case U'¿': case U'ä': case U'ö': case U'ñ': case U'ü':
    case U'à':
    // The Greek capitals that do not look like Latin ones (Α, Β, … do not
    // exist in the table; some gateways transliterate them, we do not).
    case U'Δ': case U'Φ': case U'Γ': case U'Λ': case U'Ω': case U'Π': case U'Ψ':
    case U'Σ': case U'Θ': case U'Ξ':
      return 1;
    case U'€':
      return 2;
    default:
      return 0;
  }
}

int utf16_units(char32_t cp) { return cp >= 0x10000 ? 2 : 1; }

// One pass to choose the encoding and count units, a second (only past one
// part) to place the boundaries; `texts`, when given, receives the parts.
SmsLength measure(std::string_view utf8, std::vector<std::string>* texts) {
  SmsLength r;
  bool gsm = true;
  int septets = 0, utf16 = 0;
  {
    Utf8Reader in(utf8);
    char32_t cp = 0;
    while (in.next(cp)) {
      const int w = gsm_septets(cp);
      if (w == 0) gsm = false;
      septets += w;
      utf16 += utf16_units(cp);
    }
  }
  r.encoding = gsm ? SmsEncoding::gsm7 : SmsEncoding::ucs2;
  r.units = gsm ? septets : utf16;
  const int single = gsm ? 160 : 70;
  const int multi = gsm ? 153 : 67;
  const auto width = [gsm](char32_t c) { return gsm ? gsm_septets(c) : utf16_units(c); };

  if (r.units == 0) {
    r.per_part = single;
    return r;
  }
  if (r.units <= single) {
    r.parts = 1;
    r.per_part = single;
    if (texts) {
      std::string whole;
      Utf8Reader in(utf8);
      for (char32_t cp = 0; in.next(cp);) append_utf8(whole, cp);
      texts->push_back(std::move(whole));
    }
    return r;
  }

  r.per_part = multi;
  r.parts = 1;
  int used = 0;
  std::string current;
  Utf8Reader in(utf8);
  for (char32_t cp = 0; in.next(cp);) {
    const int w = width(cp);
    if (used + w > multi) {  // the character does not fit whole: next part
      ++r.parts;
      used = 0;
      if (texts) texts->push_back(std::move(current));
      current.clear();
    }
    used += w;
    if (texts) append_utf8(current, cp);
  }
  if (texts) texts->push_back(std::move(current));
  return r;
}

}  // namespace

SmsLength sms_length(std::string_view utf8) { return measure(utf8, nullptr); }

std::vector<std::string> sms_split(std::string_view utf8) {
  std::vector<std::string> parts;
  measure(utf8, &parts);
  return parts;
}

std::string gsm7_fold(std::string_view utf8) {
  // Longest-first is not needed: every key is one UTF-8 character.
  static constexpr std::pair<std::string_view, std::string_view> folds[] = {
      {"ç", "c"},  {"â", "a"},  {"ê", "e"},  {"ë", "e"},  {"î", "i"},  {"ï", "i"},  {"ô", "o"},   {"û", "u"},
      {"ÿ", "y"},  {"á", "a"},  {"í", "i"},  {"ó", "o"},  {"ú", "u"},  {"ã", "a"},  {"õ", "o"},   {"Â", "A"},
      {"Ê", "E"},  {"Ë", "E"},  {"Î", "I"},  {"Ï", "I"},  {"Ô", "O"},  {"Û", "U"},  {"È", "E"},   {"À", "A"},
      {"Ù", "U"},  {"Ÿ", "Y"},  {"œ", "oe"}, {"Œ", "OE"}, {"’", "'"},  {"‘", "'"},  {"«\u00a0", "\""},
      {"\u00a0»", "\""}, {"«", "\""}, {"»", "\""}, {"“", "\""}, {"”", "\""}, {"…", "..."}, {"–", "-"},
      {"—", "-"},  {"\u00a0", " "}, {"\u202f", " "}};
  std::string out;
  out.reserve(utf8.size());
  std::size_t i = 0;
  while (i < utf8.size()) {
    bool done = false;
    if (static_cast<unsigned char>(utf8[i]) >= 0x80)
      for (const auto& [from, to] : folds)
        if (utf8.substr(i, from.size()) == from) {
          out += to;
          i += from.size();
          done = true;
          break;
        }
    if (!done) out += utf8[i++];
  }
  return out;
}

std::string fit_sms(std::string_view utf8, int max_parts) {
  if (max_parts <= 0 || sms_length(utf8).parts <= max_parts) return std::string(utf8);
  std::string folded = gsm7_fold(utf8);
  if (sms_length(folded).parts <= max_parts) return folded;
  return std::string(utf8);
}

}  // namespace relance
