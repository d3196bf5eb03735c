#include "adapters/sms/sms.hpp"

#include <openssl/crypto.h>

namespace relance::sms {

std::string_view to_string(DeliveryState s) {
  switch (s) {
    case DeliveryState::progress: return "progress";
    case DeliveryState::delivered: return "delivered";
    case DeliveryState::failed: return "failed";
  }
  return "progress";
}

bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string body_excerpt(std::string_view body, std::size_t max) {
  if (body.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;
    body = body.substr(0, cut);
  }
  std::string out(body);
  for (auto& c : out)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return out;
}

std::string_view target_path(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

std::string_view target_query(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

}  // namespace relance::sms
