// Comparing what people typed: headers and Moodle's words, whatever the case,
// the accents or the kind of space.
#pragma once

#include <string>
#include <string_view>

namespace relance::csv {

// Lower-case ASCII, Latin-1 accents removed ("É" -> "e", "œ" -> "oe"),
// no-break and thin spaces, tabs and newlines as one space, trimmed.
// Other characters are kept as they are. Input is UTF-8.
std::string fold(std::string_view utf8);

// Leading and trailing ASCII white space removed.
std::string_view trim(std::string_view s);

// Lower-case ASCII only (e-mail addresses, ids).
std::string ascii_lower(std::string_view s);

}  // namespace relance::csv
