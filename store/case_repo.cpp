#include "store/case_repo.hpp"

#include "store/plan_json.hpp"
#include "store/rows.hpp"

#include <SQLiteCpp/VariadicBind.h>

namespace relance::store {

namespace {

constexpr const char* case_columns =
    "id, learner_key, policy_id, plan, state, assignee, next_step, relaunches, answered, opened_at, activity_ref, "
    "last_step_at, next_due, closed_at, outcome_note";

Case read_case(SQLite::Statement& q) {
  Case c;
  c.id = q.getColumn(0).getInt64();
  c.learner_key = q.getColumn(1).getInt64();
  c.policy_id = q.getColumn(2).getString();
  c.plan = plan_from_json(q.getColumn(3).getString());
  c.state = parse_case_state(q.getColumn(4).getString()).value_or(CaseState::open);
  c.assignee = q.getColumn(5).getString();
  c.next_step = q.getColumn(6).getInt();
  c.relaunches = q.getColumn(7).getInt();
  c.answered = q.getColumn(8).getInt() != 0;
  c.opened_at = from_unix(q.getColumn(9).getInt64());
  c.activity_ref = from_unix(q.getColumn(10).getInt64());
  c.last_step_at = opt_time(q.getColumn(11));
  c.next_due = opt_time(q.getColumn(12));
  c.closed_at = opt_time(q.getColumn(13));
  c.outcome_note = q.getColumn(14).getString();
  return c;
}

std::vector<Case> read_cases(SQLite::Statement& q) {
  std::vector<Case> out;
  while (q.executeStep()) out.push_back(read_case(q));
  return out;
}

void bind_case_state(SQLite::Statement& q, const Case& c, int first) {
  q.bind(first, std::string(to_string(c.state)));
  q.bind(first + 1, c.assignee);
  q.bind(first + 2, c.next_step);
  q.bind(first + 3, c.relaunches);
  q.bind(first + 4, c.answered ? 1 : 0);
  bind_opt(q, first + 5, c.last_step_at);
  bind_opt(q, first + 6, c.next_due);
  bind_opt(q, first + 7, c.closed_at);
  q.bind(first + 8, c.outcome_note);
}

}  // namespace

std::int64_t CaseRepo::insert(Case& c) {
  SQLite::Statement q(db_.sql(),
                      "INSERT INTO learner_case (learner_key, policy_id, plan, opened_at, activity_ref, state, assignee, "
                      "next_step, relaunches, answered, last_step_at, next_due, closed_at, outcome_note) "
                      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  SQLite::bind(q, c.learner_key, c.policy_id, plan_to_json(c.plan), to_unix(c.opened_at), to_unix(c.activity_ref));
  bind_case_state(q, c, 6);
  q.exec();
  c.id = db_.sql().getLastInsertRowid();
  return c.id;
}

void CaseRepo::update(const Case& c) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE learner_case SET state=?, assignee=?, next_step=?, relaunches=?, answered=?, "
                      "last_step_at=?, next_due=?, closed_at=?, outcome_note=? WHERE id=?");
  bind_case_state(q, c, 1);
  q.bind(10, c.id);
  q.exec();
}

bool CaseRepo::update_if_assignee(const Case& c, std::string_view expected_assignee) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE learner_case SET state=?, assignee=?, next_step=?, relaunches=?, answered=?, "
                      "last_step_at=?, next_due=?, closed_at=?, outcome_note=? WHERE id=? AND assignee=?");
  bind_case_state(q, c, 1);
  q.bind(10, c.id);
  q.bind(11, std::string(expected_assignee));
  return q.exec() > 0;
}

std::optional<Case> CaseRepo::get(std::int64_t id) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + case_columns + " FROM learner_case WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_case(q);
}

std::optional<Case> CaseRepo::latest_for_learner(std::int64_t learner_key) {
  if (!latest_for_learner_)
    latest_for_learner_ = std::make_shared<SQLite::Statement>(
        db_.sql(), std::string("SELECT ") + case_columns + " FROM learner_case WHERE learner_key = ? ORDER BY id DESC LIMIT 1");
  auto& q = *latest_for_learner_;
  q.tryReset();
  q.bind(1, learner_key);
  auto v = read_cases(q);
  q.tryReset();
  if (v.empty()) return std::nullopt;
  return v.front();
}

std::vector<Case> CaseRepo::active_for_learner(std::int64_t learner_key) {
  if (!active_for_learner_)
    active_for_learner_ = std::make_shared<SQLite::Statement>(
        db_.sql(), std::string("SELECT ") + case_columns +
                       " FROM learner_case WHERE learner_key = ? AND state IN ('open','claimed','in_progress') ORDER BY id");
  auto& q = *active_for_learner_;
  q.tryReset();
  q.bind(1, learner_key);
  auto out = read_cases(q);
  q.tryReset();  // hold no read snapshot between calls
  return out;
}

std::vector<Case> CaseRepo::active() {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + case_columns +
                                     " FROM learner_case WHERE state IN ('open','claimed','in_progress') ORDER BY id");
  return read_cases(q);
}

std::vector<Case> CaseRepo::active_page(std::string_view assignee, int limit) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + case_columns +
                                     " FROM learner_case WHERE state IN ('open','claimed','in_progress')"
                                     " AND (?1 = '' OR assignee = ?1) ORDER BY id LIMIT ?2");
  SQLite::bind(q, std::string(assignee), limit);
  return read_cases(q);
}

std::int64_t CaseRepo::count_active(std::string_view assignee) {
  SQLite::Statement q(db_.sql(), "SELECT COUNT(*) FROM learner_case WHERE state IN ('open','claimed','in_progress')"
                                 " AND (?1 = '' OR assignee = ?1)");
  q.bind(1, std::string(assignee));
  q.executeStep();
  return q.getColumn(0).getInt64();
}

std::vector<std::int64_t> CaseRepo::due_ids(Timestamp now) {
  SQLite::Statement q(db_.sql(), "SELECT id FROM learner_case WHERE next_due IS NOT NULL AND next_due <= ? ORDER BY next_due, id");
  q.bind(1, to_unix(now));
  std::vector<std::int64_t> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getInt64());
  return out;
}

std::optional<Timestamp> CaseRepo::next_due() {
  SQLite::Statement q(db_.sql(), "SELECT MIN(next_due) FROM learner_case WHERE next_due IS NOT NULL");
  if (!q.executeStep()) return std::nullopt;
  return opt_time(q.getColumn(0));
}

std::vector<CaseRepo::Coverage> CaseRepo::coverage() {
  SQLite::Statement q(db_.sql(),
                      "SELECT learner_key, policy_id, MAX(activity_ref), MAX(state IN ('open','claimed','in_progress')) "
                      "FROM learner_case GROUP BY learner_key, policy_id");
  std::vector<Coverage> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(), from_unix(q.getColumn(2).getInt64()),
                   q.getColumn(3).getInt() != 0});
  return out;
}

std::vector<CaseRepo::Coverage> CaseRepo::coverage_of(const std::vector<std::int64_t>& learner_keys) {
  std::vector<Coverage> out;
  if (learner_keys.empty()) return out;
  std::string in;
  for (auto k : learner_keys) (in += in.empty() ? "" : ",") += std::to_string(k);
  SQLite::Statement q(db_.sql(),
                      "SELECT learner_key, policy_id, MAX(activity_ref), MAX(state IN ('open','claimed','in_progress')) "
                      "FROM learner_case WHERE learner_key IN (" + in + ") GROUP BY learner_key, policy_id");
  while (q.executeStep())
    out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(), from_unix(q.getColumn(2).getInt64()),
                   q.getColumn(3).getInt() != 0});
  return out;
}

std::vector<Case> CaseRepo::in_period(Timestamp from, Timestamp to) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + case_columns + " FROM learner_case WHERE id IN (" +
                                     period_case_ids + ") ORDER BY id");
  q.bind(":from", to_unix(from));
  q.bind(":to", to_unix(to));
  return read_cases(q);
}

}  // namespace relance::store
