// Inbound events already taken (table inbound_seen).
#pragma once

#include "bot/domain/time.hpp"
#include "store/database.hpp"

#include <string_view>

namespace relance::store {

// Inbound deduplication by (source, external id). Returns true the first time.
bool first_seen(Database& db, std::string_view source, std::string_view ext_id, Timestamp now);

}  // namespace relance::store
