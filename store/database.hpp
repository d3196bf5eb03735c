// The SQLite database: opening (WAL), numbered migrations (PRAGMA user_version),
// and transactions. Repositories in this folder work on a Database&.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <filesystem>
#include <memory>
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

  // SQLite has one writer and no queue: a connection that writes in a long
  // series of short transactions (the detection pass, on its own thread)
  // takes the lock again at once after each commit, and a writer that waits
  // for it (the I/O thread, polling every millisecond) could wait until its
  // busy timeout runs out. A connection marked so lets every writer of this
  // process that is waiting go first, before each transaction it begins.
  void yield_to_waiting_writers() { busy_->yields = true; }

  // While it waits for another connection's write lock, a connection polls
  // every millisecond up to this long, then gives up (SQLITE_BUSY).
  static constexpr std::chrono::milliseconds busy_timeout{5000};

private:
  friend class WriteTransaction;
  struct Busy {
    std::chrono::steady_clock::time_point since;  // when the current wait began
    bool yields = false;
  };
  static int on_busy(void* busy, int count);
  // Returns once no other writer of this process has been waiting for the
  // lock for a few milliseconds (bounded, so that the pass moves on under a
  // constant stream of writes).
  void let_waiting_writers_first();

  std::filesystem::path path_;
  SQLite::Database db_;
  std::unique_ptr<Busy> busy_ = std::make_unique<Busy>();
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
