// SQLite has one writer and no queue. The service's detection pass writes
// from its own thread, one short transaction after another; a write of the
// I/O thread (an API call, a staff command) must get the lock between two of
// them, not wait until its busy timeout runs out.
#include "store/database.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

using namespace relance;
using namespace relance::store;
using relance::test::TempDir;

TEST_CASE("a write waiting for the lock goes before the next transaction of a connection that writes without pause",
          "[store][database][write_lock]") {
  TempDir dir;
  const auto file = dir / "relance.db";
  Database io(file);
  io.sql().exec("CREATE TABLE pass_rows (v INTEGER); CREATE TABLE io_rows (v INTEGER)");

  std::atomic<bool> stop{false};
  std::atomic<int> pass_commits{0};
  std::thread pass([&] {
    Database db(file);
    db.yield_to_waiting_writers();
    while (!stop) {
      WriteTransaction tx(db);
      db.sql().exec("INSERT INTO pass_rows VALUES (1)");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a group of learners examined
      tx.commit();
      ++pass_commits;
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pass_commits == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();

  int stored = 0;
  for (int i = 0; i < 50; ++i) {
    try {
      WriteTransaction tx(io);
      io.sql().exec("INSERT INTO io_rows VALUES (1)");
      tx.commit();
      ++stored;
    } catch (const std::exception& e) {
      UNSCOPED_INFO("write " << i << " failed: " << e.what());
    }
  }
  stop = true;
  pass.join();
  CHECK(pass_commits > 0);
  CHECK(stored == 50);
  CHECK(io.sql().execAndGet("SELECT COUNT(*) FROM io_rows").getInt() == 50);
}
