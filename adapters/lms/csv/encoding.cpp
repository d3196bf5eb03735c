#include "adapters/lms/csv/encoding.hpp"

#include "messages/text/utf8.hpp"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

namespace relance::csv {

namespace {

int line_at(std::string_view text_before) {
  return 1 + int(std::count(text_before.begin(), text_before.end(), '\n'));
}

// Why bytes[offset] cannot be read, in French.
std::string undefined_byte(std::string_view bytes, std::size_t offset, std::string_view encoding) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", unsigned(static_cast<unsigned char>(bytes[offset])));
  return std::string("l'octet ") + hex + " (position " + std::to_string(offset) + ") n'existe pas en " +
         std::string(encoding);
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
  // UTF-8 to UTF-8 is as long; UTF-16 at most 3 UTF-8 bytes per 2 bytes.
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
    d.error_line = line_at(std::string_view(d.text).substr(0, used));
    if (err == EINVAL)
      d.error = "fichier tronqué au milieu d'un caractère (" + d.encoding + ")";
    else
      d.error = undefined_byte(bytes, offset, d.encoding);
    d.text.clear();
    return d;
  }
  d.text.resize(used);
  return d;
}

// Bytes that are not valid UTF-8 but hold lines that are UTF-8 with
// accents: two files pasted together (an export saved as "CSV UTF-8", rows
// added from an older Windows-1252 file). Read whole as Windows-1252, the
// UTF-8 lines would become "ZoÃ©"; read as UTF-8, the others cannot be.
// The error names the line where the encoding changes.
std::optional<Decoded> mixed_encodings(std::string_view bytes) {
  int line = 1, first_utf8 = 0, first_other = 0;
  std::size_t start = 0;
  while (start < bytes.size() && (first_utf8 == 0 || first_other == 0)) {
    auto end = bytes.find('\n', start);
    if (end == std::string_view::npos) end = bytes.size();
    const auto l = bytes.substr(start, end - start);
    if (std::any_of(l.begin(), l.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
      int& first = text::is_valid_utf8(l) ? first_utf8 : first_other;
      if (first == 0) first = line;
    }
    start = end + 1;
    ++line;
  }
  if (first_utf8 == 0 || first_other == 0) return std::nullopt;
  Decoded d;
  d.encoding = "mixed";
  d.error_line = std::max(first_utf8, first_other);
  d.error = first_utf8 < first_other
                ? "cette ligne est en Windows-1252 alors que la ligne " + std::to_string(first_utf8) +
                      " est en UTF-8 : fichier assemblé de deux sources ? Enregistrez-le en entier au format « CSV UTF-8 »"
                : "cette ligne est en UTF-8 alors que la ligne " + std::to_string(first_other) +
                      " est en Windows-1252 : fichier assemblé de deux sources ? Enregistrez-le en entier au format « CSV UTF-8 »";
  return d;
}

}  // namespace

Decoded decode_to_utf8(std::string_view bytes) {
  using namespace std::string_view_literals;
  if (bytes.starts_with("\xEF\xBB\xBF"sv)) {
    bytes.remove_prefix(3);
    if (!text::is_valid_utf8(bytes)) return convert(bytes, "UTF-8", "utf-8");  // names the bad byte and line
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
  if (text::is_valid_utf8(bytes)) return Decoded{std::string(bytes), "utf-8", {}};
  // Not UTF-8: Excel's "CSV (séparateur : point-virgule)" on a French Windows.
  // Latin-1 would be wrong for "€", "œ" and typographic quotes (0x80..0x9F).
  // A byte Windows-1252 leaves undefined is refused with its line.
  if (auto mixed = mixed_encodings(bytes)) return std::move(*mixed);
  if (const auto bad = text::first_undefined_windows_1252(bytes); bad != std::string_view::npos)
    return Decoded{{}, "windows-1252", undefined_byte(bytes, bad, "windows-1252"), line_at(bytes.substr(0, bad))};
  return Decoded{text::windows_1252_to_utf8(bytes), "windows-1252", {}};
}

}  // namespace relance::csv
