// UTF-8 and Windows-1252, the text helpers every adapter that reads bytes from
// outside needs (SMS from Kannel, CSV from Excel, received mail). Pure std.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace relance::text {

// Appends `c` in UTF-8. U+0000 is written as a NUL byte; a surrogate or a
// value above U+10FFFF (not a character) as U+FFFD.
void append_utf8(std::string& out, char32_t c);

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF,
// no truncated sequence.
bool is_valid_utf8(std::string_view bytes);

// `bytes` with each byte that does not start a well-formed UTF-8 sequence
// replaced by U+FFFD (one per bad byte).
std::string make_valid_utf8(std::string_view bytes);

// The character Windows-1252 puts at `byte`: its 0x80..0x9F where Latin-1 has
// C1 controls (HTML maps &#128;..&#159; the same way), U+FFFD for the five it
// leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D), Latin-1 elsewhere.
char32_t windows_1252_char(unsigned char byte);

// Offset of the first byte Windows-1252 leaves undefined, npos if none.
std::size_t first_undefined_windows_1252(std::string_view bytes);

// Windows-1252 bytes to UTF-8, the undefined bytes as U+FFFD. Decoded here
// rather than by iconv: it must not depend on the gconv modules installed.
std::string windows_1252_to_utf8(std::string_view bytes);

}  // namespace relance::text
