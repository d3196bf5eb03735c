// Staff tasks (table task): a step of a plan that a person must do.
#pragma once

#include "bot/domain/policy.hpp"
#include "bot/domain/time.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::store {

struct Task {
  std::int64_t id = 0;
  std::int64_t case_id = 0;
  int step = -1;
  std::string role;
  Means means = Means::phone;
  std::string template_key;
  Timestamp created_at{};
  Timestamp due{};
  std::optional<Timestamp> done_at;
  std::string done_by;
};

class TaskRepo {
public:
  explicit TaskRepo(Database& db) : db_(db) {}
  std::int64_t insert(const Task& t);
  // Marks every open task of the case done (a relaunch was logged, or the case ended).
  int complete_for_case(std::int64_t case_id, std::string_view by, Timestamp at);
  std::vector<Task> open_for_case(std::int64_t case_id);
  std::vector<Task> overdue(Timestamp now);

private:
  Database& db_;
};

}  // namespace relance::store
