// Cases (table learner_case): one per learner and policy episode, with the
// plan it was opened with.
#pragma once

#include "bot/domain/case.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::store {

class CaseRepo {
public:
  explicit CaseRepo(Database& db) : db_(db) {}
  std::int64_t insert(Case& c);  // sets c.id
  void update(const Case& c);
  // Compare-and-set for claims: succeeds only when the stored assignee is
  // still `expected_assignee` (two staff claiming at once: one wins).
  bool update_if_assignee(const Case& c, std::string_view expected_assignee);
  std::optional<Case> get(std::int64_t id);
  std::vector<Case> active_for_learner(std::int64_t learner_key);
  // The learner's most recent case, active or not (a reply after a case closed still belongs to it).
  std::optional<Case> latest_for_learner(std::int64_t learner_key);
  std::vector<Case> active();  // open, claimed, in_progress; by id
  // The first `limit` active cases (of `assignee` when not empty), and how many there are.
  std::vector<Case> active_page(std::string_view assignee, int limit);
  std::int64_t count_active(std::string_view assignee);
  std::vector<std::int64_t> due_ids(Timestamp now);
  std::optional<Timestamp> next_due();
  // (learner, policy) -> the latest activity_ref of any case: detection
  // skips learners whose episode is already covered.
  struct Coverage { std::int64_t learner_key; std::string policy_id; Timestamp activity_ref; bool active; };
  std::vector<Coverage> coverage();
  // The same, for some learners (a detection slice examines a few).
  std::vector<Coverage> coverage_of(const std::vector<std::int64_t>& learner_keys);
  std::vector<Case> in_period(Timestamp from, Timestamp to);  // opened or active in [from, to)

private:
  Database& db_;
  // Hot on ingest (every activity that moves forward looks for open cases).
  std::shared_ptr<SQLite::Statement> active_for_learner_;
  std::shared_ptr<SQLite::Statement> latest_for_learner_;
};

}  // namespace relance::store
