#include "adapters/lms/csv/text.hpp"

namespace relance::csv {

namespace {

// Base letters of U+00C0..U+00FF (Latin-1 Supplement letters), lower case;
// 0 for the two that are not letters (× and ÷), which are kept as they are.
constexpr char latin1_base[] =
    "aaaaaaaceeeeiiiidnooooo\0ouuuuyts"   // U+00C0..U+00DF (Æ->a, Ð->d, Þ->t, ß->s)
    "aaaaaaaceeeeiiiidnooooo\0ouuuuyty";  // U+00E0..U+00FF

void append_space(std::string& out) {
  if (!out.empty() && out.back() != ' ') out += ' ';
}

}  // namespace

std::string fold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f')
        append_space(out);
      else
        out += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : char(c);
      ++i;
      continue;
    }
    // Two-byte sequences C3 80..C3 BF are U+00C0..U+00FF.
    if (c == 0xC3 && i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0xBF) {
        const char base = latin1_base[d - 0x80];
        if (d == 0x86 || d == 0xA6) out += "ae";        // Æ æ
        else if (d == 0x9F) out += "ss";                 // ß
        else if (base != '\0') out += base;
        else out.append(s.substr(i, 2));
        i += 2;
        continue;
      }
    }
    if (c == 0xC5 && i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d == 0x92 || d == 0x93) { out += "oe"; i += 2; continue; }  // Œ œ
      if (d == 0xB8) { out += 'y'; i += 2; continue; }                // Ÿ
    }
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA0) {  // no-break space
      append_space(out);
      i += 2;
      continue;
    }
    // U+2000..U+200A (typographic spaces), U+202F (narrow no-break space, French
    // typography puts it before ":" and inside « »), U+205F.
    if (c == 0xE2 && i + 2 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      const auto e = static_cast<unsigned char>(s[i + 2]);
      if ((d == 0x80 && ((e >= 0x80 && e <= 0x8A) || e == 0xAF)) || (d == 0x81 && e == 0x9F)) {
        append_space(out);
        i += 3;
        continue;
      }
    }
    out += char(c);
    ++i;
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

}  // namespace relance::csv
