// application/x-www-form-urlencoded, as Moodle, Twilio and Mattermost slash
// commands speak it. Order is kept: Moodle's PHP bracket arrays
// (`options[0][name]=...&options[0][value]=...`) are just ordered pairs.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relance::net {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// RFC 3986 percent-encoding: unreserved (ALPHA / DIGIT / "-._~") kept,
// every other byte %XX in upper case, space included (%20). A path segment or
// a query value for servers that read it the RFC way (Matrix ids, an SMS
// gateway's URL template).
std::string percent_encode(std::string_view s);

// Percent-encodes everything but ALPHA / DIGIT / "*-._"; space becomes '+'
// (the WHATWG URL standard's form serializer).
std::string form_escape(std::string_view s);
std::string form_encode(const FormFields& fields);

// Lenient, like every server: '+' is a space, a bad %-escape stays as text,
// a field without '=' has an empty value, empty fields are dropped.
FormFields form_decode(std::string_view body);
std::string form_unescape(std::string_view s);

// The first value of `name`, or nothing.
const std::string* form_find(const FormFields& fields, std::string_view name);

}  // namespace relance::net
