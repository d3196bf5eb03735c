// The service's clock: sleeps until the next due instant (a step, a dropout
// deadline, a learner crossing a threshold, a timer), never polling; a change
// from outside (API, console, poller) pokes it.
//
// The detection pass runs on a thread of its own, with its own SQLite
// connection and its own Engine (as the inbound writer does), never on the
// I/O thread: a pass over a million learners takes seconds of CPU, and in
// slices on the I/O thread each slice was a stall for HTTP, the chat and the
// timers whenever the kernel preempted it (measured: 10-28 ms waiting for a
// CPU inside one 3 ms slice on a loaded machine, and commits blocked 15-30 ms
// on the disk while the checkpointer synced). SQLite has one writer: the
// pass commits one group of learners, or one case, per transaction, and
// reads what it decides on inside that transaction, so a write of the I/O
// thread waits at most for one such group and is never overwritten by a
// decision taken on what it read before.
//
// The I/O thread only hands a pass its `now` and is told (posted) when the
// pass has queued something new (at most every half second) and when it
// ends; then it shows staff messages on the console, wakes the dispatchers
// and arms the next wake.
#pragma once

#include "bot/app/engine.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace relance::console {
class ConsoleChannel;
}

namespace relance::app {

class Scheduler {
public:
  // `engine` is the I/O thread's (its database gives the file the pass
  // thread opens). Everything but the pass runs on `io`'s thread.
  Scheduler(boost::asio::io_context& io, Engine& engine, std::function<Timestamp()> clock,
            console::ConsoleChannel* console);
  // Stops the pass thread: a pass in progress stops after its current group
  // (each group is committed; what is left is still due and found again).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Learner channels that really send (the console shows the others' messages).
  std::vector<std::string> live_channels;

  // Called on the I/O thread after each pass, and during a long one when it
  // has queued something new: the dispatchers look at the outbox.
  std::function<void()> after_pass;

  void start() { arm(std::chrono::seconds(0)); }

  // New or changed learners arrived (API, Moodle): look again soon. Changes
  // are coalesced over a few seconds, so that a busy feed makes one pass of
  // many learners rather than many passes of one. A pass running now is
  // followed by another at once if it left work (the next due instant is
  // then already past).
  void poke();

  // Shows on the console what is queued for staff (and, once, learner
  // messages of channels that do not send). I/O thread.
  void deliver_staff(Timestamp now);

private:
  struct Ended {
    std::optional<ScanReport> report;  // empty: the pass failed
    std::string error;
  };

  void arm(std::chrono::steady_clock::duration d);
  void tick();
  void pass_ended(Ended e);
  // The pass thread.
  void run();
  Ended run_pass(Engine& engine, Timestamp now);

  boost::asio::io_context& io_;
  Engine& engine_;
  std::function<Timestamp()> clock_;
  console::ConsoleChannel* console_;
  boost::asio::steady_timer timer_;
  bool running_ = false;  // a pass was handed over and has not ended (I/O thread)

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Timestamp> request_;  // the next pass's `now`, for the pass thread
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace relance::app
