// A text for a learner, rendered for every channel it may go on: the SMS
// text, the email subject, its plain-text body and its HTML, the Matrix body
// and formatted body (the email's). One template family per message:
// `<key>.sms`, `<key>.email_subject`, `<key>.email_body` (messages/<lang>/).
#pragma once

#include "bot/domain/effects.hpp"
#include "messages/catalog.hpp"

#include <string>
#include <string_view>

namespace relance::render {

struct LearnerText {
  std::string sms;      // the SMS text, as written (the dispatcher fits it to [sms] max_parts)
  std::string subject;  // email subject
  std::string body;     // email / Matrix plain text
  std::string html;     // email / Matrix HTML (paragraphs, links), escaped
};

LearnerText learner_text(const messages::Catalog& catalog, std::string_view lang, std::string_view template_key,
                         const Params& params);

// Plain text to HTML: escaped, blank lines separate paragraphs, single
// newlines become <br>, http(s) links become anchors (a sentence's final
// punctuation stays out of the link).
std::string paragraphs_html(std::string_view text);

}  // namespace relance::render
