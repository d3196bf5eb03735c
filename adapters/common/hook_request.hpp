// An HTTP request to one of relance's hooks (an SMS gateway's callbacks,
// Mattermost's buttons and slash command), as the app's HTTP server received
// it: what the adapters' hook handlers parse, without HTTP library types.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relance::net {

struct HookRequest {
  std::string method;   // "GET", "POST"
  std::string target;   // path and query, exactly as received: /hooks/sms/kannel?from=...
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header of that name (ASCII case-insensitive); "" when absent.
  std::string header(std::string_view name) const;
};

}  // namespace relance::net
