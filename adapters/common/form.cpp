#include "adapters/common/form.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace relance::net {

namespace {

// What the WHATWG form serializer leaves as is (space aside: '+').
constexpr boost::urls::grammar::lut_chars form_kept =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "abcdefghijklmnopqrstuvwxyz"
    "0123456789"
    "*-._";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_encode(std::string_view s) { return boost::urls::encode(s, boost::urls::unreserved_chars); }

std::string form_escape(std::string_view s) {
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  return boost::urls::encode(s, form_kept, opts);
}

std::string form_encode(const FormFields& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += form_escape(name);
    out.push_back('=');
    out += form_escape(value);
  }
  return out;
}

std::string form_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(char(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

FormFields form_decode(std::string_view body) {
  FormFields out;
  while (!body.empty()) {
    auto amp = body.find('&');
    auto field = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (field.empty()) continue;
    auto eq = field.find('=');
    if (eq == std::string_view::npos)
      out.emplace_back(form_unescape(field), std::string{});
    else
      out.emplace_back(form_unescape(field.substr(0, eq)), form_unescape(field.substr(eq + 1)));
  }
  return out;
}

const std::string* form_find(const FormFields& fields, std::string_view name) {
  for (const auto& [n, v] : fields)
    if (n == name) return &v;
  return nullptr;
}

}  // namespace relance::net
