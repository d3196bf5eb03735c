#include "store/database.hpp"

#include <sqlite3.h>

#include <atomic>
#include <stdexcept>
#include <thread>

namespace relance::store {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all{
#include "migrations.inc"
  };
  return all;
}

int latest_schema_version() { return migrations().empty() ? 0 : migrations().back().version; }

std::string explicit_reason(const Migration& m) {
  const auto marker = m.sql.find("-- explicit:");
  if (marker != std::string::npos) {
    auto begin = m.sql.find_first_not_of(' ', marker + 12);
    auto end = m.sql.find('\n', marker);
    if (begin == std::string::npos || begin > end) begin = end;
    return m.sql.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  }
  return "";
}

namespace {

int open_flags(Database::Mode m) {
  if (m == Database::Mode::read_only) return SQLite::OPEN_READONLY;
  if (m == Database::Mode::read_write_one_thread) return SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX;
  return SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE;
}

// When a connection of this process last waited for another's write lock
// (steady clock, nanoseconds); yielding connections do not count.
std::atomic<std::int64_t> last_writer_wait{0};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int Database::on_busy(void* arg, int count) {
  auto& busy = *static_cast<Busy*>(arg);
  const auto now = std::chrono::steady_clock::now();
  if (count == 0) busy.since = now;
  if (now - busy.since >= busy_timeout) return 0;
  if (!busy.yields) last_writer_wait.store(steady_ns(), std::memory_order_relaxed);
  // SQLite's own handler sleeps longer and longer (up to 100 ms) between
  // two tries: behind transactions of a few milliseconds, a short poll
  // gets the lock soon after it is free.
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return 1;
}

void Database::let_waiting_writers_first() {
  // A waiting writer tries again every millisecond; one that has not for
  // 3 ms got the lock (or gave up).
  constexpr std::int64_t quiet_ns = 3'000'000;
  for (int i = 0; i < 50 && steady_ns() - last_writer_wait.load(std::memory_order_relaxed) < quiet_ns; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

Database::Database(const std::filesystem::path& file, Mode mode)
    : path_(file), db_(file.string(), open_flags(mode)) {
  sqlite3_busy_handler(db_.getHandle(), &Database::on_busy, busy_.get());
  if (mode != Mode::read_only) {
    const std::string jm = db_.execAndGet("PRAGMA journal_mode=WAL").getString();
    if (jm != "wal") throw std::runtime_error(file.string() + ": cannot switch to WAL mode (got " + jm + ")");
  }
  db_.exec("PRAGMA foreign_keys=ON");
  set_synchronous_full(true);
}

void Database::set_synchronous_full(bool full) { db_.exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); }

int Database::schema_version() { return db_.execAndGet("PRAGMA user_version").getInt(); }

std::vector<int> Database::migrate() {
  const int current = schema_version();
  if (current > latest_schema_version())
    throw std::runtime_error(path_.string() + ": database schema version " + std::to_string(current) +
                             " is newer than this relance (" + std::to_string(latest_schema_version()) +
                             "); upgrade relance");
  std::vector<int> applied;
  for (const auto& m : migrations()) {
    if (m.version <= current) continue;
    SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
    // Another process may have migrated while we waited for the lock.
    if (schema_version() >= m.version) continue;
    try {
      db_.exec(m.sql);
    } catch (const SQLite::Exception& e) {
      throw std::runtime_error("migration " + m.name + " failed: " + e.what());
    }
    db_.exec("PRAGMA user_version=" + std::to_string(m.version));
    tx.commit();
    applied.push_back(m.version);
  }
  return applied;
}

std::vector<int> Database::ensure_schema() {
  const int v = schema_version();
  if (v == latest_schema_version()) return {};
  if (v == 0) {
    // A database relance never used: nothing to upgrade, only to create. A
    // file that has tables but no version is not ours: refuse it.
    const int tables = db_.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").getInt();
    if (tables == 0) return migrate();
    throw std::runtime_error(path_.string() + ": not a relance database (it has tables but no schema version)");
  }
  if (v > latest_schema_version()) return migrate();  // throws: newer than this relance
  for (const auto& m : migrations()) {
    if (m.version <= v) continue;
    if (const std::string why = explicit_reason(m); !why.empty())
      throw std::runtime_error(path_.string() + ": schema version " + std::to_string(v) + ", this relance needs " +
                               std::to_string(latest_schema_version()) + "; the upgrade " + m.name + " must be run " +
                               "explicitly (" + why + "): back the database up, then run `relance migrate`");
  }
  return migrate();
}

void Database::require_current_schema() {
  const int v = schema_version();
  if (v != latest_schema_version())
    throw std::runtime_error(path_.string() + ": schema version " + std::to_string(v) + ", expected " +
                             std::to_string(latest_schema_version()) + " (run `relance migrate`)");
}

WriteTransaction::WriteTransaction(Database& db)
    : db_(db.sql()), nested_(sqlite3_get_autocommit(db.sql().getHandle()) == 0) {
  if (!nested_ && db.busy_->yields) db.let_waiting_writers_first();
  db_.exec(nested_ ? "SAVEPOINT relance_nested" : "BEGIN IMMEDIATE");
}

WriteTransaction::~WriteTransaction() {
  if (done_) return;
  try {
    if (nested_) db_.exec("ROLLBACK TO relance_nested; RELEASE relance_nested");
    else db_.exec("ROLLBACK");
  } catch (const std::exception&) {
    // Nothing more to undo: SQLite already rolled back (an I/O error, a full disk).
  }
}

void WriteTransaction::commit() {
  db_.exec(nested_ ? "RELEASE relance_nested" : "COMMIT");
  done_ = true;
}

}  // namespace relance::store
