#include "bot/app/inbound.hpp"

#include "bot/app/phone.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace relance::app {

std::string sms_sender_e164(std::string_view raw, std::string_view region) {
  std::string s;
  for (char ch : raw)
    if (ch != ' ' && ch != '.' && ch != '-') s += ch;
  auto digits = [](std::string_view v) {
    return !v.empty() && std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  // The forms gateways use, without a round trip through libphonenumber
  // (this runs for every inbound message): +E.164, 00-prefixed, and Kannel's
  // international digits without '+'.
  if (s.size() > 1 && s[0] == '+' && digits(std::string_view(s).substr(1)) && s.size() >= 9 && s.size() <= 16) return s;
  if (s.rfind("00", 0) == 0 && digits(s) && s.size() >= 10) return "+" + s.substr(2);
  if (digits(s) && s[0] != '0' && s.size() >= 11 && s.size() <= 15) return "+" + s;
  const auto r = normalize_phone(s, region);
  return r.ok() ? r.e164 : std::string();
}

InboundWriter::InboundWriter(const Config& config, const ZoneRules& zone, const messages::Catalog& catalog,
                             const std::filesystem::path& database, std::function<Timestamp()> clock,
                             std::function<void()> on_commit)
    : config_(config), zone_(zone), catalog_(catalog), database_(database), clock_(std::move(clock)),
      on_commit_(std::move(on_commit)) {
  thread_ = std::thread([this] { run(); });
}

InboundWriter::~InboundWriter() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void InboundWriter::submit(InboundBatch batch, Done done) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) {
      // Never stored: the provider will send it again to the next process.
      if (done) done(false);
      return;
    }
    queue_.push_back({std::move(batch), std::move(done)});
  }
  cv_.notify_one();
}

InboundStats InboundWriter::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

bool InboundWriter::apply(Engine& engine, InboundBatch& b, Timestamp now, InboundStats& st) {
  bool stored = false;
  for (auto& m : b.messages) {
    if (m.channel == "sms") {
      const std::string e164 = sms_sender_e164(m.sender, config_.sms.region);
      if (!e164.empty()) m.sender = e164;
    }
    const Received r = *engine.apply(m, now).received;
    if (r == Received::duplicate) ++st.duplicates;
    else if (r == Received::not_ours) ++st.not_ours;
    else {
      ++st.messages;
      stored = true;
    }
  }
  for (const auto& d : b.reports) {
    engine.apply(d, now);
    ++st.reports;
    stored = true;
  }
  for (const auto& [key, value] : b.settings) store::kv_set(engine.db(), key, value);
  return stored;
}

void InboundWriter::run() {
  std::optional<store::Database> db;
  std::optional<Engine> engine;
  std::optional<SQLite::Statement> savepoint, release, rollback_to;  // prepared once: run per request
  auto open = [&] {
    db.emplace(database_, store::Database::Mode::read_write_one_thread);
    db->require_current_schema();
    // A group touches a few pages per message (the learner's row, indexes):
    // with SQLite's default 2 MiB cache a large group spills dirty pages to
    // the WAL in the middle of the transaction (a pwrite per page, measured
    // as a fifth of the writer's time). 32 MiB holds a group of thousands;
    // it is only used as pages are touched.
    db->sql().exec("PRAGMA cache_size = -32768");
    engine.emplace(config_, *db, zone_, catalog_);
    savepoint.emplace(db->sql(), "SAVEPOINT inbound");
    release.emplace(db->sql(), "RELEASE inbound");
    rollback_to.emplace(db->sql(), "ROLLBACK TO inbound");
  };
  auto run_stmt = [](std::optional<SQLite::Statement>& st) {
    st->tryReset();
    st->exec();
    st->tryReset();
  };
  std::vector<Pending> group;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Everything that arrived while the last commit was on its way to disk.
      group.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    InboundStats st;
    std::vector<char> ok(group.size(), 0);
    bool stored = false;
    try {
      if (!engine) open();
      const Timestamp now = clock_();
      store::WriteTransaction tx(*db);
      for (std::size_t i = 0; i < group.size(); ++i) {
        run_stmt(savepoint);
        try {
          stored |= apply(*engine, group[i].batch, now, st);
          run_stmt(release);
          ok[i] = 1;
        } catch (const std::exception& e) {
          run_stmt(rollback_to);
          run_stmt(release);
          spdlog::error("inbound: a request could not be stored (answered 500, the provider will retry): {}", e.what());
        }
      }
      tx.commit();
      ++st.commits;
    } catch (const std::exception& e) {
      // The whole group is lost from the store's point of view: nobody is
      // told "stored". Reopen on the next group (the file may have moved,
      // the disk may have filled).
      spdlog::error("inbound: commit failed, {} request(s) answered 500: {}", group.size(), e.what());
      std::fill(ok.begin(), ok.end(), 0);
      stored = false;
      savepoint.reset();
      release.reset();
      rollback_to.reset();
      engine.reset();
      db.reset();
    }
    for (std::size_t i = 0; i < group.size(); ++i) {
      if (ok[i]) ++st.requests;
      else ++st.failed;
    }
    {
      // Counted before anyone is answered: a submitter that reads stats()
      // after its answer sees its own request in them.
      std::lock_guard lk(mu_);
      stats_.commits += st.commits;
      stats_.requests += st.requests;
      stats_.failed += st.failed;
      stats_.messages += st.messages;
      stats_.duplicates += st.duplicates;
      stats_.reports += st.reports;
      stats_.not_ours += st.not_ours;
      stats_.largest_group = std::max<std::uint64_t>(stats_.largest_group, group.size());
    }
    for (std::size_t i = 0; i < group.size(); ++i)
      if (group[i].done) group[i].done(ok[i] != 0);
    group.clear();
    if (stored && on_commit_) on_commit_();
  }
}

}  // namespace relance::app
