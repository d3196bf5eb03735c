#include "messages/render/learner.hpp"

#include "messages/text/markup.hpp"

#include <algorithm>

namespace relance::render {

namespace {

std::string linkify(std::string_view line) {
  std::string out;
  std::size_t i = 0;
  while (i < line.size()) {
    const auto a = line.find("http://", i), b = line.find("https://", i);
    const auto start = std::min(a, b);
    if (start == std::string_view::npos) {
      out += text::html_entities(line.substr(i));
      break;
    }
    out += text::html_entities(line.substr(i, start - i));
    auto end = line.find_first_of(" \t<>\"", start);
    if (end == std::string_view::npos) end = line.size();
    // A sentence's final punctuation is not part of the link.
    while (end > start && std::string_view(".,;:!?)").find(line[end - 1]) != std::string_view::npos) --end;
    const std::string url = text::html_entities(line.substr(start, end - start));
    out += "<a href=\"" + url + "\">" + url + "</a>";
    i = end;
  }
  return out;
}

}  // namespace

std::string paragraphs_html(std::string_view text) {
  std::string out, para;
  auto flush = [&] {
    if (!para.empty()) out += "<p>" + para + "</p>\n";
    para.clear();
  };
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    auto line = text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) flush();
    else para += (para.empty() ? "" : "<br>\n") + linkify(line);
    pos = nl + 1;
  }
  flush();
  return out;
}

LearnerText learner_text(const messages::Catalog& catalog, std::string_view lang, std::string_view template_key,
                         const Params& params) {
  const std::string key(template_key);
  LearnerText t;
  t.sms = catalog.render(lang, key + ".sms", params);
  t.subject = catalog.render(lang, key + ".email_subject", params);
  t.body = catalog.render(lang, key + ".email_body", params);
  t.html = paragraphs_html(t.body);
  return t;
}

}  // namespace relance::render
