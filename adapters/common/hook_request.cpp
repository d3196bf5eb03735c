#include "adapters/common/hook_request.hpp"

#include "messages/text/ascii.hpp"

namespace relance::net {

std::string HookRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (text::iequals(k, name)) return v;
  return {};
}

}  // namespace relance::net
