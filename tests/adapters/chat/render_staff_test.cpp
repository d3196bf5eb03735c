// Learner text shown to staff does nothing but show: no mention, no Markdown,
// no HTML (messages/render/staff.hpp).
#include "messages/render/staff.hpp"
#include "messages/catalog.hpp"

#include <catch2/catch.hpp>

using namespace relance::render;

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
  CHECK(escape_markdown("[clic](http://x)") == "\\[clic\\](http://x)");
  CHECK(escape_markdown("# titre") == "\\# titre");
  CHECK(escape_markdown("<b>") == "\\<b>");  // "<" escaped: no tag, no autolink
  CHECK(escape_markdown("a\\b") == "a\\\\b");
  CHECK(escape_markdown("Élodie Müller, 12 ans") == "Élodie Müller, 12 ans");
  CHECK(escape_markdown("1. premier\n- liste\n> citation\n===") == "1\\. premier\n\\- liste\n\\> citation\n\\===");
  CHECK(escape_markdown(":smile: ~canal a|b &amp;") == "\\:smile: \\~canal a\\|b \\&amp;");
  // Ordinary punctuation in a sentence is no syntax: left as typed.
  CHECK(escape_markdown("Rendez-vous le 12/01 à 10:00 (salle 3). Merci !") ==
        "Rendez-vous le 12/01 à 10:00 (salle 3). Merci !");
  CHECK(escape_markdown("jean_dupont, _moi_") == "jean_dupont, \\_moi\\_");
}

TEST_CASE("an email address is no mention: it stays an address", "[chat][escape]") {
  for (const std::string address : {"jean.dupont@exemple.fr", "alice+cours@ecole.fr", "é@x.fr"}) {
    INFO(address);
    CHECK(defuse_mentions(address) == address);
    CHECK(escape_plain(address) == address);
    CHECK(escape_markdown(address) == address);
    CHECK(escape_html(address) == address);
  }
  // Mentions at a word's start still are defused, in the same text too.
  CHECK(defuse_mentions("jean@exemple.fr ou @alice, (@here) @room:x.org") ==
        "jean@exemple.fr ou @" + wj + "alice, (@" + wj + "here) @" + wj + "room:x.org");
  CHECK(defuse_mentions("@ bientôt, a @ b") == "@ bientôt, a @ b");
}

TEST_CASE("relance's own words are kept as written, only values are escaped", "[chat][escape]") {
  using relance::messages::fill;
  using relance::messages::FillStyle;
  FillStyle chat;
  chat.mark_values = true;
  chat.literals["cmd"] = "@relance-bot ";
  const auto text = fill("Dossier #{case} : {learner} ({contact}). Pour le prendre : {cmd}prendre {case}",
                         {{"case", "1"}, {"learner", "**@all**"}, {"contact", "alice.durand@exemple.fr"}}, chat);
  CHECK(escape_markdown(text) ==
        "Dossier #1 : \\*\\*@" + wj + "all\\*\\* (alice.durand@exemple.fr). Pour le prendre : @relance-bot prendre 1");
  CHECK(escape_plain(text) == "Dossier #1 : **@" + wj + "all** (alice.durand@exemple.fr). Pour le prendre : @relance-bot prendre 1");
  CHECK(escape_html(fill("<moyen> {x}", {{"x", "<b>@room</b>"}}, chat)) == "&lt;moyen&gt; &lt;b&gt;@" + wj + "room&lt;/b&gt;");
  // No template value at all: nothing escaped either.
  CHECK(escape_markdown(fill("Tapez « {cmd}aide ».", {}, chat)) == "Tapez « @relance-bot aide ».");
  // A value cannot forge a span end to get its markup through.
  const auto forged = fill("{x}", {{"x", "a\uE001**b**\uE000c"}}, chat);
  CHECK(escape_markdown(forged) == "a\\*\\*b\\*\\*c");
  // The console's form: no prefix, no marks.
  CHECK(fill("{asker}{cmd}prendre {case}", {{"case", "2"}}) == "prendre 2");
  CHECK(relance::messages::strip_marks(text).find("\uE000") == std::string::npos);
}

TEST_CASE("HTML is escaped and newlines kept", "[chat][escape]") {
  CHECK(escape_html("<script>alert('x')</script>") == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
  CHECK(escape_html("a & b \"c\"\nd") == "a &amp; b &quot;c&quot;<br>d");
  CHECK(escape_html("ç « œ »") == "ç « œ »");
}
