// SMS length (3GPP TS 23.038 alphabet, TS 23.040 concatenation) on the texts
// relance actually sends: French accents that GSM-7 has and those it lacks,
// the exact part boundaries, and the characters that must not be cut in two
// (an escaped €, an emoji's surrogate pair).
#include "bot/domain/sms_text.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace relance;

namespace {

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// A plain GSM-7 relaunch text (ASCII only, so bytes = septets), cut to n.
std::string gsm_text(std::size_t n) {
  const std::string sentence = "Bonjour, nous ne vous avons pas vu en formation depuis 10 jours. ";
  std::string out;
  while (out.size() < n) out += sentence;
  out.resize(n);
  return out;
}

void check(std::string_view text, SmsEncoding encoding, int units, int parts, int per_part) {
  INFO("text: " << text);
  const SmsLength l = sms_length(text);
  CHECK(l.encoding == encoding);
  CHECK(l.units == units);
  CHECK(l.parts == parts);
  CHECK(l.per_part == per_part);
}

// Every part fits, and putting them back together gives the text. (A part
// is measured on its own, so it is only comparable when it has the whole
// text's encoding: a UCS-2 text may have a part with no ê left in it.)
void check_split(std::string_view text) {
  INFO("text: " << text);
  const SmsLength whole = sms_length(text);
  const std::vector<std::string> parts = sms_split(text);
  REQUIRE(int(parts.size()) == whole.parts);
  std::string joined;
  for (const std::string& p : parts) {
    const SmsLength l = sms_length(p);
    CHECK(l.units > 0);
    if (l.encoding == whole.encoding) CHECK(l.units <= whole.per_part);
    joined += p;
  }
  CHECK(joined == text);
}

}  // namespace

TEST_CASE("sms: an ê makes a French text UCS-2", "[sms]") {
  check("Bonjour Élodie, vous n'êtes pas venue depuis 10 jours", SmsEncoding::ucs2, 53, 1, 70);
}

TEST_CASE("sms: é, è, à and É are in the GSM alphabet, one septet each", "[sms]") {
  check("Bonjour Élodie, votre formation reprend lundi à 9h. Répondez à ce SMS si vous avez une question.",
        SmsEncoding::gsm7, 96, 1, 160);
}

TEST_CASE("sms: « guillemets » make a text UCS-2", "[sms]") {
  check("Votre rendez-vous « bilan » est demain à 14h", SmsEncoding::ucs2, 44, 1, 70);
}

TEST_CASE("sms: which characters GSM-7 has, and at what cost", "[sms]") {
  struct C { const char* text; int septets; };  // 0: not in GSM-7
  const C table[] = {
      // basic table
      {"@", 1}, {"$", 1}, {"_", 1}, {"\n", 1}, {"\r", 1}, {"é", 1}, {"è", 1}, {"ù", 1}, {"ì", 1}, {"ò", 1},
      {"à", 1}, {"Ç", 1}, {"É", 1}, {"Ä", 1}, {"Ö", 1}, {"Ñ", 1}, {"Ü", 1}, {"§", 1}, {"¿", 1}, {"¡", 1},
      {"ä", 1}, {"ö", 1}, {"ñ", 1}, {"ü", 1}, {"ø", 1}, {"Ø", 1}, {"å", 1}, {"Å", 1}, {"Æ", 1}, {"æ", 1},
      {"ß", 1}, {"£", 1}, {"¥", 1}, {"¤", 1}, {"Δ", 1}, {"Φ", 1}, {"Γ", 1}, {"Λ", 1}, {"Ω", 1}, {"Π", 1},
      {"Ψ", 1}, {"Σ", 1}, {"Θ", 1}, {"Ξ", 1},
      // extension table: ESC + code
      {"^", 2}, {"{", 2}, {"}", 2}, {"\\", 2}, {"[", 2}, {"~", 2}, {"]", 2}, {"|", 2}, {"€", 2}, {"\f", 2},
      // not in GSM-7: the French accents it lacks, French typography, the rest
      {"ê", 0}, {"ç", 0}, {"â", 0}, {"î", 0}, {"ô", 0}, {"û", 0}, {"ë", 0}, {"ï", 0}, {"œ", 0}, {"Œ", 0},
      {"È", 0}, {"À", 0}, {"Ê", 0}, {"«", 0}, {"»", 0}, {"’", 0}, {"…", 0}, {"\u00A0", 0}, {"\u202F", 0},
      {"–", 0}, {"`", 0}, {"\t", 0}, {"Α", 0} /* Greek capital alpha */, {"😀", 0}, {"e\u0301", 0},
  };
  for (const C& c : table) {
    INFO("char: " << c.text);
    const SmsLength l = sms_length(c.text);
    if (c.septets == 0) {
      CHECK(l.encoding == SmsEncoding::ucs2);
    } else {
      CHECK(l.encoding == SmsEncoding::gsm7);
      CHECK(l.units == c.septets);
    }
  }
}

TEST_CASE("sms: GSM-7 single part up to 160 septets, then 153 per part", "[sms]") {
  check(gsm_text(160), SmsEncoding::gsm7, 160, 1, 160);
  check(gsm_text(161), SmsEncoding::gsm7, 161, 2, 153);
  check(gsm_text(306), SmsEncoding::gsm7, 306, 2, 153);
  check(gsm_text(307), SmsEncoding::gsm7, 307, 3, 153);
  check(gsm_text(459), SmsEncoding::gsm7, 459, 3, 153);
  check_split(gsm_text(161));
  check_split(gsm_text(306));
  check_split(gsm_text(307));
  CHECK(sms_split(gsm_text(306))[0] == gsm_text(153));
}

TEST_CASE("sms: a € counts two septets", "[sms]") {
  check("Reste à payer : 30 € avant le 15.", SmsEncoding::gsm7, 34, 1, 160);
  check(gsm_text(158) + "€", SmsEncoding::gsm7, 160, 1, 160);  // ends exactly at 160
  check(gsm_text(159) + "€", SmsEncoding::gsm7, 161, 2, 153);
}

TEST_CASE("sms: a € at a part boundary moves whole to the next part", "[sms]") {
  // 152 + 2 would straddle septets 153-154: ESC must not end a part.
  const std::string text = gsm_text(152) + "€" + gsm_text(152);
  check(text, SmsEncoding::gsm7, 306, 3, 153);  // 306 septets, yet 3 parts
  const auto parts = sms_split(text);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0] == gsm_text(152));
  CHECK(parts[1] == "€" + gsm_text(151));
  CHECK(parts[2] == gsm_text(152).substr(151));
  check_split(text);

  // One septet earlier it fits exactly.
  const std::string fits = gsm_text(151) + "€" + gsm_text(153);
  check(fits, SmsEncoding::gsm7, 306, 2, 153);
  CHECK(sms_split(fits)[0] == gsm_text(151) + "€");
}

TEST_CASE("sms: UCS-2 single part up to 70 units, then 67 per part", "[sms]") {
  check(repeat("ê", 70), SmsEncoding::ucs2, 70, 1, 70);
  check(repeat("ê", 71), SmsEncoding::ucs2, 71, 2, 67);
  check(repeat("ê", 134), SmsEncoding::ucs2, 134, 2, 67);
  check(repeat("ê", 135), SmsEncoding::ucs2, 135, 3, 67);
  check_split(repeat("ê", 135));
  // One ç in a long GSM-looking text turns the whole of it UCS-2.
  check(gsm_text(100) + "ç", SmsEncoding::ucs2, 101, 2, 67);
}

TEST_CASE("sms: an emoji is two UTF-16 units", "[sms]") {
  check("Bravo 👏", SmsEncoding::ucs2, 8, 1, 70);
  check(repeat("ê", 68) + "😀", SmsEncoding::ucs2, 70, 1, 70);
  check(repeat("ê", 69) + "😀", SmsEncoding::ucs2, 71, 2, 67);
}

TEST_CASE("sms: an emoji at a part boundary is not split into halves", "[sms]") {
  const std::string text = repeat("ê", 66) + "😀" + repeat("ê", 66);
  check(text, SmsEncoding::ucs2, 134, 3, 67);  // 2 x 67 units, yet 3 parts
  const auto parts = sms_split(text);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0] == repeat("ê", 66));
  CHECK(parts[1] == "😀" + repeat("ê", 65));
  CHECK(parts[2] == "ê");
  check_split(text);
}

TEST_CASE("sms: a long real relaunch is split where a handset would", "[sms]") {
  const std::string text =
      "Bonjour Élodie, nous n'avons pas eu de vos nouvelles depuis le 3 mars. Votre formation "
      "« Bureautique » reste ouverte : reconnectez-vous quand vous voulez, ou répondez à ce message "
      "pour qu'on en parle. Belle journée ! L'équipe pédagogique 🙂";
  const SmsLength l = sms_length(text);
  CHECK(l.encoding == SmsEncoding::ucs2);
  CHECK(l.per_part == 67);
  CHECK(l.parts == 4);
  check_split(text);
}

TEST_CASE("sms: the empty text has nothing to send", "[sms]") {
  check("", SmsEncoding::gsm7, 0, 0, 160);
  CHECK(sms_split("").empty());
}

TEST_CASE("sms: invalid UTF-8 counts as U+FFFD and makes the text UCS-2", "[sms]") {
  check("Bonjour \xFF", SmsEncoding::ucs2, 9, 1, 70);
  check("Bonjour \xC3", SmsEncoding::ucs2, 9, 1, 70);              // truncated é
  check("\xF0\x9F\x98 ok", SmsEncoding::ucs2, 4, 1, 70);           // truncated emoji: one U+FFFD
  check("\xED\xA0\x80", SmsEncoding::ucs2, 3, 1, 70);              // encoded surrogate: 3 x U+FFFD
  check("\xC0\xAF", SmsEncoding::ucs2, 2, 1, 70);                  // overlong '/'
  check("\xF4\x90\x80\x80", SmsEncoding::ucs2, 4, 1, 70);          // past U+10FFFF
  check(std::string_view("a\0b", 3), SmsEncoding::ucs2, 3, 1, 70);  // NUL is not '@'
  const auto parts = sms_split("Bonjour \xFF!");
  REQUIRE(parts.size() == 1);
  CHECK(parts[0] == "Bonjour \xEF\xBF\xBD!");
  // A long invalid text is cut without crashing and every part is UTF-8.
  const std::string junk = repeat("\xFF\xC3", 100);
  const SmsLength l = sms_length(junk);
  CHECK(l.units == 200);
  CHECK(l.parts == 3);
  for (const std::string& p : sms_split(junk)) CHECK(p == repeat("\xEF\xBF\xBD", int(sms_length(p).units)));
}
