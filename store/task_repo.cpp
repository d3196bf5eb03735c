#include "store/task_repo.hpp"

#include "store/rows.hpp"

#include <SQLiteCpp/VariadicBind.h>

namespace relance::store {

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

}  // namespace relance::store
