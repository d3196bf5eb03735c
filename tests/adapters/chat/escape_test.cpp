// Learner text shown to staff does nothing but show: no mention, no Markdown,
// no HTML (chat/escape.hpp).
#include "adapters/chat/escape.hpp"

#include <catch2/catch.hpp>

using namespace relance::chat;

namespace {
const std::string wj = "\u2060";  // word joiner
}

TEST_CASE("mentions are defused in every format", "[chat][escape]") {
  CHECK(defuse_mentions("@all viens voir") == "@" + wj + "all viens voir");
  CHECK(escape_plain("@room") == "@" + wj + "room");
  CHECK(escape_markdown("@channel").find("@" + wj + "channel") != std::string::npos);
  CHECK(escape_html("@here") == "@" + wj + "here");
  CHECK(defuse_mentions("sans arobase") == "sans arobase");
}

TEST_CASE("Markdown syntax is escaped", "[chat][escape]") {
  CHECK(escape_markdown("**gras** _it_ `code`") == "\\*\\*gras\\*\\* \\_it\\_ \\`code\\`");
  CHECK(escape_markdown("[clic](http://x)") == "\\[clic\\]\\(http\\://x\\)");
  CHECK(escape_markdown("# titre") == "\\# titre");
  CHECK(escape_markdown("<b>") == "\\<b\\>");
  CHECK(escape_markdown("a\\b") == "a\\\\b");
  CHECK(escape_markdown("Élodie Müller, 12 ans") == "Élodie Müller, 12 ans");
}

TEST_CASE("HTML is escaped and newlines kept", "[chat][escape]") {
  CHECK(escape_html("<script>alert('x')</script>") == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
  CHECK(escape_html("a & b \"c\"\nd") == "a &amp; b &quot;c&quot;<br>d");
  CHECK(escape_html("ç « œ »") == "ç « œ »");
}
