// The small helpers every layer shares, one copy each (issue 11, item 8):
// ASCII case, HTML/XML entities, percent-encoding, SHA-256 hex, hook requests.
#include "messages/text/ascii.hpp"
#include "adapters/common/digest.hpp"
#include "adapters/common/form.hpp"
#include "adapters/common/hook_request.hpp"
#include "messages/text/markup.hpp"

#include <catch2/catch.hpp>

using namespace relance;

TEST_CASE("text: ASCII case only", "[common][text]") {
  CHECK(text::iequals("Content-Type", "content-TYPE"));
  CHECK_FALSE(text::iequals("Content-Type", "Content-Typ"));
  CHECK(text::iequals("", ""));
  CHECK_FALSE(text::iequals("\xC3\x89", "\xC3\xA9"));  // É is not é here: bytes beyond ASCII compare as they are
}

TEST_CASE("text: HTML and XML entities", "[common][text]") {
  // Moved from the Matrix wire test, where html_escape wrapped this function.
  CHECK(text::html_entities("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  CHECK(text::xml_entities("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
  CHECK(text::html_entities("ligne 1\nligne 2 é") == "ligne 1\nligne 2 é");
}

TEST_CASE("percent-encoding: RFC 3986 and the form serializer differ on space, '*' and '~'", "[common][form]") {
  CHECK(net::percent_encode("!abc:fake.test") == "%21abc%3Afake.test");
  CHECK(net::percent_encode("a b*~é") == "a%20b%2A~%C3%A9");
  CHECK(net::form_escape("a b*~é") == "a+b*%7E%C3%A9");
}

TEST_CASE("digest: SHA-256 and HMAC-SHA256 as lowercase hex", "[common][digest]") {
  CHECK(net::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(net::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  CHECK(net::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("hook request: a header by name whatever its case, the first one wins", "[common][hook]") {
  net::HookRequest r{"POST", "/hooks/x", {{"content-type", "text/plain"}, {"X-A", "1"}, {"x-a", "2"}}, "body"};
  CHECK(r.header("Content-Type") == "text/plain");
  CHECK(r.header("X-a") == "1");
  CHECK(r.header("Authorization").empty());
}
