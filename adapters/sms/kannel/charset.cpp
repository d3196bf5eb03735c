// The charsets Kannel hands an MO text in (%C), to UTF-8. Small tables rather
// than iconv: four charsets, and a parser that never fails or allocates a
// converter per request.
#include "adapters/sms/kannel/kannel.hpp"

#include "messages/text/utf8.hpp"

#include <algorithm>
#include <cctype>

namespace relance::sms::kannel {

namespace {

using text::append_utf8;

constexpr char32_t replacement = 0xFFFD;

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
    return text::windows_1252_to_utf8(bytes);
  if (cs == "ISO-8859-15" || cs == "LATIN9") return from_iso_8859_15(bytes);
  // UTF-8, GSM (Kannel hands 7-bit text over as UTF-8 already), 8-BIT
  // binary data from a handset app (UTF-8 in practice, Latin-1 from old
  // ones), or a charset we do not know: UTF-8 when it is, else Windows-1252,
  // never a refusal (Kannel would not send the message again).
  if (text::is_valid_utf8(bytes)) return std::string(bytes);
  return text::windows_1252_to_utf8(bytes);
}

}  // namespace relance::sms::kannel
