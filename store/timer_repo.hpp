// Durable timers (table timer).
#pragma once

#include "bot/domain/time.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::store {

// A durable timer (migration 0008): see TimerRepo.
struct Timer {
  std::int64_t id = 0;
  std::string kind;     // "escalation", "digest", ...
  std::string subject;  // what it is about: a case id, "" for the digest
  Timestamp due{};
  std::int64_t generation = 0;
  std::string payload;  // JSON
};

// One timer per (kind, subject). The scheduler sleeps until next_due(); a
// due timer is taken with fire(), in the transaction of what it causes.
class TimerRepo {
public:
  explicit TimerRepo(Database& db) : db_(db) {}
  // Sets or moves the timer; returns its new generation.
  std::int64_t arm(std::string_view kind, std::string_view subject, Timestamp due, std::string_view payload = "{}");
  void cancel(std::string_view kind, std::string_view subject);
  std::optional<Timer> get(std::string_view kind, std::string_view subject);
  // Due at `now`, the earliest first.
  std::vector<Timer> due(Timestamp now, int limit = 1000);
  std::optional<Timestamp> next_due();
  // Takes the firing: removes the timer if it is still at `t.generation`.
  // False: it was moved or cancelled since `t` was read; do nothing.
  bool fire(const Timer& t);

private:
  Database& db_;
};

}  // namespace relance::store
