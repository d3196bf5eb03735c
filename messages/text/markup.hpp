// Text inside HTML or XML that relance writes itself (an email's paragraphs,
// a Matrix pill's display name, an SMS gateway's XML body): the five
// characters that could open markup become entities, nothing else changes
// (line breaks kept). Pure std.
#pragma once

#include <string>
#include <string_view>

namespace relance::text {

// & < > " ' as &amp; &lt; &gt; &quot; &#39; (HTML 4 has no &apos;).
std::string html_entities(std::string_view text);
// The same with XML's &apos; for the apostrophe.
std::string xml_entities(std::string_view text);

}  // namespace relance::text
