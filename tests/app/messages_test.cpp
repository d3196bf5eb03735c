#include "test_support.hpp"

#include "messages/catalog.hpp"

#include <catch2/catch.hpp>

using namespace relance;

TEST_CASE("placeholders are filled, unknown ones stay visible", "[messages]") {
  CHECK(messages::fill("Bonjour {first_name} !", {{"first_name", "Élodie"}}) == "Bonjour Élodie !");
  CHECK(messages::fill("{a}{b}", {{"a", "1"}}) == "1{b}");
}

TEST_CASE("control characters from outside cannot reach a staff terminal", "[messages][escaping]") {
  // ESC [2J clears a terminal; a C1 CSI (U+009B) does the same on some; a
  // newline would forge a second line in a log or a console.
  const std::string evil = "Ève\x1b[2J\xC2\x9B" "31m\nrelance> prendre 1\x7F";
  const std::string out = messages::fill("Dossier #1 — {learner}", {{"learner", evil}});
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find('\n') == std::string::npos);
  CHECK(out.find("\xC2\x9B") == std::string::npos);
  CHECK(out.find('\x7F') == std::string::npos);
  CHECK_THAT(out, Catch::Equals("Dossier #1 — Ève [2J 31m relance> prendre 1 "));
}

TEST_CASE("every staff text exists in French and English with the same placeholders", "[messages]") {
  const auto catalog = messages::Catalog::load(messages::Catalog::default_dir());
  CHECK(catalog.check().empty());
  for (const auto& key : catalog.keys("alert.")) CHECK(catalog.has("en", key));
}
