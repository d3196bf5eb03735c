// ASCII case, as protocols define it (HTTP header names and auth schemes,
// MIME parameters, Mattermost usernames): only A-Z and a-z pair up, whatever
// the C locale says; every other byte, UTF-8 included, compares as it is.
// Pure std.
#pragma once

#include <string_view>

namespace relance::text {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Same bytes but for ASCII letter case.
bool iequals(std::string_view a, std::string_view b);

}  // namespace relance::text
