// The CSV reader: RFC 4180 quoting, line numbers, separators.
#include "adapters/lms/csv/csv_reader.hpp"

#include <catch2/catch.hpp>

using relance::csv::detect_separator;
using relance::csv::read_all;
using relance::csv::Reader;
using relance::csv::Record;

namespace {
std::vector<std::string> fields(const Record& r) { return r.fields; }
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("csv reader: plain records, CRLF, LF and CR line ends", "[csv]") {
  for (std::string_view eol : {"\n", "\r\n", "\r"}) {
    const std::string text = "a,b,c" + std::string(eol) + "1,2,3" + std::string(eol);
    const auto recs = read_all(text, ',');
    REQUIRE(recs.size() == 2);
    CHECK(fields(recs[0]) == V{"a", "b", "c"});
    CHECK(fields(recs[1]) == V{"1", "2", "3"});
    CHECK(recs[1].line == 2);
  }
}

TEST_CASE("csv reader: quoted fields hold separators, doubled quotes and newlines", "[csv]") {
  const std::string text =
      "id;nom;note\n"
      "1;\"Dupont; Jean\";\"il a dit \"\"bonjour\"\"\"\n"
      "2;\"sur\r\ndeux lignes\";x\n"
      "3;\"\";\n";
  const auto recs = read_all(text, ';');
  REQUIRE(recs.size() == 4);
  CHECK(fields(recs[1]) == V{"1", "Dupont; Jean", "il a dit \"bonjour\""});
  CHECK(fields(recs[2]) == V{"2", "sur\ndeux lignes", "x"});
  CHECK(recs[2].line == 3);
  // The record after a two-line field starts on line 5, not 4.
  CHECK(recs[3].line == 5);
  CHECK(fields(recs[3]) == V{"3", "", ""});
}

TEST_CASE("csv reader: empty lines are skipped but still counted", "[csv]") {
  const auto recs = read_all("a,b\n\n\r\n1,2\n\n", ',');
  REQUIRE(recs.size() == 2);
  CHECK(recs[1].line == 4);
}

TEST_CASE("csv reader: a UTF-8 BOM is not part of the first header", "[csv]") {
  const auto recs = read_all("\xEF\xBB\xBFPr\xC3\xA9nom,Nom\nA,B", ',');
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].fields[0] == "Pr\xC3\xA9nom");
  CHECK(fields(recs[1]) == V{"A", "B"});
}

TEST_CASE("csv reader: a quote inside an unquoted field is kept, as Excel does", "[csv]") {
  const auto recs = read_all("a,5\" tablet,c\n", ',');
  REQUIRE(recs.size() == 1);
  CHECK(fields(recs[0]) == V{"a", "5\" tablet", "c"});
}

TEST_CASE("csv reader: an unterminated quote is an error naming the line it opened on", "[csv]") {
  Reader reader("a,b\n1,2\n3,\"open\n4,5\n", ',');
  Record r;
  CHECK(reader.next(r) == Reader::Status::record);
  CHECK(reader.next(r) == Reader::Status::record);
  CHECK(reader.next(r) == Reader::Status::error);
  CHECK(reader.error_line() == 3);
  CHECK_THAT(reader.error(), Catch::Contains("guillemet"));
  // It stays in error: nothing after it is read as data.
  CHECK(reader.next(r) == Reader::Status::error);
}

TEST_CASE("csv reader: text after a closing quote is an error, spaces are tolerated", "[csv]") {
  CHECK(read_all("\"a\"  ,b\n", ',')[0].fields == V{"a", "b"});
  CHECK_THROWS_WITH(read_all("x\n\"a\"b,c\n", ','), Catch::Contains("ligne 2"));
}

TEST_CASE("csv reader: a trailing separator gives an empty last field", "[csv]") {
  const auto recs = read_all("a,b,", ',');
  REQUIRE(recs.size() == 1);
  CHECK(fields(recs[0]) == V{"a", "b", ""});
}

TEST_CASE("csv separator detection: comma, semicolon, tab", "[csv]") {
  CHECK(detect_separator("id,nom,email\n1,Dupont,a@b.fr\n") == ',');
  CHECK(detect_separator("id;nom;email\n1;Dupont;a@b.fr\n") == ';');
  CHECK(detect_separator("id\tnom\temail\n1\tDupont\ta@b.fr\n") == '\t');
  // French Excel: ';' with decimal commas in the data.
  CHECK(detect_separator("nom;note;moyenne\nDupont;12,5;13,25\nMartin;9,5;10\n") == ';');
  // A comma inside a header does not fool it when the lines split on ';'.
  CHECK(detect_separator("\"Nom, prénom\";Courriel\nA;a@b.fr\nB;b@b.fr\n") == ';');
  CHECK(detect_separator("Nom, prénom;Courriel\nA;a@b.fr\nB;b@b.fr\n") == ';');
  // Moodle's Participants page copied from the browser is tab-separated.
  CHECK(detect_separator("Prénom / Nom\tAdresse de courriel\tVille\tPays\tDernier accès\n") == '\t');
  // A single column: nothing splits, ',' by default.
  CHECK(detect_separator("email\na@b.fr\n") == ',');
}

TEST_CASE("csv reader: a field over the limit is not copied, the record says which and how long", "[csv]") {
  const std::string text = "a,b\n1," + std::string(1000, 'x') + "\n2,\"" + std::string(1000, 'y') + "\"\n3,ok\n";
  relance::csv::Reader reader(text, ',', 100);
  relance::csv::Record r;
  REQUIRE(reader.next(r) == relance::csv::Reader::Status::record);
  CHECK(r.too_long_field == -1);
  for (int line : {2, 3}) {
    REQUIRE(reader.next(r) == relance::csv::Reader::Status::record);
    CHECK(r.line == line);
    CHECK(r.too_long_field == 1);
    CHECK(r.too_long_bytes == 1000);
    CHECK(r.fields[1].size() <= 100);
  }
  REQUIRE(reader.next(r) == relance::csv::Reader::Status::record);
  CHECK(r.too_long_field == -1);
  CHECK(r.fields[1] == "ok");
}
