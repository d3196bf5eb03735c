#include "adapters/channel/http_send.hpp"

#include "adapters/common/retry.hpp"

#include <utility>

namespace relance::channel {

SendResult http_unanswered(const net::HttpResult& r, std::string_view prefix) {
  std::string why(prefix);
  why += net::to_string(r.failure);
  if (!r.error.empty()) why += ": " + r.error;
  return retry(std::move(why));
}

SendResult http_refused(const net::HttpResult& r, std::string error, std::chrono::system_clock::time_point now,
                        std::string code) {
  if (r.status == 429 || r.status >= 500) {
    std::optional<std::chrono::milliseconds> after;
    if (auto v = r.header("Retry-After"))
      if (auto d = net::parse_retry_after(*v, now)) after = std::chrono::milliseconds(*d);
    return retry(std::move(error), after);
  }
  return failed(std::move(error), std::move(code));
}

std::string http_head(const net::HttpResult& r) { return "HTTP " + std::to_string(r.status); }

}  // namespace relance::channel
