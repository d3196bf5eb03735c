// The consent log (table consent_log).
#pragma once

#include "bot/domain/time.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace relance::store {

// Opt-outs and opt-ins (evidence: who, when, through what, which words).
struct ConsentEntry {
  std::int64_t id = 0;
  Timestamp at{};
  std::int64_t learner_key = 0;
  std::string channel = "sms";
  std::string action;   // opt_out, opt_in
  std::string via;      // reply, provider, staff
  std::string message;
};

class ConsentRepo {
public:
  explicit ConsentRepo(Database& db) : db_(db) {}
  std::int64_t append(const ConsentEntry& e);
  std::vector<ConsentEntry> for_learner(std::int64_t learner_key);

private:
  Database& db_;
};

}  // namespace relance::store
