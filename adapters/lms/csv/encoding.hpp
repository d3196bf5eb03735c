// Which bytes a CSV file holds, and the same text in UTF-8. Excel on Windows
// saves "CSV (séparateur : point-virgule)" in Windows-1252, "CSV UTF-8" with a
// BOM, and "Texte Unicode" in UTF-16 with a BOM; Moodle downloads are UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace relance::csv {

struct Decoded {
  std::string text;      // UTF-8, byte order mark removed
  std::string encoding;  // "utf-8" | "windows-1252" | "utf-16le" | "utf-16be"
  std::string error;     // why the bytes cannot be read, in French
  int error_line = 0;    // the line it happened on (1-based), 0 for the whole file
  bool ok() const { return error.empty(); }
};

// UTF-8 when the bytes are valid UTF-8 (with or without BOM), UTF-16 when a
// UTF-16 BOM says so, Windows-1252 otherwise. UTF-16 converted with iconv.
Decoded decode_to_utf8(std::string_view bytes);

}  // namespace relance::csv
