#include "adapters/common/log_privacy.hpp"

#include "adapters/common/digest.hpp"
#include "adapters/common/form.hpp"
#include "messages/text/ascii.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

namespace relance::logs {

namespace {

std::atomic<bool> shown_{false};

// Drawn once per process: fingerprints match within a run, never across.
const std::string& fingerprint_key() {
  static const std::string key = [] {
    std::string k(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(k.data()), int(k.size())) != 1) k = "relance-log-fallback-key";
    return k;
  }();
  return key;
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + with.size()))
    s.replace(pos, what.size(), with);
  // An excerpt cut in the middle of the value (error bodies are cut at a
  // few hundred bytes): its start at the very end goes too.
  for (std::size_t n = std::min(what.size() - 1, s.size()); n >= 4; --n)
    if (s.compare(s.size() - n, n, what.substr(0, n)) == 0) {
      s.replace(s.size() - n, n, with);
      break;
    }
}

// The value and the forms it takes in a URL or a form body.
std::vector<std::string> spellings(std::string_view v) {
  std::vector<std::string> out{std::string(v)};
  for (auto s : {net::percent_encode(v), net::form_escape(v)})
    if (s != v) out.push_back(std::move(s));
  return out;
}

bool secret_like(std::string_view name) {
  std::string n(name);
  for (char& c : n) c = text::ascii_lower(c);
  for (std::string_view w : {"secret", "pass", "token", "key", "signature", "auth", "sig"})
    if (n.find(w) != std::string::npos) return true;
  return false;
}

}  // namespace

void show_personal_data(bool shown) { shown_ = shown; }
bool personal_data_shown() { return shown_; }

std::string personal(std::string_view value) {
  if (value.empty() || shown_) return std::string(value);
  return "[perso:" + net::hmac_sha256_hex(fingerprint_key(), value).substr(0, 8) + "]";
}

std::string redact(std::string_view text, std::initializer_list<std::string_view> secrets,
                   std::initializer_list<std::string_view> personal_values) {
  std::string out(text);
  for (auto s : secrets) {
    if (s.size() < 4) continue;
    for (const auto& form : spellings(s)) replace_all(out, form, "[secret]");
  }
  if (!shown_)
    for (auto p : personal_values) {
      if (p.size() < 4) continue;
      const std::string mark = personal(p);
      for (const auto& form : spellings(p)) replace_all(out, form, mark);
    }
  return out;
}

std::string loggable_target(std::string_view target) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q));
  if (!shown_) return out + "?…";
  out += '?';
  std::string_view query = target.substr(q + 1);
  bool first = true;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (!first) out += '&';
    first = false;
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && secret_like(pair.substr(0, eq)))
      out += std::string(pair.substr(0, eq)) + "=[secret]";
    else
      out += pair;
  }
  return out;
}

}  // namespace relance::logs
