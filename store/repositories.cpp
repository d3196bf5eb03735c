#include "store/repositories.hpp"

#include <SQLiteCpp/VariadicBind.h>
#include <nlohmann/json.hpp>

#include <array>
#include <stdexcept>

namespace relance::store {

using nlohmann::json;

// ---------------------------------------------------------------- plans

std::string plan_to_json(const Plan& p) {
  json steps = json::array();
  for (const auto& s : p.steps) {
    json j{{"name", s.name},
           {"action", std::string(to_string(s.action))},
           {"means", std::string(to_string(s.means))},
           {"role", s.role},
           {"template", s.template_key},
           {"after_days", s.after_previous.count()},
           {"optional", s.optional},
           {"priority", s.priority}};
    if (s.at_inactive_days) j["at_inactive_days"] = s.at_inactive_days->count();
    steps.push_back(std::move(j));
  }
  json j{{"v", 1},
         {"id", p.id},
         {"on_exhausted", p.on_exhausted == OnExhausted::declare_dropout ? "dropout" : "keep_open"},
         {"dropout_after_days", p.dropout_after.count()},
         {"steps", std::move(steps)}};
  return j.dump();
}

Plan plan_from_json(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::runtime_error("stored plan is not valid JSON");
  try {
    Plan p;
    p.id = j.at("id").get<std::string>();
    p.on_exhausted = j.at("on_exhausted").get<std::string>() == "dropout" ? OnExhausted::declare_dropout : OnExhausted::keep_open;
    p.dropout_after = std::chrono::days(j.at("dropout_after_days").get<int>());
    for (const auto& s : j.at("steps")) {
      Step st;
      st.name = s.at("name").get<std::string>();
      st.action = s.at("action").get<std::string>() == "message" ? StepAction::message_learner : StepAction::staff_task;
      st.means = parse_means(s.at("means").get<std::string>()).value_or(Means::other);
      st.role = s.at("role").get<std::string>();
      st.template_key = s.at("template").get<std::string>();
      st.after_previous = std::chrono::days(s.at("after_days").get<int>());
      if (s.contains("at_inactive_days")) st.at_inactive_days = std::chrono::days(s["at_inactive_days"].get<int>());
      st.optional = s.value("optional", false);
      st.priority = s.value("priority", false);
      p.steps.push_back(std::move(st));
    }
    return p;
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("stored plan is malformed: ") + e.what());
  }
}

namespace {

std::optional<std::int64_t> opt_int(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}
std::optional<Timestamp> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return from_unix(c.getInt64());
}
void bind_opt(SQLite::Statement& st, int i, const std::optional<Timestamp>& t) {
  if (t) st.bind(i, to_unix(*t));
  else st.bind(i);
}
void bind_opt(SQLite::Statement& st, int i, const std::optional<std::int64_t>& v) {
  if (v) st.bind(i, *v);
  else st.bind(i);
}

// Cases active during [from, to): opened before its end, not closed before
// its start. Bound as :from and :to.
constexpr const char* period_case_ids =
    "SELECT id FROM learner_case WHERE opened_at < :to AND (closed_at IS NULL OR closed_at >= :from)";

constexpr const char* learner_columns =
    "key, id, first_name, last_name, email, phone, cohort, start_date, language, status, first_seen, "
    "last_lms, last_lesson, last_booking, last_visit, last_call, last_message, last_email, last_staff, matrix_id, sms_opt_out, phone_rejected";

Learner read_learner(SQLite::Statement& q) {
  Learner l;
  l.key = q.getColumn(0).getInt64();
  l.id = q.getColumn(1).getString();
  l.first_name = q.getColumn(2).getString();
  l.last_name = q.getColumn(3).getString();
  l.email = q.getColumn(4).getString();
  l.phone = q.getColumn(5).getString();
  l.cohort = q.getColumn(6).getString();
  if (!q.getColumn(7).isNull()) l.start_date = parse_iso_date(q.getColumn(7).getString());
  l.language = q.getColumn(8).getString();
  l.status = parse_learner_status(q.getColumn(9).getString()).value_or(LearnerStatus::active);
  l.first_seen = from_unix(q.getColumn(10).getInt64());
  for (std::size_t i = 0; i < source_count; ++i) l.activity.last[i] = q.getColumn(int(11 + i)).getInt64();
  l.matrix_id = q.getColumn(19).getString();
  if (const auto t = q.getColumn(20).getInt64(); t > 0) l.sms_opt_out = from_unix(t);
  l.phone_rejected = q.getColumn(21).getString();
  return l;
}

}  // namespace

// ---------------------------------------------------------------- learners

struct LearnerRepo::Statements {
  explicit Statements(SQLite::Database& db)
      : find(db, std::string("SELECT ") + learner_columns + " FROM learner WHERE id = ?"),
        insert(db,
               "INSERT INTO learner (id, first_name, last_name, email, phone, cohort, start_date, language, status, "
               "first_seen, updated_at, last_lms, last_lesson, last_booking, last_visit, last_call, last_message, "
               "last_email, last_staff, matrix_id, phone_rejected) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
        update(db,
               "UPDATE learner SET first_name=?, last_name=?, email=?, phone=?, cohort=?, start_date=?, language=?, "
               "updated_at=?, last_lms=?, last_lesson=?, last_booking=?, last_visit=?, last_call=?, last_message=?, "
               "last_email=?, last_staff=?, matrix_id=?, phone_rejected=? WHERE key=?") {}
  SQLite::Statement find;
  SQLite::Statement insert;
  SQLite::Statement update;
  std::array<std::unique_ptr<SQLite::Statement>, source_count> observe;  // prepared on first use
  std::unique_ptr<SQLite::Statement> by_phone, by_matrix, by_email, set_detect_at;
};

LearnerRepo::LearnerRepo(Database& db) : db_(db), st_(std::make_unique<Statements>(db.sql())) {}
LearnerRepo::~LearnerRepo() = default;

LearnerRepo::Upserted LearnerRepo::upsert(Learner& l, Timestamp now) {
  // tryReset: reset() would rethrow the error of an earlier failed step
  // (a constraint in a previous transaction) on this reused statement.
  auto& f = st_->find;
  f.tryReset();
  f.bind(1, l.id);
  if (!f.executeStep()) {
    auto& ins = st_->insert;
    ins.tryReset();
    ins.clearBindings();
    SQLite::bind(ins, l.id, l.first_name, l.last_name, l.email, l.phone, l.cohort);
    if (l.start_date) ins.bind(7, format_date(*l.start_date));
    else ins.bind(7);
    ins.bind(8, l.language.empty() ? std::string("fr") : l.language);
    ins.bind(9, std::string(to_string(l.status)));
    l.first_seen = l.first_seen == Timestamp{} ? now : l.first_seen;
    ins.bind(10, to_unix(l.first_seen));
    ins.bind(11, to_unix(now));
    for (std::size_t i = 0; i < source_count; ++i) ins.bind(int(12 + i), l.activity.last[i]);
    ins.bind(20, l.matrix_id);
    ins.bind(21, l.phone.empty() ? l.phone_rejected : std::string());
    ins.exec();
    l.key = db_.sql().getLastInsertRowid();
    return Upserted::inserted;
  }
  Learner stored = read_learner(f);
  f.tryReset();
  Learner merged = stored;
  auto take = [](std::string& dst, const std::string& src) { if (!src.empty()) dst = src; };
  take(merged.first_name, l.first_name);
  take(merged.last_name, l.last_name);
  take(merged.email, l.email);
  take(merged.phone, l.phone);
  // A rejected value never erases a number on file (it says nothing about
  // that number); it is kept beside it for staff. A valid number clears it.
  if (!l.phone.empty()) merged.phone_rejected.clear();
  else take(merged.phone_rejected, l.phone_rejected);
  take(merged.cohort, l.cohort);
  take(merged.matrix_id, l.matrix_id);
  if (!l.language.empty()) merged.language = l.language;
  if (l.start_date) merged.start_date = l.start_date;
  for (std::size_t i = 0; i < source_count; ++i)
    merged.activity.last[i] = std::max(stored.activity.last[i], l.activity.last[i]);
  const bool same = merged.first_name == stored.first_name && merged.last_name == stored.last_name &&
                    merged.email == stored.email && merged.phone == stored.phone &&
                    merged.phone_rejected == stored.phone_rejected && merged.cohort == stored.cohort &&
                    merged.matrix_id == stored.matrix_id &&
                    merged.language == stored.language && merged.start_date == stored.start_date &&
                    merged.activity.last == stored.activity.last;
  l = merged;
  if (same) return Upserted::unchanged;
  auto& up = st_->update;
  up.tryReset();
  up.clearBindings();
  SQLite::bind(up, merged.first_name, merged.last_name, merged.email, merged.phone, merged.cohort);
  if (merged.start_date) up.bind(6, format_date(*merged.start_date));
  else up.bind(6);
  up.bind(7, merged.language);
  up.bind(8, to_unix(now));
  for (std::size_t i = 0; i < source_count; ++i) up.bind(int(9 + i), merged.activity.last[i]);
  up.bind(17, merged.matrix_id);
  up.bind(18, merged.phone_rejected);
  up.bind(19, merged.key);
  up.exec();
  return Upserted::updated;
}

std::optional<Learner> LearnerRepo::find(std::string_view id) {
  auto& f = st_->find;
  f.tryReset();
  f.bind(1, std::string(id));
  if (!f.executeStep()) return std::nullopt;
  Learner l = read_learner(f);
  f.tryReset();
  return l;
}

namespace {
std::vector<Learner> learners_where(Database& db, std::unique_ptr<SQLite::Statement>& cached, const char* column,
                                    std::string_view value) {
  // "<> ''" lets SQLite use the partial index (learner_phone, learner_matrix):
  // it cannot know that the bound value is not empty.
  if (!cached)
    cached = std::make_unique<SQLite::Statement>(
        db.sql(), std::string("SELECT ") + learner_columns + " FROM learner WHERE " + column + " = ? AND " + column +
                      " <> '' ORDER BY status = 'active' DESC, updated_at DESC, key DESC LIMIT 8");
  auto& q = *cached;
  q.tryReset();
  q.bind(1, std::string(value));
  std::vector<Learner> out;
  while (q.executeStep()) out.push_back(read_learner(q));
  q.tryReset();
  return out;
}
}  // namespace

std::vector<Learner> LearnerRepo::by_phone(std::string_view e164) {
  if (e164.empty()) return {};
  return learners_where(db_, st_->by_phone, "phone", e164);
}

std::vector<Learner> LearnerRepo::by_matrix_id(std::string_view matrix_id) {
  if (matrix_id.empty()) return {};
  return learners_where(db_, st_->by_matrix, "matrix_id", matrix_id);
}

std::vector<Learner> LearnerRepo::by_email(std::string_view lower_case_address) {
  if (lower_case_address.empty()) return {};
  return learners_where(db_, st_->by_email, "email", lower_case_address);
}

void LearnerRepo::set_sms_opt_out(std::int64_t key, std::optional<Timestamp> at) {
  SQLite::Statement q(db_.sql(), "UPDATE learner SET sms_opt_out = ? WHERE key = ?");
  SQLite::bind(q, at ? to_unix(*at) : std::int64_t{0}, key);
  q.exec();
}

std::optional<Learner> LearnerRepo::get(std::int64_t key) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + learner_columns + " FROM learner WHERE key = ?");
  q.bind(1, key);
  if (!q.executeStep()) return std::nullopt;
  return read_learner(q);
}

bool LearnerRepo::observe(std::int64_t key, Source s, Timestamp at, Timestamp now) {
  auto& slot = st_->observe[std::size_t(s)];
  if (!slot) {
    const std::string col = "last_" + std::string(to_string(s));
    slot = std::make_unique<SQLite::Statement>(
        db_.sql(), "UPDATE learner SET " + col + " = ?, updated_at = ? WHERE key = ? AND " + col + " < ?");
  }
  auto& q = *slot;
  q.tryReset();
  SQLite::bind(q, to_unix(at), to_unix(now), key, to_unix(at));
  return q.exec() > 0;
}

void LearnerRepo::set_status(std::int64_t key, LearnerStatus s, Timestamp now) {
  SQLite::Statement q(db_.sql(), "UPDATE learner SET status = ?, updated_at = ? WHERE key = ?");
  SQLite::bind(q, std::string(to_string(s)), to_unix(now), key);
  q.exec();
}

std::int64_t LearnerRepo::count() { return db_.sql().execAndGet("SELECT COUNT(*) FROM learner").getInt64(); }

void LearnerRepo::for_each_active(const std::function<void(const Learner&)>& f) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + learner_columns + " FROM learner WHERE status = 'active'");
  while (q.executeStep()) f(read_learner(q));
}

std::vector<Learner> LearnerRepo::due_for_detection(Timestamp now, int limit) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + learner_columns +
                                     " FROM learner WHERE detect_at <= ? ORDER BY detect_at LIMIT ?");
  q.bind(1, to_unix(now));
  q.bind(2, limit);
  std::vector<Learner> out;
  while (q.executeStep()) out.push_back(read_learner(q));
  return out;
}

void LearnerRepo::set_detect_at(std::int64_t key, std::optional<Timestamp> at) {
  if (!st_->set_detect_at) st_->set_detect_at = std::make_unique<SQLite::Statement>(db_.sql(), "UPDATE learner SET detect_at = ? WHERE key = ?");
  auto& q = *st_->set_detect_at;
  q.tryReset();
  if (at) q.bind(1, to_unix(*at));
  else q.bind(1);
  q.bind(2, key);
  q.exec();
}

std::optional<Timestamp> LearnerRepo::next_detection() {
  SQLite::Statement q(db_.sql(), "SELECT MIN(detect_at) FROM learner WHERE detect_at IS NOT NULL");
  if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
  return from_unix(q.getColumn(0).getInt64());
}

void LearnerRepo::mark_due(std::int64_t from, std::int64_t to) {
  SQLite::Statement q(db_.sql(), "UPDATE learner SET detect_at = 0 WHERE key >= ? AND key < ?");
  q.bind(1, from);
  q.bind(2, to);
  q.exec();
}

std::int64_t LearnerRepo::max_key() {
  SQLite::Statement q(db_.sql(), "SELECT COALESCE(MAX(key), 0) FROM learner");
  q.executeStep();
  return q.getColumn(0).getInt64();
}

std::unordered_map<std::int64_t, Learner> LearnerRepo::of_cases_in_period(Timestamp from, Timestamp to) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + learner_columns +
                                     " FROM learner WHERE key IN (SELECT learner_key FROM learner_case WHERE id IN (" +
                                     period_case_ids + "))");
  q.bind(":from", to_unix(from));
  q.bind(":to", to_unix(to));
  std::unordered_map<std::int64_t, Learner> out;
  while (q.executeStep()) {
    Learner l = read_learner(q);
    out.emplace(l.key, std::move(l));
  }
  return out;
}

// ---------------------------------------------------------------- cases

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

// ---------------------------------------------------------------- relaunches

std::int64_t RelaunchRepo::insert(Relaunch& r) {
  SQLite::Statement q(db_.sql(),
                      "INSERT INTO relaunch (case_id, at, actor, means, result, comment, step, automatic, outbox_id) "
                      "VALUES (?,?,?,?,?,?,?,?,?)");
  SQLite::bind(q, r.case_id, to_unix(r.at), r.actor, std::string(to_string(r.means)), std::string(to_string(r.result)),
               r.comment, r.step, r.automatic ? 1 : 0);
  if (r.outbox_id) q.bind(9, r.outbox_id);
  q.exec();
  r.id = db_.sql().getLastInsertRowid();
  return r.id;
}

namespace {

constexpr const char* relaunch_columns = "id, case_id, at, actor, means, result, comment, step, automatic, outbox_id";

Relaunch read_relaunch(SQLite::Statement& q) {
  Relaunch r;
  r.id = q.getColumn(0).getInt64();
  r.case_id = q.getColumn(1).getInt64();
  r.at = from_unix(q.getColumn(2).getInt64());
  r.actor = q.getColumn(3).getString();
  r.means = parse_means(q.getColumn(4).getString()).value_or(Means::other);
  r.result = parse_result(q.getColumn(5).getString()).value_or(Result::other);
  r.comment = q.getColumn(6).getString();
  r.step = q.getColumn(7).getInt();
  r.automatic = q.getColumn(8).getInt() != 0;
  r.outbox_id = q.getColumn(9).isNull() ? 0 : q.getColumn(9).getInt64();
  return r;
}

}  // namespace

bool RelaunchRepo::settle(std::int64_t outbox_id, Result result, Timestamp at, std::string_view comment) {
  // Forward only: queued -> sent -> delivered | failed; queued -> not_sent.
  // A report arriving late never takes a message back to an earlier state.
  // `at` moves only while the message had not left: a relaunch happened when
  // it was sent, whatever the provider reports afterwards.
  const char* from = "";
  switch (result) {
    case Result::sent: from = "('queued')"; break;
    case Result::delivered: from = "('queued','sent')"; break;
    case Result::failed: from = "('queued','sent')"; break;
    case Result::not_sent: from = "('queued')"; break;
    default: return false;
  }
  SQLite::Statement q(db_.sql(), std::string("UPDATE relaunch SET result = ?, "
                                             "at = CASE WHEN result = 'queued' THEN ? ELSE at END, "
                                             "comment = CASE WHEN ? <> '' THEN ? ELSE comment END "
                                             "WHERE outbox_id = ? AND automatic = 1 AND result IN ") + from);
  q.bind(1, std::string(to_string(result)));
  q.bind(2, to_unix(at));
  q.bind(3, std::string(comment));
  q.bind(4, std::string(comment));
  q.bind(5, outbox_id);
  return q.exec() > 0;
}

std::vector<Relaunch> RelaunchRepo::for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + relaunch_columns + " FROM relaunch WHERE case_id = ? ORDER BY at, id");
  q.bind(1, case_id);
  std::vector<Relaunch> out;
  while (q.executeStep()) out.push_back(read_relaunch(q));
  return out;
}

std::unordered_map<std::int64_t, std::vector<Relaunch>> RelaunchRepo::of_cases_in_period(Timestamp from, Timestamp to) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + relaunch_columns + " FROM relaunch WHERE case_id IN (" +
                                     period_case_ids + ") ORDER BY case_id, at, id");
  q.bind(":from", to_unix(from));
  q.bind(":to", to_unix(to));
  std::unordered_map<std::int64_t, std::vector<Relaunch>> out;
  while (q.executeStep()) {
    Relaunch r = read_relaunch(q);
    out[r.case_id].push_back(std::move(r));
  }
  return out;
}

// ---------------------------------------------------------------- tasks

namespace {

std::vector<Task> read_tasks(SQLite::Statement& q) {
  std::vector<Task> out;
  while (q.executeStep()) {
    Task t;
    t.id = q.getColumn(0).getInt64();
    t.case_id = q.getColumn(1).getInt64();
    t.step = q.getColumn(2).getInt();
    t.role = q.getColumn(3).getString();
    t.means = parse_means(q.getColumn(4).getString()).value_or(Means::other);
    t.template_key = q.getColumn(5).getString();
    t.created_at = from_unix(q.getColumn(6).getInt64());
    t.due = from_unix(q.getColumn(7).getInt64());
    t.done_at = opt_time(q.getColumn(8));
    t.done_by = q.getColumn(9).isNull() ? "" : q.getColumn(9).getString();
    out.push_back(std::move(t));
  }
  return out;
}

constexpr const char* task_columns = "id, case_id, step, role, means, template, created_at, due, done_at, done_by";

}  // namespace

std::int64_t TaskRepo::insert(const Task& t) {
  SQLite::Statement q(db_.sql(),
                      "INSERT INTO task (case_id, step, role, means, template, created_at, due) VALUES (?,?,?,?,?,?,?)");
  SQLite::bind(q, t.case_id, t.step, t.role, std::string(to_string(t.means)), t.template_key, to_unix(t.created_at),
               to_unix(t.due));
  q.exec();
  return db_.sql().getLastInsertRowid();
}

int TaskRepo::complete_for_case(std::int64_t case_id, std::string_view by, Timestamp at) {
  SQLite::Statement q(db_.sql(), "UPDATE task SET done_at = ?, done_by = ? WHERE case_id = ? AND done_at IS NULL");
  SQLite::bind(q, to_unix(at), std::string(by), case_id);
  return q.exec();
}

std::vector<Task> TaskRepo::open_for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + task_columns +
                                     " FROM task WHERE case_id = ? AND done_at IS NULL ORDER BY id");
  q.bind(1, case_id);
  return read_tasks(q);
}

std::vector<Task> TaskRepo::overdue(Timestamp now) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + task_columns +
                                     " FROM task WHERE done_at IS NULL AND due < ? ORDER BY due, id");
  q.bind(1, to_unix(now));
  return read_tasks(q);
}

// ---------------------------------------------------------------- outbox

namespace {

constexpr const char* outbox_columns =
    "id, created_at, channel, recipient, template, params, case_id, learner_key, dedupe_key, not_before, status, "
    "attempts, next_attempt, last_error, sent_at, remote_id, started, provider, delivery, delivery_at, delivery_detail";

std::vector<OutboxItem> read_outbox(SQLite::Statement& q) {
  std::vector<OutboxItem> out;
  while (q.executeStep()) {
    OutboxItem o;
    o.id = q.getColumn(0).getInt64();
    o.created_at = from_unix(q.getColumn(1).getInt64());
    o.channel = q.getColumn(2).getString();
    o.recipient = q.getColumn(3).getString();
    o.template_key = q.getColumn(4).getString();
    o.params_json = q.getColumn(5).getString();
    o.case_id = opt_int(q.getColumn(6));
    o.learner_key = opt_int(q.getColumn(7));
    o.dedupe_key = q.getColumn(8).getString();
    o.not_before = from_unix(q.getColumn(9).getInt64());
    o.status = q.getColumn(10).getString();
    o.attempts = q.getColumn(11).getInt();
    o.next_attempt = from_unix(q.getColumn(12).getInt64());
    o.last_error = q.getColumn(13).getString();
    o.sent_at = opt_time(q.getColumn(14));
    o.remote_id = q.getColumn(15).getString();
    o.started = q.getColumn(16).getInt();
    o.provider = q.getColumn(17).getString();
    o.delivery = q.getColumn(18).getString();
    o.delivery_at = opt_time(q.getColumn(19));
    o.delivery_detail = q.getColumn(20).getString();
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

std::optional<std::int64_t> OutboxRepo::enqueue(OutboxItem& item) {
  if (!enqueue_)
    enqueue_ = std::make_shared<SQLite::Statement>(
        db_.sql(),
        "INSERT INTO outbox (created_at, channel, recipient, template, params, case_id, learner_key, "
        "dedupe_key, not_before, next_attempt) VALUES (?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(dedupe_key) DO NOTHING");
  auto& q = *enqueue_;
  q.tryReset();
  q.clearBindings();
  SQLite::bind(q, to_unix(item.created_at), item.channel, item.recipient, item.template_key, item.params_json);
  bind_opt(q, 6, item.case_id);
  bind_opt(q, 7, item.learner_key);
  q.bind(8, item.dedupe_key);
  q.bind(9, to_unix(item.not_before));
  q.bind(10, to_unix(item.not_before));
  const int n = q.exec();
  q.tryReset();
  if (n == 0) return std::nullopt;
  item.id = db_.sql().getLastInsertRowid();
  return item.id;
}

std::vector<OutboxItem> OutboxRepo::ready(std::string_view channel, Timestamp now, int limit) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns +
                                     " FROM outbox WHERE status = 'pending' AND channel = ? AND next_attempt <= ? "
                                     "ORDER BY next_attempt, id LIMIT ?");
  SQLite::bind(q, std::string(channel), to_unix(now), limit);
  return read_outbox(q);
}

std::vector<OutboxItem> OutboxRepo::pending(std::string_view channel) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns +
                                     " FROM outbox WHERE status = 'pending' AND channel = ? ORDER BY next_attempt, id");
  q.bind(1, std::string(channel));
  return read_outbox(q);
}

std::optional<Timestamp> OutboxRepo::next_ready(std::string_view channel) {
  SQLite::Statement q(db_.sql(), "SELECT MIN(next_attempt) FROM outbox WHERE status = 'pending' AND channel = ?");
  q.bind(1, std::string(channel));
  if (!q.executeStep()) return std::nullopt;
  return opt_time(q.getColumn(0));
}

void OutboxRepo::mark_sent(std::int64_t id, Timestamp at, std::string_view remote_id) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET status = 'sent', sent_at = ?, remote_id = ?, attempts = attempts + 1 WHERE id = ?");
  SQLite::bind(q, to_unix(at), std::string(remote_id), id);
  q.exec();
}

void OutboxRepo::mark_retry(std::int64_t id, Timestamp next_attempt, std::string_view error) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET next_attempt = ?, last_error = ?, attempts = attempts + 1 WHERE id = ?");
  SQLite::bind(q, to_unix(next_attempt), std::string(error), id);
  q.exec();
}

void OutboxRepo::mark_failed(std::int64_t id, std::string_view error) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET status = 'failed', last_error = ?, attempts = attempts + 1 WHERE id = ?");
  SQLite::bind(q, std::string(error), id);
  q.exec();
}

std::optional<OutboxItem> OutboxRepo::get(std::int64_t id) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns + " FROM outbox WHERE id = ?");
  q.bind(1, id);
  auto v = read_outbox(q);
  if (v.empty()) return std::nullopt;
  return v.front();
}

std::vector<OutboxItem> OutboxRepo::for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns + " FROM outbox WHERE case_id = ? ORDER BY id");
  q.bind(1, case_id);
  return read_outbox(q);
}

// ---------------------------------------------------------------- journal

std::int64_t Journal::append(const JournalEntry& e) {
  if (!append_)
    append_ = std::make_shared<SQLite::Statement>(
        db_.sql(), "INSERT INTO journal (at, actor, action, learner_key, case_id, detail) VALUES (?,?,?,?,?,?)");
  auto& q = *append_;
  q.tryReset();
  q.clearBindings();
  SQLite::bind(q, to_unix(e.at), e.actor, e.action);
  bind_opt(q, 4, e.learner_key);
  bind_opt(q, 5, e.case_id);
  q.bind(6, e.detail);
  q.exec();
  q.tryReset();
  return db_.sql().getLastInsertRowid();
}

namespace {

std::vector<JournalEntry> read_journal(SQLite::Statement& q) {
  std::vector<JournalEntry> out;
  while (q.executeStep()) {
    JournalEntry e;
    e.id = q.getColumn(0).getInt64();
    e.at = from_unix(q.getColumn(1).getInt64());
    e.actor = q.getColumn(2).getString();
    e.action = q.getColumn(3).getString();
    e.learner_key = opt_int(q.getColumn(4));
    e.case_id = opt_int(q.getColumn(5));
    e.detail = q.getColumn(6).getString();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::vector<JournalEntry> Journal::for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(), "SELECT id, at, actor, action, learner_key, case_id, detail FROM journal WHERE case_id = ? ORDER BY id");
  q.bind(1, case_id);
  return read_journal(q);
}

std::vector<JournalEntry> Journal::for_learner(std::int64_t learner_key) {
  SQLite::Statement q(db_.sql(), "SELECT id, at, actor, action, learner_key, case_id, detail FROM journal WHERE learner_key = ? ORDER BY id");
  q.bind(1, learner_key);
  return read_journal(q);
}

std::int64_t Journal::count() { return db_.sql().execAndGet("SELECT COUNT(*) FROM journal").getInt64(); }

// ---------------------------------------------------------------- misc

bool first_seen(Database& db, std::string_view source, std::string_view ext_id, Timestamp now) {
  SQLite::Statement q(db.sql(), "INSERT INTO inbound_seen (source, ext_id, at) VALUES (?,?,?) ON CONFLICT DO NOTHING");
  SQLite::bind(q, std::string(source), std::string(ext_id), to_unix(now));
  return q.exec() > 0;
}

// ---------------------------------------------------------------- consent

std::int64_t ConsentRepo::append(const ConsentEntry& e) {
  SQLite::Statement q(db_.sql(), "INSERT INTO consent_log (at, learner_key, channel, action, via, message) VALUES (?,?,?,?,?,?)");
  SQLite::bind(q, to_unix(e.at), e.learner_key, e.channel, e.action, e.via, e.message);
  q.exec();
  return db_.sql().getLastInsertRowid();
}

std::vector<ConsentEntry> ConsentRepo::for_learner(std::int64_t learner_key) {
  SQLite::Statement q(db_.sql(),
                      "SELECT id, at, learner_key, channel, action, via, message FROM consent_log WHERE learner_key = ? ORDER BY at, id");
  q.bind(1, learner_key);
  std::vector<ConsentEntry> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getInt64(), from_unix(q.getColumn(1).getInt64()), q.getColumn(2).getInt64(),
                   q.getColumn(3).getString(), q.getColumn(4).getString(), q.getColumn(5).getString(),
                   q.getColumn(6).getString()});
  return out;
}

// ---------------------------------------------------------------- inbound

namespace {
constexpr const char* inbound_columns =
    "id, received_at, channel, provider, provider_id, sender, learner_key, case_id, body, sent_at, kind";

std::vector<InboundMessage> read_inbound(SQLite::Statement& q) {
  std::vector<InboundMessage> out;
  while (q.executeStep()) {
    InboundMessage m;
    m.id = q.getColumn(0).getInt64();
    m.received_at = from_unix(q.getColumn(1).getInt64());
    m.channel = q.getColumn(2).getString();
    m.provider = q.getColumn(3).getString();
    m.provider_id = q.getColumn(4).getString();
    m.sender = q.getColumn(5).getString();
    m.learner_key = opt_int(q.getColumn(6));
    m.case_id = opt_int(q.getColumn(7));
    m.body = q.getColumn(8).getString();
    m.sent_at = opt_time(q.getColumn(9));
    m.kind = q.getColumn(10).getString();
    out.push_back(std::move(m));
  }
  return out;
}
}  // namespace

// Prepared once: the inbound webhook path runs this thousands of times a second.
struct InboundRepo::Statements {
  explicit Statements(SQLite::Database& db)
      : insert(db,
               "INSERT INTO inbound_message (received_at, channel, provider, provider_id, sender, learner_key, case_id, "
               "body, sent_at, kind) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(provider, provider_id) DO NOTHING") {}
  SQLite::Statement insert;
};

InboundRepo::InboundRepo(Database& db) : db_(db), st_(std::make_unique<Statements>(db.sql())) {}
InboundRepo::~InboundRepo() = default;

bool InboundRepo::insert(InboundMessage& m) {
  auto& q = st_->insert;
  q.tryReset();
  q.clearBindings();
  SQLite::bind(q, to_unix(m.received_at), m.channel, m.provider, m.provider_id, m.sender);
  bind_opt(q, 6, m.learner_key);
  bind_opt(q, 7, m.case_id);
  q.bind(8, m.body);
  if (m.sent_at) q.bind(9, to_unix(*m.sent_at));
  q.bind(10, m.kind);
  const int n = q.exec();
  q.tryReset();
  if (n == 0) return false;
  m.id = db_.sql().getLastInsertRowid();
  return true;
}

std::vector<InboundMessage> InboundRepo::for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + inbound_columns + " FROM inbound_message WHERE case_id = ? ORDER BY id");
  q.bind(1, case_id);
  return read_inbound(q);
}

std::vector<InboundMessage> InboundRepo::for_learner(std::int64_t learner_key) {
  SQLite::Statement q(db_.sql(),
                      std::string("SELECT ") + inbound_columns + " FROM inbound_message WHERE learner_key = ? ORDER BY id");
  q.bind(1, learner_key);
  return read_inbound(q);
}

std::int64_t InboundRepo::count() {
  SQLite::Statement q(db_.sql(), "SELECT COUNT(*) FROM inbound_message");
  q.executeStep();
  return q.getColumn(0).getInt64();
}

std::optional<std::string> kv_get(Database& db, std::string_view key) {
  SQLite::Statement q(db.sql(), "SELECT value FROM kv WHERE key = ?");
  q.bind(1, std::string(key));
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

void kv_set(Database& db, std::string_view key, std::string_view value) {
  SQLite::Statement q(db.sql(), "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  SQLite::bind(q, std::string(key), std::string(value));
  q.exec();
}

// ------------------------------------------------------------------ chat

std::vector<OutboxItem> OutboxRepo::pending_in_order(std::string_view channel, int limit) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + outbox_columns +
                                     " FROM outbox WHERE status = 'pending' AND channel = ? ORDER BY id LIMIT ?");
  SQLite::bind(q, std::string(channel), limit);
  return read_outbox(q);
}

void OutboxRepo::mark_sent_via(std::int64_t id, Timestamp at, std::string_view provider, std::string_view remote_id) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET status = 'sent', sent_at = ?, provider = ?, remote_id = ?, attempts = attempts + 1, "
                      "last_error = '' WHERE id = ?");
  SQLite::bind(q, to_unix(at), std::string(provider), std::string(remote_id), id);
  q.exec();
}

void OutboxRepo::defer(std::int64_t id, Timestamp t) {
  SQLite::Statement q(db_.sql(), "UPDATE outbox SET next_attempt = ? WHERE id = ?");
  SQLite::bind(q, to_unix(t), id);
  q.exec();
}

void OutboxRepo::cancel(std::int64_t id, std::string_view reason) {
  SQLite::Statement q(db_.sql(), "UPDATE outbox SET status = 'cancelled', last_error = ? WHERE id = ? AND status = 'pending'");
  SQLite::bind(q, std::string(reason), id);
  q.exec();
}

DeliveryUpdate OutboxRepo::record_delivery(std::optional<std::int64_t> id, std::string_view provider,
                                           std::string_view remote_id, std::string_view state, std::string_view detail,
                                           Timestamp at) {
  DeliveryUpdate u;
  std::optional<SQLite::Statement> q;
  if (id) {
    q.emplace(db_.sql(), "SELECT id, case_id, learner_key, channel, delivery FROM outbox WHERE id = ?");
    q->bind(1, *id);
  } else {
    q.emplace(db_.sql(),
              "SELECT id, case_id, learner_key, channel, delivery FROM outbox WHERE provider = ? AND remote_id = ? AND remote_id <> ''");
    SQLite::bind(*q, std::string(provider), std::string(remote_id));
  }
  if (!q->executeStep()) return u;
  u.outbox_id = q->getColumn(0).getInt64();
  u.case_id = opt_int(q->getColumn(1));
  u.learner_key = opt_int(q->getColumn(2));
  u.channel = q->getColumn(3).getString();
  const std::string before = q->getColumn(4).getString();
  const bool final_before = before == "delivered" || before == "failed";
  if ((final_before && state == "progress") || before == state) {
    u.delivery = before;
    return u;
  }
  SQLite::Statement up(db_.sql(), "UPDATE outbox SET delivery = ?, delivery_at = ?, delivery_detail = ? WHERE id = ?");
  SQLite::bind(up, std::string(state), to_unix(at), std::string(detail), u.outbox_id);
  up.exec();
  u.delivery = std::string(state);
  u.changed = true;
  return u;
}

bool OutboxRepo::begin_attempt(std::int64_t id) {
  SQLite::Statement q(db_.sql(), "UPDATE outbox SET started = started + 1 WHERE id = ? AND status = 'pending'");
  q.bind(1, id);
  return q.exec() > 0;
}

bool OutboxRepo::cancel_unstarted(std::int64_t id, std::string_view reason) {
  SQLite::Statement q(db_.sql(),
                      "UPDATE outbox SET status = 'cancelled', last_error = ? WHERE id = ? AND status = 'pending' AND started = 0");
  SQLite::bind(q, std::string(reason), id);
  return q.exec() > 0;
}

std::optional<std::string> ChatThreadRepo::root(std::string_view network, std::string_view destination,
                                                std::int64_t case_id) {
  SQLite::Statement q(db_.sql(),
                      "SELECT root_remote_id FROM chat_thread WHERE network = ? AND destination = ? AND case_id = ?");
  SQLite::bind(q, std::string(network), std::string(destination), case_id);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

bool ChatThreadRepo::record(const ChatThread& t) {
  SQLite::Statement q(db_.sql(),
                      "INSERT OR IGNORE INTO chat_thread (network, destination, case_id, root_remote_id, root_outbox_id, "
                      "created_at) VALUES (?,?,?,?,?,?)");
  SQLite::bind(q, t.network, t.destination, t.case_id, t.root_remote_id, t.root_outbox_id, to_unix(t.created_at));
  return q.exec() > 0;
}

std::optional<std::int64_t> ChatThreadRepo::case_of(std::string_view network, std::string_view remote_id) {
  SQLite::Statement q(db_.sql(), "SELECT case_id FROM chat_thread WHERE network = ? AND root_remote_id = ?");
  SQLite::bind(q, std::string(network), std::string(remote_id));
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

std::vector<ChatThread> ChatThreadRepo::for_case(std::int64_t case_id) {
  SQLite::Statement q(db_.sql(),
                      "SELECT network, destination, case_id, root_remote_id, root_outbox_id, created_at FROM chat_thread "
                      "WHERE case_id = ? ORDER BY created_at, network, destination");
  q.bind(1, case_id);
  std::vector<ChatThread> out;
  while (q.executeStep())
    out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64(),
                   q.getColumn(3).getString(), q.getColumn(4).getInt64(), from_unix(q.getColumn(5).getInt64())});
  return out;
}

std::int64_t TimerRepo::arm(std::string_view kind, std::string_view subject, Timestamp due, std::string_view payload) {
  SQLite::Statement q(db_.sql(),
                      "INSERT INTO timer (kind, subject, due, payload) VALUES (?,?,?,?) "
                      "ON CONFLICT(kind, subject) DO UPDATE SET due = excluded.due, payload = excluded.payload, "
                      "generation = generation + 1 RETURNING generation");
  SQLite::bind(q, std::string(kind), std::string(subject), to_unix(due), std::string(payload));
  q.executeStep();
  return q.getColumn(0).getInt64();
}

void TimerRepo::cancel(std::string_view kind, std::string_view subject) {
  SQLite::Statement q(db_.sql(), "DELETE FROM timer WHERE kind = ? AND subject = ?");
  SQLite::bind(q, std::string(kind), std::string(subject));
  q.exec();
}

namespace {

constexpr const char* timer_columns = "id, kind, subject, due, generation, payload";

Timer read_timer(SQLite::Statement& q) {
  return Timer{q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
               from_unix(q.getColumn(3).getInt64()), q.getColumn(4).getInt64(), q.getColumn(5).getString()};
}

}  // namespace

std::optional<Timer> TimerRepo::get(std::string_view kind, std::string_view subject) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + timer_columns + " FROM timer WHERE kind = ? AND subject = ?");
  SQLite::bind(q, std::string(kind), std::string(subject));
  if (!q.executeStep()) return std::nullopt;
  return read_timer(q);
}

std::vector<Timer> TimerRepo::due(Timestamp now, int limit) {
  SQLite::Statement q(db_.sql(), std::string("SELECT ") + timer_columns + " FROM timer WHERE due <= ? ORDER BY due, id LIMIT ?");
  SQLite::bind(q, to_unix(now), limit);
  std::vector<Timer> out;
  while (q.executeStep()) out.push_back(read_timer(q));
  return out;
}

std::optional<Timestamp> TimerRepo::next_due() {
  SQLite::Statement q(db_.sql(), "SELECT MIN(due) FROM timer");
  if (!q.executeStep()) return std::nullopt;
  return opt_time(q.getColumn(0));
}

bool TimerRepo::fire(const Timer& t) {
  SQLite::Statement q(db_.sql(), "DELETE FROM timer WHERE id = ? AND generation = ?");
  SQLite::bind(q, t.id, t.generation);
  return q.exec() == 1;
}

}  // namespace relance::store
