// Learners (table learner): imports, activity per source, detection's work
// list, and the sender of an inbound message.
#pragma once

#include "bot/domain/learner.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relance::store {

class LearnerRepo {
public:
  explicit LearnerRepo(Database& db);
  ~LearnerRepo();

  enum class Upserted { inserted, updated, unchanged };
  // Insert or update by `id`. Non-empty fields of `l` overwrite stored ones;
  // activity keeps the maximum per source (replaying an import changes nothing).
  // Sets l.key. `now` is first_seen for a new learner.
  Upserted upsert(Learner& l, Timestamp now);
  std::optional<Learner> find(std::string_view id);
  std::optional<Learner> get(std::int64_t key);
  // Records activity (max per source). Returns true when it moved forward.
  bool observe(std::int64_t key, Source s, Timestamp at, Timestamp now);
  void set_status(std::int64_t key, LearnerStatus s, Timestamp now);
  std::int64_t count();
  // Streams every learner with status `active`.
  void for_each_active(const std::function<void(const Learner&)>& f);
  // Detection's work list (migration 0007): up to `limit` learners whose
  // `detect_at` is at or before `now`, the longest due first.
  std::vector<Learner> due_for_detection(Timestamp now, int limit);
  // When the learner must next be examined; nullopt: not until something
  // about them changes (the triggers mark them due again).
  void set_detect_at(std::int64_t key, std::optional<Timestamp> at);
  // The earliest detect_at of any learner (may be in the past: work left).
  std::optional<Timestamp> next_detection();
  // Marks learners with key in [from, to) due now; returns the largest key
  // of the table (0 when empty) so a caller can walk it in slices.
  void mark_due(std::int64_t from, std::int64_t to);
  std::int64_t max_key();
  // The learners of the cases CaseRepo::in_period(from, to) returns, by key,
  // in one statement (a register of thousands of cases).
  std::unordered_map<std::int64_t, Learner> of_cases_in_period(Timestamp from, Timestamp to);
  // Inbound messages find their sender: the learners with this E.164 number
  // or Matrix id, active ones first, then the most recently updated.
  std::vector<Learner> by_phone(std::string_view e164);
  std::vector<Learner> by_matrix_id(std::string_view matrix_id);
  std::vector<Learner> by_email(std::string_view lower_case_address);
  // Opted out of SMS since `at`, or (nullopt) opted back in.
  void set_sms_opt_out(std::int64_t key, std::optional<Timestamp> at);

private:
  struct Statements;
  Database& db_;
  std::unique_ptr<Statements> st_;
};

}  // namespace relance::store
