// SHA-256 as lowercase hex (OpenSSL): import readings, mail without a
// Message-ID, Mattermost's button MACs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace relance::net {

// Lowercase hex of `n` bytes.
std::string lower_hex(const unsigned char* bytes, std::size_t n);
// SHA-256 of `data`. Throws std::runtime_error if OpenSSL fails.
std::string sha256_hex(std::string_view data);
// HMAC-SHA256(key, data). Throws std::runtime_error if OpenSSL fails.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

}  // namespace relance::net
