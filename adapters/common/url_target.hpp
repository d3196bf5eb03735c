// Where a request goes, read once from its URL: what the HTTP client and the
// WebSocket client both need (TLS or not, host for DNS/SNI/certificate
// checks, port, the origin-form target and the Host header).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relance::net {

struct UrlTarget {
  bool tls = false;
  std::string host;         // for DNS, SNI and certificate checks (no IPv6 brackets)
  std::uint16_t port = 0;
  std::string target;       // origin-form: /path?query
  std::string host_header;  // as written in the URL, with the port if given
  bool ip_literal = false;
};

// `plain` and `secure` are the accepted schemes ("http"/"https"; the
// WebSocket client also takes "ws"/"wss"). On failure `why` says why.
std::optional<UrlTarget> parse_url_target(std::string_view url, std::initializer_list<std::string_view> plain,
                                          std::initializer_list<std::string_view> secure, std::string& why);

// What is left of a deadline, never negative: each step of an exchange gets it.
inline std::chrono::milliseconds time_left(std::chrono::steady_clock::time_point deadline) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return d.count() > 0 ? d : std::chrono::milliseconds{0};
}

}  // namespace relance::net
