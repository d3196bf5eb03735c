#include "store/learner_repo.hpp"

#include "store/rows.hpp"

#include <SQLiteCpp/VariadicBind.h>

#include <algorithm>
#include <array>
#include <string>

namespace relance::store {

namespace {

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

}  // namespace relance::store
