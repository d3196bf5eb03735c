// Phone numbers to E.164 with libphonenumber; invalid ones are reported, never guessed.
#include "bot/app/phone.hpp"

#include <catch2/catch.hpp>

using relance::app::normalize_phone;

TEST_CASE("phone: French forms become E.164", "[phone]") {
  for (std::string_view raw : {"06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "0612345678",
                               "+33 6 12 34 56 78", "+33612345678", "+33 (0)6 12 34 56 78", "0033 6 12 34 56 78",
                               "0033612345678", "  06 12 34 56 78  "}) {
    const auto r = normalize_phone(raw);
    INFO(raw << " -> " << r.error);
    CHECK(r.ok());
    CHECK(r.e164 == "+33612345678");
  }
  CHECK(normalize_phone("01 23 45 67 89").e164 == "+33123456789");
  CHECK(normalize_phone("07 81 23 45 67").e164 == "+33781234567");
}

TEST_CASE("phone: international numbers keep their own country", "[phone]") {
  CHECK(normalize_phone("+44 20 7946 0958").e164 == "+442079460958");
  CHECK(normalize_phone("+32 470 12 34 56").e164 == "+32470123456");
  // A national form is read in the region given.
  CHECK(normalize_phone("0470 12 34 56", "BE").e164 == "+32470123456");
}

TEST_CASE("phone: empty is not an error, just no phone", "[phone]") {
  CHECK(normalize_phone("").ok());
  CHECK(normalize_phone("   ").e164.empty());
}

TEST_CASE("phone: invalid numbers say why, in French, and are not guessed", "[phone]") {
  struct Case { std::string_view raw; std::string_view why; };
  for (const auto& c : {Case{"06 12", "trop court"}, Case{"06 12 34 56 78 90", "trop long"},
                        Case{"06 12 AB 56 78", "lettres"}, Case{"+999 12345", "indicatif pays inconnu"},
                        Case{"00 00 00 00 00", "non attribué"}, Case{"++33", "pas un numéro"},
                        Case{"voir secrétariat", "lettres"}}) {
    const auto r = normalize_phone(c.raw);
    INFO(c.raw << " -> " << r.error);
    CHECK_FALSE(r.ok());
    CHECK(r.e164.empty());
    CHECK_THAT(r.error, Catch::Contains(std::string(c.why)) && Catch::Contains("« " + std::string(c.raw) + " »"));
  }
}
