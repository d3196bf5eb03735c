#include "messages/text/markup.hpp"

namespace relance::text {

namespace {

std::string entities(std::string_view text, std::string_view apostrophe) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += apostrophe; break;
      default: out += ch;
    }
  }
  return out;
}

}  // namespace

std::string html_entities(std::string_view text) { return entities(text, "&#39;"); }
std::string xml_entities(std::string_view text) { return entities(text, "&apos;"); }

}  // namespace relance::text
