#include "adapters/common/hook_request.hpp"

#include "adapters/common/ascii.hpp"

namespace relance::net {

std::string HookRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (text::iequals(k, name)) return v;
  return {};
}

}  // namespace relance::net
