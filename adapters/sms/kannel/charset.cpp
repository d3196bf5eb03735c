// The charsets Kannel hands an MO text in (%C), to UTF-8. Small tables rather
// than iconv: four charsets, and a parser that never fails or allocates a
// converter per request.
#include "adapters/sms/kannel/kannel.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

namespace relance::sms::kannel {

namespace {

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(char(c));
  } else if (c < 0x800) {
    out.push_back(char(0xC0 | (c >> 6)));
    out.push_back(char(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(char(0xE0 | (c >> 12)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(char(0x80 | (c & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (c >> 18)));
    out.push_back(char(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(char(0x80 | (c & 0x3F)));
  }
}

constexpr char32_t replacement = 0xFFFD;

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const auto n = s.size();
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < n) {
    const unsigned char c = at(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > n) return false;
    if (at(i + 1) < lo || at(i + 1) > hi) return false;
    for (std::size_t k = 2; k < len; ++k)
      if (at(i + k) < 0x80 || at(i + k) > 0xBF) return false;
    i += len;
  }
  return true;
}

// Windows-1252's 0x80-0x9F (where ISO-8859-1 has C1 controls, never text in
// an SMS); 0 marks the five unassigned positions.
constexpr std::array<char16_t, 32> cp1252_high = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

std::string from_windows_1252(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    if (c >= 0x80 && c <= 0x9F)
      append_utf8(out, cp1252_high[c - 0x80] ? cp1252_high[c - 0x80] : replacement);
    else
      append_utf8(out, c);
  }
  return out;
}

// ISO-8859-15 is Latin-1 with eight positions changed, among them the
// French œ/Œ/Ÿ and €.
std::string from_iso_8859_15(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    char32_t u = c;
    switch (c) {
      case 0xA4: u = 0x20AC; break;
      case 0xA6: u = 0x0160; break;
      case 0xA8: u = 0x0161; break;
      case 0xB4: u = 0x017D; break;
      case 0xB8: u = 0x017E; break;
      case 0xBC: u = 0x0152; break;
      case 0xBD: u = 0x0153; break;
      case 0xBE: u = 0x0178; break;
      default: break;
    }
    append_utf8(out, u);
  }
  return out;
}

// UTF-16BE with surrogate pairs (an emoji); a lone surrogate or an odd last
// byte is U+FFFD.
std::string from_utf16be(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 3 / 2);
  auto unit = [&](std::size_t i) {
    return char16_t((static_cast<unsigned char>(s[i]) << 8) | static_cast<unsigned char>(s[i + 1]));
  };
  std::size_t i = 0;
  for (; i + 1 < s.size(); i += 2) {
    const char16_t u = unit(i);
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (i + 3 < s.size()) {
        const char16_t v = unit(i + 2);
        if (v >= 0xDC00 && v <= 0xDFFF) {
          append_utf8(out, 0x10000 + ((char32_t(u) - 0xD800) << 10) + (char32_t(v) - 0xDC00));
          i += 2;
          continue;
        }
      }
      append_utf8(out, replacement);
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      append_utf8(out, replacement);
    } else {
      append_utf8(out, u);
    }
  }
  if (i < s.size()) append_utf8(out, replacement);
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return char(std::toupper(c)); });
  return out;
}

}  // namespace

std::string to_utf8(std::string_view bytes, std::string_view charset, int coding) {
  const auto cs = upper(charset);
  if (cs == "UTF-16BE" || cs == "UTF-16" || cs == "UCS-2" || cs == "UCS-2BE" || (cs.empty() && coding == 2))
    return from_utf16be(bytes);
  if (cs == "WINDOWS-1252" || cs == "CP1252" || cs == "ISO-8859-1" || cs == "LATIN1" || cs == "ISO_8859-1")
    return from_windows_1252(bytes);
  if (cs == "ISO-8859-15" || cs == "LATIN9") return from_iso_8859_15(bytes);
  // UTF-8, GSM (Kannel hands 7-bit text over as UTF-8 already), 8-BIT
  // binary data from a handset app (UTF-8 in practice, Latin-1 from old
  // ones), or a charset we do not know: UTF-8 when it is, else Windows-1252,
  // never a refusal (Kannel would not send the message again).
  if (valid_utf8(bytes)) return std::string(bytes);
  return from_windows_1252(bytes);
}

}  // namespace relance::sms::kannel
