#include "store/timer_repo.hpp"

#include "store/rows.hpp"

#include <SQLiteCpp/VariadicBind.h>

#include <string>

namespace relance::store {

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
