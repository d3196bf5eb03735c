// Relaunches (table relaunch): what was done for a case, by staff or by the
// bot, and what became of the bot's messages.
#pragma once

#include "bot/domain/case.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relance::store {

class RelaunchRepo {
public:
  explicit RelaunchRepo(Database& db) : db_(db) {}
  std::int64_t insert(Relaunch& r);
  // What became of the message a bot relaunch is (sent, delivered, failed,
  // not_sent), at `at`. Forward only; false when nothing changed.
  bool settle(std::int64_t outbox_id, Result result, Timestamp at, std::string_view comment = {});
  std::vector<Relaunch> for_case(std::int64_t case_id);
  // Every relaunch of the cases CaseRepo::in_period(from, to) returns, per
  // case, in the order they were made; one statement.
  std::unordered_map<std::int64_t, std::vector<Relaunch>> of_cases_in_period(Timestamp from, Timestamp to);

private:
  Database& db_;
};

}  // namespace relance::store
