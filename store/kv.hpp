// Small settings the bot keeps for itself (table kv).
#pragma once

#include "store/database.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace relance::store {

std::optional<std::string> kv_get(Database& db, std::string_view key);
void kv_set(Database& db, std::string_view key, std::string_view value);

}  // namespace relance::store
