// The append-only journal (table journal): who did what, when, to whom.
#pragma once

#include "bot/domain/time.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace relance::store {

struct JournalEntry {
  std::int64_t id = 0;
  Timestamp at{};
  std::string actor;
  std::string action;
  std::optional<std::int64_t> learner_key;
  std::optional<std::int64_t> case_id;
  std::string detail;
};

class Journal {
public:
  explicit Journal(Database& db) : db_(db) {}
  std::int64_t append(const JournalEntry& e);
  std::vector<JournalEntry> for_case(std::int64_t case_id);
  std::vector<JournalEntry> for_learner(std::int64_t learner_key);
  std::int64_t count();

private:
  Database& db_;
  std::shared_ptr<SQLite::Statement> append_;  // prepared on first use
};

}  // namespace relance::store
