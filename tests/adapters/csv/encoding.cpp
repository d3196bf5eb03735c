// Encoding detection and conversion to UTF-8.
#include "messages/text/utf8.hpp"
#include "adapters/lms/csv/encoding.hpp"

#include <catch2/catch.hpp>

using relance::csv::decode_to_utf8;
using relance::text::is_valid_utf8;

TEST_CASE("encoding: plain UTF-8 stays as it is", "[csv][encoding]") {
  const auto d = decode_to_utf8("Pr\xC3\xA9nom;Nom\n\xC3\x89lodie;Fran\xC3\xA7ois\n");
  REQUIRE(d.ok());
  CHECK(d.encoding == "utf-8");
  CHECK(d.text == "Pr\xC3\xA9nom;Nom\n\xC3\x89lodie;Fran\xC3\xA7ois\n");
}

TEST_CASE("encoding: the UTF-8 BOM is removed", "[csv][encoding]") {
  const auto d = decode_to_utf8("\xEF\xBB\xBFid,nom\n");
  REQUIRE(d.ok());
  CHECK(d.encoding == "utf-8");
  CHECK(d.text == "id,nom\n");
}

TEST_CASE("encoding: Windows-1252 from Excel becomes UTF-8", "[csv][encoding]") {
  // "Élodie;Cœur;€;«ok»" as a French Windows Excel writes it.
  const auto d = decode_to_utf8("\xC9lodie;C\x9C" "ur;\x80;\xABok\xBB\n");
  REQUIRE(d.ok());
  CHECK(d.encoding == "windows-1252");
  CHECK(d.text == "\xC3\x89lodie;C\xC5\x93ur;\xE2\x82\xAC;\xC2\xABok\xC2\xBB\n");
}

TEST_CASE("encoding: a byte Windows-1252 does not define is an error with its line", "[csv][encoding]") {
  const auto d = decode_to_utf8("a;b\n\xE9t\xE9;x\nz\x81;y\n");
  REQUIRE_FALSE(d.ok());
  CHECK(d.error_line == 3);
  CHECK_THAT(d.error, Catch::Contains("0x81") && Catch::Contains("windows-1252"));
}

TEST_CASE("encoding: UTF-16 with a BOM (Excel's Unicode text)", "[csv][encoding]") {
  const std::string le("\xFF\xFE" "A\0;\0\xC9\0\n\0", 10);
  const auto d = decode_to_utf8(le);
  REQUIRE(d.ok());
  CHECK(d.encoding == "utf-16le");
  CHECK(d.text == "A;\xC3\x89\n");
}

TEST_CASE("encoding: an Excel workbook or binary file is refused with advice", "[csv][encoding]") {
  const auto xlsx = decode_to_utf8(std::string("PK\x03\x04\x14\0\0\0", 8));
  REQUIRE_FALSE(xlsx.ok());
  CHECK_THAT(xlsx.error, Catch::Contains("xlsx") && Catch::Contains("CSV"));
  const auto bin = decode_to_utf8(std::string("a,b\n\0\x01", 6));
  REQUIRE_FALSE(bin.ok());
  CHECK(bin.error_line == 2);
  CHECK_THAT(bin.error, Catch::Contains("octet nul"));
}

TEST_CASE("encoding: strict UTF-8 validation", "[csv][encoding]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii text that is longer than eight bytes"));
  CHECK(is_valid_utf8("\xE2\x82\xAC \xF0\x9F\x98\x80"));  // € and an emoji
  CHECK_FALSE(is_valid_utf8("\xC9lodie"));                 // Windows-1252 É
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));                  // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));              // surrogate
  CHECK_FALSE(is_valid_utf8("abc\xE2\x82"));               // cut in the middle
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));          // above U+10FFFF
}

TEST_CASE("encoding: a file mixing UTF-8 and Windows-1252 lines is refused at the line where it changes",
          "[csv][encoding]") {
  // UTF-8 first, a Windows-1252 line later: read as Windows-1252 it gave "ZoÃ©".
  const auto later = decode_to_utf8("id;nom\n1;Zo\xC3\xA9\n2;Jean\n3;L\xE9" "a\n");
  REQUIRE_FALSE(later.ok());
  CHECK(later.error_line == 4);
  CHECK_THAT(later.error, Catch::Contains("Windows-1252") && Catch::Contains("ligne 2") && Catch::Contains("UTF-8"));
  // Windows-1252 first, then a UTF-8 line.
  const auto earlier = decode_to_utf8("id;nom\n1;L\xE9" "a\n2;Zo\xC3\xA9\n");
  REQUIRE_FALSE(earlier.ok());
  CHECK(earlier.error_line == 3);
  CHECK_THAT(earlier.error, Catch::Contains("ligne 2"));
}
