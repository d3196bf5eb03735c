// How long a text is as SMS (3GPP TS 23.038 "GSM 03.38" alphabet, TS 23.040
// concatenation), so the messages layer can keep a relaunch to one part and
// the outbox can count what an operator will bill.
//
// Encoding: GSM-7 when every character is in the default alphabet or its
// extension table, otherwise UCS-2 for the whole message (a single ê, ç, â,
// œ, « », ’, …, a no-break space or an emoji is enough). No transliteration
// and no Unicode normalisation happen here: this measures exactly the text it
// is given (a decomposed "e" + U+0301 is UCS-2). Substituting ’ by ' or the
// no-break spaces of French typography by spaces is a rendering choice that
// belongs to `messages/`.
//
// Limits: one part holds 160 septets or 70 UTF-16 units; a concatenated
// message loses 6 octets of each part to the user data header, leaving 153
// septets or 67 units. An extension character (^ { } \ [ ] ~ | € and form
// feed) is ESC + code, 2 septets that are never split across parts; an emoji
// is a UTF-16 surrogate pair that is never split either (handsets decode each
// part on its own). Parts are therefore counted by walking the characters,
// as Android and Kannel do, not by dividing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace relance {

enum class SmsEncoding : std::uint8_t { gsm7, ucs2 };

struct SmsLength {
  SmsEncoding encoding = SmsEncoding::gsm7;
  int units = 0;     // septets (an extension character counts 2), or UTF-16 code units
  int parts = 0;     // 0 for the empty text: there is nothing to send
  int per_part = 0;  // 160 / 70 for a single part, 153 / 67 once concatenated
};

// Never throws on bad input: a byte sequence that is not UTF-8 stands for
// U+FFFD (one per maximal invalid subpart, as Unicode recommends), which
// makes the text UCS-2.
SmsLength sms_length(std::string_view utf8);

// The texts of the parts, cut where `sms_length` counts the boundaries (the
// vector has `parts` elements). For valid UTF-8 their concatenation is the
// input; invalid sequences come out as U+FFFD so a gateway always gets UTF-8.
std::vector<std::string> sms_split(std::string_view utf8);

// The text with the characters of French (and common Latin) typography that
// GSM-7 lacks replaced by their closest GSM-7 form (used by fit_sms only
// when the text as written would exceed the parts limit): ç -> c, ê ë -> e, â -> a,
// î ï -> i, ô -> o, û -> u, œ -> oe, ’ ‘ -> ', « » “ ” -> ", … -> ...,
// – — -> -, no-break spaces -> space. A learner called François would
// otherwise turn the whole relaunch into UCS-2 (70 characters a part instead
// of 160): "Bonjour Francois" reads the same and costs a third. Characters
// with no close form (emoji, other scripts) are kept: the text then goes as
// UCS-2, exactly as given. For SMS only; email and Matrix keep the text.
std::string gsm7_fold(std::string_view utf8);

// What is sent for `utf8` under a parts limit: the text as written when it
// fits (accents intact, UCS-2 if need be), else its gsm7_fold when that fits,
// else the text as written (too long either way: the caller refuses it).
// max_parts <= 0: no limit, the text as written.
std::string fit_sms(std::string_view utf8, int max_parts);

}  // namespace relance
