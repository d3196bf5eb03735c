#include "adapters/lms/csv/encoding.hpp"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace relance::csv {

namespace {

int line_at(std::string_view text_before) {
  return 1 + int(std::count(text_before.begin(), text_before.end(), '\n'));
}

// Converts `bytes` from `from` to UTF-8. On a byte sequence that does not
// exist in `from`, `error` names it and the line it is on.
Decoded convert(std::string_view bytes, const char* from, std::string encoding) {
  Decoded d;
  d.encoding = std::move(encoding);
  iconv_t cd = iconv_open("UTF-8", from);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    d.error = std::string("conversion depuis ") + from + " indisponible : " + std::strerror(errno);
    return d;
  }
  // Windows-1252 needs at most 3 UTF-8 bytes per byte (€ is E2 82 AC);
  // UTF-16 at most 3 per 2 bytes.
  d.text.resize(bytes.size() * 3 + 4);
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  char* out = d.text.data();
  std::size_t out_left = d.text.size();
  const std::size_t r = iconv(cd, &in, &in_left, &out, &out_left);
  const int err = errno;
  iconv_close(cd);
  const std::size_t used = d.text.size() - out_left;
  if (r == static_cast<std::size_t>(-1)) {
    const std::size_t offset = bytes.size() - in_left;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", unsigned(static_cast<unsigned char>(bytes[offset])));
    d.error_line = line_at(std::string_view(d.text).substr(0, used));
    if (err == EINVAL)
      d.error = "fichier tronqué au milieu d'un caractère (" + d.encoding + ")";
    else
      d.error = std::string("l'octet ") + hex + " (position " + std::to_string(offset) + ") n'existe pas en " +
                d.encoding;
    d.text.clear();
    return d;
  }
  d.text.resize(used);
  return d;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // ASCII runs are most of a CSV: skip them eight bytes at a time.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p >= end) break;
    const unsigned c = *p;
    if (c < 0x80) { ++p; continue; }
    int n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
    else return false;  // continuation byte first, C0/C1 overlong, F5..FF
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
  }
  return true;
}

Decoded decode_to_utf8(std::string_view bytes) {
  using namespace std::string_view_literals;
  if (bytes.starts_with("\xEF\xBB\xBF"sv)) {
    bytes.remove_prefix(3);
    if (!is_valid_utf8(bytes)) return convert(bytes, "UTF-8", "utf-8");  // names the bad byte and line
    return Decoded{std::string(bytes), "utf-8", {}};
  }
  if (bytes.starts_with("\xFF\xFE"sv)) return convert(bytes.substr(2), "UTF-16LE", "utf-16le");
  if (bytes.starts_with("\xFE\xFF"sv)) return convert(bytes.substr(2), "UTF-16BE", "utf-16be");
  if (bytes.starts_with("PK\x03\x04"sv))
    return Decoded{{}, "", "c'est un classeur Excel (.xlsx) ou une archive, pas un fichier CSV : "
                           "enregistrez-le au format « CSV UTF-8 »"};
  if (const auto nul = bytes.find('\0'); nul != std::string_view::npos)
    return Decoded{{}, "", "octet nul : ce n'est pas un fichier texte (UTF-16 sans marque d'ordre ?)",
                   line_at(bytes.substr(0, nul))};
  if (is_valid_utf8(bytes)) return Decoded{std::string(bytes), "utf-8", {}};
  // Not UTF-8: Excel's "CSV (séparateur : point-virgule)" on a French Windows.
  // Latin-1 would be wrong for "€", "œ" and typographic quotes (0x80..0x9F).
  return convert(bytes, "WINDOWS-1252", "windows-1252");
}

}  // namespace relance::csv
