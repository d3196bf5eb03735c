// Shared by the Matrix adapter tests: an in-memory chat::Hooks (kv, dedupe,
// a tiny command handler that knows "prendre <case>"), the shipped texts,
// and a fixture with the fake homeserver, the bot, a staff member, a
// stranger and a staff room. Everything runs on the test thread: the
// adapter's io_context only runs inside run_io_until / run_awaitable.
#pragma once

#include "adapters/matrix/matrix_sender.hpp"
#include "adapters/matrix/matrix_session.hpp"
#include "adapters/matrix/matrix_sync.hpp"
#include "messages/catalog.hpp"
#include "tests/support/fake_matrix.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace relance::test::mx {

using namespace std::chrono_literals;
using nlohmann::json;

struct TestHooks {
  std::map<std::string, std::string, std::less<>> kv;
  std::set<std::string, std::less<>> seen;
  struct Command {
    std::string user, line;  // as typed, or the command a reaction is (chat::line_of)
    bool typed = true;       // false: it came as a command, not as text to parse
  };
  std::vector<Command> commands;
  std::map<std::string, std::int64_t, std::less<>> case_posts;  // alert event id -> case
  std::map<std::int64_t, std::string> claimed_by;
  messages::Catalog catalog = messages::Catalog::load(std::string(RELANCE_SOURCE_DIR) + "/messages");

  std::string render(std::string_view key) const { return catalog.render("fr", key); }

  chat::Hooks hooks() {
    chat::Hooks h;
    h.command = [this](chat::Network, std::string_view user, const chat::Input& input) {
      const std::string line = chat::line_of(input);
      commands.push_back({std::string(user), line, std::holds_alternative<chat::Typed>(input)});
      const std::string l(line);
      if (l.rfind("prendre ", 0) == 0) {
        const auto id = std::stoll(l.substr(8));
        claimed_by[id] = std::string(user);
        return chat::Answer{true, true, "✋ Dossier #" + std::to_string(id) + " pris en charge par " + std::string(user),
                            id};
      }
      return chat::Answer{true, true, "ok : " + l, std::nullopt};
    };
    h.case_of_post = [this](chat::Network, std::string_view id) -> std::optional<std::int64_t> {
      auto it = case_posts.find(id);
      if (it == case_posts.end()) return std::nullopt;
      return it->second;
    };
    h.alert_status = [this](chat::Network, std::int64_t id) -> std::optional<chat::Edit> {
      auto it = claimed_by.find(id);
      if (it == claimed_by.end()) return std::nullopt;
      chat::Edit e;
      e.plain = "Dossier #" + std::to_string(id) + " — pris par " + it->second;
      e.html = "Dossier #" + std::to_string(id) + " — pris par " + it->second;
      return e;
    };
    h.first_seen = [this](std::string_view source, std::string_view id) {
      return seen.insert(std::string(source) + "/" + std::string(id)).second;
    };
    h.load = [this](std::string_view key) -> std::optional<std::string> {
      auto it = kv.find(key);
      if (it == kv.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
    h.save = [this](std::string_view key, std::string_view value) { kv[std::string(key)] = std::string(value); };
    h.text = [this](std::string_view key, const std::vector<std::pair<std::string, std::string>>& params) {
      Params p(params.begin(), params.end());
      return catalog.render("fr", key, p);
    };
    return h;
  }
};

// Short waits: the fake answers at once, so only retries and backoff matter.
inline matrix::MatrixOptions fast_options() {
  matrix::MatrixOptions o;
  o.request_timeout = 5s;
  o.backoff_initial = 20ms;
  o.backoff_cap = 200ms;
  o.max_inline_wait = 5s;
  return o;
}

struct Fixture {
  FakeMatrix hs;
  std::string bot = hs.add_user("relance", "secret");
  std::string alice = hs.add_user("alice", "pw");      // staff
  std::string mallory = hs.add_user("mallory", "pw");  // not staff
  std::string room = hs.create_room(alice, {.name = "Accueil", .members = {bot}});
  boost::asio::io_context io;
  TestHooks th;
  matrix::MatrixOptions options = fast_options();

  matrix::MatrixConfig config() const {
    matrix::MatrixConfig c;
    c.enabled = true;
    c.homeserver = hs.url();
    c.user_id = bot;
    c.password = "secret";
    c.device_id = "RELANCE";
    c.default_room = room;
    c.allowed_inviters = {alice};
    return c;
  }
  std::shared_ptr<matrix::MatrixSession> session(std::optional<matrix::MatrixConfig> c = std::nullopt) {
    return std::make_shared<matrix::MatrixSession>(io.get_executor(), c ? *c : config(), th.hooks(), options);
  }

  template <class T>
  T run(boost::asio::awaitable<T> a, std::chrono::milliseconds deadline = 10s) {
    return run_awaitable(io, std::move(a), deadline);
  }
  bool until(const std::function<bool()>& cond, std::chrono::milliseconds deadline = 10s) {
    return run_io_until(io, cond, deadline);
  }

  // The events the bot created in `room_id` (PUT .../send), in order.
  std::vector<FakeMatrix::SentEvent> bot_events(const std::string& room_id) const {
    std::vector<FakeMatrix::SentEvent> out;
    for (auto& e : hs.sent_events())
      if (e.room_id == room_id && e.sender == bot) out.push_back(e);
    return out;
  }
  int requests_to(const std::string& path_part) const {
    int n = 0;
    for (const auto& r : const_cast<FakeMatrix&>(hs).server().requests())
      if (r.path.find(path_part) != std::string::npos) ++n;
    return n;
  }
};

// A MatrixSync running on the fixture's io_context.
struct RunningSync {
  RunningSync(Fixture& f, std::shared_ptr<matrix::MatrixSession> s) : fx(f), session(std::move(s)), sync(session) {
    boost::asio::co_spawn(f.io, sync.async_run(), [this](std::exception_ptr e, std::string r) {
      error = e;
      result = std::move(r);
      done = true;
    });
  }
  ~RunningSync() {
    if (!done) {
      sync.stop();
      fx.until([this] { return done; }, 5s);
    }
  }
  // Waits for `n` handled /sync answers in total.
  bool batches(int n) { return fx.until([&] { return sync.batches() >= n; }); }
  void stop() {
    sync.stop();
    REQUIRE(fx.until([this] { return done; }, 5s));
  }

  Fixture& fx;
  std::shared_ptr<matrix::MatrixSession> session;
  matrix::MatrixSync sync;
  bool done = false;
  std::string result;
  std::exception_ptr error;
};

inline chat::Post post(std::int64_t outbox_id, std::string room, std::string plain, std::string html = {}) {
  chat::Post p;
  p.outbox_id = outbox_id;
  p.destination = std::move(room);
  p.plain = std::move(plain);
  p.html = html.empty() ? p.plain : std::move(html);
  return p;
}

}  // namespace relance::test::mx
