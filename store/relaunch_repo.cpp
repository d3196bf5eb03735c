#include "store/relaunch_repo.hpp"

#include "store/rows.hpp"

#include <SQLiteCpp/VariadicBind.h>

#include <string>

namespace relance::store {

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

}  // namespace relance::store
