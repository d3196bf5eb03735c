// The HTTP server on 127.0.0.1 port 0 over a real engine and SQLite file,
// driven by the shared HTTP client on the same io_context (one thread, as in
// `relance serve`).
#pragma once

#include "adapters/common/http_client.hpp"
#include "bot/app/http_server.hpp"
#include "store/repositories.hpp"
#include "test_support.hpp"
#include "tests/support/fake_http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace relance::test {

inline constexpr const char* api_token = "s3cret-token-for-tests";

// `extra` is appended to the config (policies, plans...).
inline std::string api_config(std::string_view token = api_token, std::string_view extra = "") {
  return std::string("[http]\nlisten = \"127.0.0.1\"\nport = 0\nmax_body_bytes = 2048\napi_token = \"") +
         std::string(token) + "\"\n" + std::string(extra);
}

struct ApiHarness {
  explicit ApiHarness(const std::string& config_toml, Timestamp start = utc("2026-11-23T09:00:00Z"))
      : fixture(config_toml), now(start) {
    server = std::make_unique<app::HttpServer>(io, *fixture.engine, [this] { return now; }, [this] { ++changes; });
    server->start();
    base = "http://127.0.0.1:" + std::to_string(server->port());
  }
  ~ApiHarness() { server->stop(); }

  net::HttpResult request(net::Method m, const std::string& path, std::string body = {},
                          std::optional<std::string> token = std::string(api_token), net::Headers headers = {}) {
    if (token) headers.push_back({"Authorization", "Bearer " + *token});
    if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
    return run_awaitable(io, client.async_request(m, base + path, std::move(headers), std::move(body),
                                                  std::chrono::seconds{5}));
  }
  net::HttpResult post(const std::string& path, std::string body, std::optional<std::string> token = std::string(api_token)) {
    return request(net::Method::post, path, std::move(body), std::move(token));
  }

  static nlohmann::json json_of(const net::HttpResult& r) {
    INFO(r.body);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
  }

  Learner add_learner(const std::string& id, const std::string& cohort = "permis-b", std::optional<Timestamp> last_lms = {}) {
    Learner l;
    l.id = id;
    l.first_name = "Élodie";
    l.last_name = "Test";
    l.cohort = cohort;
    if (last_lms) l.activity.observe(Source::lms, *last_lms);
    store::WriteTransaction tx(*fixture.db);
    fixture.engine->upsert_learner(l, now);
    tx.commit();
    return l;
  }
  std::optional<Learner> learner(const std::string& id) { return store::LearnerRepo(*fixture.db).find(id); }
  int count(const std::string& sql) { return fixture.db->sql().execAndGet(sql).getInt(); }

  Fixture fixture;
  Timestamp now;
  int changes = 0;
  boost::asio::io_context io;
  net::HttpClient client{io.get_executor()};
  std::unique_ptr<app::HttpServer> server;
  std::string base;
};

}  // namespace relance::test
