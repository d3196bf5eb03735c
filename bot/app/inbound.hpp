// What learners send (SMS replies, STOP) and what gateways report (delivery),
// written with grouped commits.
//
// A gateway retries a webhook until it gets a 2xx, so a 200 must mean "on
// disk": each request is answered only after the transaction holding it is
// committed with synchronous=FULL (fsync). One fsync per message would cap
// the rate at the disk's fsync rate (a few hundred a second); instead one
// writer thread, with its own SQLite connection and its own Engine, takes
// every request that arrived while the previous commit was on its way to
// disk and commits them together. Each request is applied inside its own
// savepoint, so one that fails (a constraint, a bug) is answered 500 and
// retried by its provider without failing the others of its group. A crash
// before the commit loses only requests that were never answered: their
// providers send them again, and the provider's message id (stored once)
// makes the second delivery a no-op.
#pragma once

#include "bot/app/engine.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace relance::app {

// One webhook request's content.
struct InboundBatch {
  std::vector<IncomingMessage> messages;  // sender as the provider gave it (normalised here for SMS)
  std::vector<DeliveryNote> reports;
  // Settings (kv) written in the same transaction: a reader's cursor moves
  // exactly when what it read is stored (the IMAP mailbox's).
  std::vector<std::pair<std::string, std::string>> settings;
};

struct InboundStats {
  std::uint64_t commits = 0;     // transactions committed (one fsync each)
  std::uint64_t requests = 0;    // batches answered ok
  std::uint64_t failed = 0;      // batches answered "not stored"
  std::uint64_t messages = 0;    // new messages stored
  std::uint64_t duplicates = 0;  // messages already stored
  std::uint64_t reports = 0;
  std::uint64_t not_ours = 0;    // emails from nobody we know, answering none of ours: left alone
  std::uint64_t largest_group = 0;
};

// The sender of an SMS as E.164: "+33612345678", "0033612345678",
// "33612345678" (Kannel gives international numbers without '+') and national
// forms ("0612345678", for `region`). Empty when it is not a phone number
// (an alphanumeric sender).
std::string sms_sender_e164(std::string_view raw, std::string_view region = "FR");

class InboundWriter {
public:
  using Done = std::function<void(bool stored)>;

  // Opens its own connection to `database` (which must be migrated) and
  // starts the writer thread. `on_commit` runs on that thread after each
  // commit that stored something new (the runtime wakes its dispatchers).
  InboundWriter(const Config& config, const ZoneRules& zone, const messages::Catalog& catalog,
                const std::filesystem::path& database, std::function<Timestamp()> clock,
                std::function<void()> on_commit = {});
  // Finishes what was submitted, then stops.
  ~InboundWriter();
  InboundWriter(const InboundWriter&) = delete;
  InboundWriter& operator=(const InboundWriter&) = delete;

  // Any thread. `done` runs on the writer thread once the batch is durably
  // stored (true) or could not be (false: answer 500, the provider retries).
  void submit(InboundBatch batch, Done done);

  InboundStats stats() const;

private:
  void run();
  bool apply(Engine& engine, InboundBatch& b, Timestamp now, InboundStats& st);

  const Config& config_;
  const ZoneRules& zone_;
  const messages::Catalog& catalog_;
  std::filesystem::path database_;
  std::function<Timestamp()> clock_;
  std::function<void()> on_commit_;

  struct Pending {
    InboundBatch batch;
    Done done;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  InboundStats stats_;
  std::thread thread_;
};

}  // namespace relance::app
