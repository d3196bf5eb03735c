// The SQLite database: opening (WAL), numbered migrations (PRAGMA user_version),
// and transactions. Repositories in this folder work on a Database&.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>
#include <string>
#include <vector>

namespace relance::store {

struct Migration {
  int version;
  std::string name;  // file name, e.g. "0001_init.sql"
  std::string sql;
};
// Migrations compiled in from store/migrations/NNNN_*.sql, in order.
const std::vector<Migration>& migrations();
int latest_schema_version();
// Why applying `m` must be an explicit step, or "" when it may run at start.
// Each migration runs in one transaction (a crash leaves the old schema), so
// upgrades run at start by default; one that must wait for an administrator
// (a long rewrite, a step outside the database) says so in a line
// "-- explicit: <reason>".
std::string explicit_reason(const Migration& m);

class Database {
public:
  // read_write_one_thread: the connection is only ever used by one thread
  // (the inbound writer's), so SQLite's per-call mutexes are skipped.
  enum class Mode { read_write, read_only, read_write_one_thread };
  // Opens (creating the file if needed) in WAL mode with foreign keys on.
  // Does not migrate: call migrate(), or check schema_version().
  explicit Database(const std::filesystem::path& file, Mode mode = Mode::read_write);

  SQLite::Database& sql() { return db_; }
  const std::filesystem::path& path() const { return path_; }

  int schema_version();
  // Applies every pending migration, each in its own transaction. Returns the
  // versions applied. Refuses a database newer than this binary.
  std::vector<int> migrate();
  // Throws a clear error when the schema is not current (serve refuses to
  // run on an unmigrated database rather than half-working).
  void require_current_schema();
  // What every verb that uses the database calls first: a new, empty
  // database gets the schema; an older schema is upgraded, unless a pending
  // migration is marked explicit (explicit_reason): then it waits for
  // `relance migrate` (after a backup), with the reason. A file with tables
  // but no schema version is not ours: refused. Returns the versions applied.
  std::vector<int> ensure_schema();

  // synchronous=FULL for durability by default; NORMAL is WAL-safe against
  // application crashes but may lose the last commits on power loss.
  void set_synchronous_full(bool full);

private:
  std::filesystem::path path_;
  SQLite::Database db_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.
// Opened while another one is open on the same connection, it is a
// SAVEPOINT inside it: its commit only keeps its writes for the outer
// transaction, which alone makes them durable (a chat command is run,
// marked seen and its answer queued in one commit).
class WriteTransaction {
public:
  explicit WriteTransaction(Database& db);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit();

private:
  SQLite::Database& db_;
  bool nested_ = false;
  bool done_ = false;
};

}  // namespace relance::store
