// WAL checkpoints off the service's I/O thread.
//
// SQLite copies the write-ahead log back into the database (a checkpoint,
// with its fsyncs) inside whichever commit crosses 1000 pages: on the
// service's I/O thread, that is a commit that suddenly takes tens of
// milliseconds while every HTTP request waits. The service turns that off on
// its own connection and runs this instead: a thread with its own connection
// that checkpoints (PASSIVE: it never blocks a writer or a reader) every
// `interval`, and once more when it stops.
//
//   store::Checkpointer cp(db, std::chrono::seconds(1));  // db: the I/O thread's
#pragma once

#include "store/database.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace relance::store {

class Checkpointer {
public:
  // Stops `db`'s automatic checkpoints until this is destroyed.
  Checkpointer(Database& db, std::chrono::milliseconds interval);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Checkpoints run so far, and WAL frames copied back by them.
  std::int64_t runs() const;
  std::int64_t frames() const;

private:
  void run();

  Database& db_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::int64_t runs_ = 0;
  std::int64_t frames_ = 0;
  std::thread thread_;
};

}  // namespace relance::store
