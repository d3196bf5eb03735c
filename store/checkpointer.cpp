#include "store/checkpointer.hpp"

#include <sqlite3.h>

namespace relance::store {

Checkpointer::Checkpointer(Database& db, std::chrono::milliseconds interval) : db_(db), interval_(interval) {
  db_.sql().exec("PRAGMA wal_autocheckpoint=0");
  thread_ = std::thread([this] { run(); });
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  db_.sql().exec("PRAGMA wal_autocheckpoint=1000");
}

std::int64_t Checkpointer::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

std::int64_t Checkpointer::frames() const {
  std::lock_guard lock(mutex_);
  return frames_;
}

void Checkpointer::run() {
  // Its own connection: SQLite connections are not shared between threads here.
  Database own(db_.path());
  for (;;) {
    bool last = false;
    {
      std::unique_lock lock(mutex_);
      last = cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
    int log = 0, copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(own.sql().getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    {
      std::lock_guard lock(mutex_);
      ++runs_;
      if (rc == SQLITE_OK && copied > 0) frames_ += copied;
    }
    if (last) return;
  }
}

}  // namespace relance::store
