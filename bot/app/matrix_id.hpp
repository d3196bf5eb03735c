// A learner's Matrix id as the CSV import and the learner API take it:
// "@localpart:server" after the spec's "User Identifiers" grammar, so that a
// typo is refused at the door instead of failing every relaunch later (the
// homeserver would answer M_INVALID_PARAM to the invite).
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace relance::app {

// Empty when `id` is a valid user id; otherwise why not, in French (the
// import's language) with the expected shape.
inline std::string matrix_id_problem(std::string_view id) {
  const std::string shape = " (attendu : « @identifiant:serveur », par exemple « @lea.martin:matrix.example.org »)";
  const std::string quoted = "« " + std::string(id) + " »";
  if (id.size() > 255) return "identifiant Matrix de plus de 255 octets" + shape;
  if (id.empty() || id.front() != '@') return "identifiant Matrix " + quoted + " sans « @ » au début" + shape;
  const auto colon = id.find(':');
  if (colon == std::string_view::npos) return "identifiant Matrix " + quoted + " sans « : » avant le serveur" + shape;
  const auto local = id.substr(1, colon - 1);
  const auto server = id.substr(colon + 1);
  // Historical user ids allow any printable ASCII but ':' in the localpart
  // (spec: "Historical User IDs"); new ones only a-z 0-9 . _ = - / +.
  if (local.empty() ||
      !std::all_of(local.begin(), local.end(), [](char c) { return c >= 0x21 && c <= 0x7E && c != ':'; }))
    return "identifiant Matrix " + quoted + " : partie locale vide ou avec un caractère interdit (espace, accent…)" + shape;
  // server_name = hostname [ ":" port ]; hostname = IPv4 / "[" IPv6 "]" / DNS name.
  std::string_view host = server, port;
  if (!server.empty() && server.front() == '[') {
    const auto close = server.find(']');
    if (close == std::string_view::npos || close < 3 ||
        !std::all_of(server.begin() + 1, server.begin() + long(close),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; }))
      return "identifiant Matrix " + quoted + " : adresse IPv6 du serveur mal écrite" + shape;
    host = server.substr(0, close + 1);
    if (close + 1 < server.size()) {
      if (server[close + 1] != ':') return "identifiant Matrix " + quoted + " : serveur mal écrit" + shape;
      port = server.substr(close + 2);
      if (port.empty()) return "identifiant Matrix " + quoted + " : port vide" + shape;
    }
  } else {
    if (const auto c = server.find(':'); c != std::string_view::npos) {
      host = server.substr(0, c);
      port = server.substr(c + 1);
      if (port.empty()) return "identifiant Matrix " + quoted + " : port vide" + shape;
    }
    if (host.empty() || host.front() == '.' || host.back() == '.' || host.front() == '-' ||
        !std::all_of(host.begin(), host.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
        }))
      return "identifiant Matrix " + quoted + " : nom de serveur vide ou invalide" + shape;
  }
  if (!port.empty() && (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })))
    return "identifiant Matrix " + quoted + " : port « " + std::string(port) + " » invalide" + shape;
  return {};
}

}  // namespace relance::app
