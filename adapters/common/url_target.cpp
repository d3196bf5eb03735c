#include "adapters/common/url_target.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>

namespace relance::net {

std::optional<UrlTarget> parse_url_target(std::string_view url, std::initializer_list<std::string_view> plain,
                                          std::initializer_list<std::string_view> secure, std::string& why) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    why = parsed.error().message();
    return std::nullopt;
  }
  const auto& u = *parsed;
  UrlTarget t;
  std::string scheme(u.scheme());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  auto in = [&](std::initializer_list<std::string_view> l) { return std::find(l.begin(), l.end(), scheme) != l.end(); };
  if (in(secure)) {
    t.tls = true;
  } else if (!in(plain)) {
    why = "scheme must be ";
    for (auto s : plain) why += std::string(s) + ", ";
    for (auto s : secure) why += std::string(s) + (s == *(secure.end() - 1) ? "" : ", ");
    if (auto p = why.rfind(", "); p != std::string::npos) why.replace(p, 2, " or ");
    return std::nullopt;
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    why = "no host";
    return std::nullopt;
  }
  t.host = u.host_address();
  t.ip_literal = u.host_type() == boost::urls::host_type::ipv4 || u.host_type() == boost::urls::host_type::ipv6;
  t.port = t.tls ? 443 : 80;
  if (u.has_port()) {
    auto p = u.port();
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || v == 0 || v > 65535) {
      why = "bad port";
      return std::nullopt;
    }
    t.port = std::uint16_t(v);
  }
  t.target = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
  if (u.has_query()) {
    t.target += '?';
    t.target += u.encoded_query();
  }
  t.host_header = std::string(u.encoded_host_and_port());
  return t;
}

}  // namespace relance::net
