// A crash between receiving and acknowledging: the real binary (`relance
// serve`) takes Kannel MO requests on 8 connections and is killed (SIGKILL)
// in the middle. Every request it answered 200 is on disk; the provider then
// sends again what was not answered (and, as providers do, some that were),
// to the restarted service: each message ends up stored exactly once, with
// exactly one staff post and one journal line.
#include "test_support.hpp"

#include "store/repositories.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

extern char** environ;

using namespace relance;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

const char* secret = "crash-test-secret-0123456789";

std::uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

using Service = test::ServiceProcess;

bool accepting(std::uint16_t port) {
  try {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string mo(int i) {
  return "GET /hooks/sms/kannel?secret=" + std::string(secret) + "&id=crash-" + std::to_string(i) + "&from=336" +
         std::to_string(10000000 + i % 40) + "&to=12345&coding=0&charset=UTF-8&text=R%C3%A9ponse+" + std::to_string(i) +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Kannel/1.4.5\r\n\r\n";
}

// Sends messages `ids` over one keep-alive connection; returns those answered 200.
std::vector<int> send_all(std::uint16_t port, const std::vector<int>& ids, std::atomic<int>& answered) {
  std::vector<int> ok;
  try {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::streambuf buf;
    for (int i : ids) {
      asio::write(s, asio::buffer(mo(i)));
      const auto n = asio::read_until(s, buf, "\r\n\r\n");
      std::string head(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + std::ptrdiff_t(n));
      buf.consume(n);
      std::size_t length = 0;
      if (auto p = head.find("Content-Length: "); p != std::string::npos) length = std::stoul(head.substr(p + 16));
      if (buf.size() < length) asio::read(s, buf, asio::transfer_exactly(length - buf.size()));
      buf.consume(length);
      if (head.compare(9, 3, "200") == 0) {
        ok.push_back(i);
        ++answered;
      }
    }
  } catch (const std::exception&) {
    // The service died under us: what was not answered is the provider's to resend.
  }
  return ok;
}

}  // namespace

TEST_CASE("killed between receiving and acknowledging, nothing answered is lost and nothing is doubled", "[learner][inbound][crash]") {
  const std::uint16_t port = free_port();
  test::TempDir dir;
  const auto db_path = dir / "relance.db";
  const std::string toml = "[organisation]\nname = \"Organisme test\"\n[store]\npath = \"" + db_path.string() +
                           "\"\n[http]\nport = " + std::to_string(port) +
                           "\n[[staff]]\nid = \"marie\"\nname = \"Marie\"\nroles = [\"secretariat\"]\n"
                           "[sms]\ngateway = \"kannel\"\n[sms.kannel]\nsendsms_url = \"http://127.0.0.1:9/cgi-bin/sendsms\"\n"
                           "username = \"relance\"\npassword = \"pw\"\nfrom = \"12345\"\npublic_url = \"http://127.0.0.1:" +
                           std::to_string(port) + "\"\nsecret = \"" + secret + "\"\n";
  const auto config = (dir / "relance.toml").string();
  test::write_file(config, toml);
  REQUIRE(std::system((std::string(RELANCE_BINARY) + " --config " + config + " migrate > /dev/null 2>&1").c_str()) == 0);
  {
    store::Database db(db_path);
    store::LearnerRepo learners(db);
    store::WriteTransaction tx(db);
    for (int i = 0; i < 40; ++i) {
      Learner l;
      l.id = "L" + std::to_string(i);
      l.first_name = "Léa";
      l.phone = "+336" + std::to_string(10000000 + i);
      learners.upsert(l, test::utc("2026-11-23T09:00:00Z"));
    }
    tx.commit();
  }

  constexpr int total = 1200;
  std::set<int> acknowledged;
  {
    Service svc(config, dir / "serve-1.log");
    REQUIRE(test::wait_until([&] { return accepting(port); }));
    std::atomic<int> answered{0};
    std::mutex mu;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        std::vector<int> ids;
        for (int i = t; i < total; i += 8) ids.push_back(i);
        auto ok = send_all(port, ids, answered);
        std::lock_guard lk(mu);
        acknowledged.insert(ok.begin(), ok.end());
      });
    const bool reached = test::wait_until([&] { return answered >= 300; }, std::chrono::seconds(60));
    svc.kill_now();
    for (auto& th : threads) th.join();
    REQUIRE(reached);
  }
  INFO("acknowledged before the kill: " << acknowledged.size());
  REQUIRE(acknowledged.size() >= 300);
  REQUIRE(acknowledged.size() < std::size_t(total));  // killed mid-stream

  // Everything acknowledged is on disk.
  {
    store::Database db(db_path);
    std::set<std::string> stored;
    SQLite::Statement q(db.sql(), "SELECT provider_id FROM inbound_message");
    while (q.executeStep()) stored.insert(q.getColumn(0).getString());
    for (int i : acknowledged) CHECK(stored.count("crash-" + std::to_string(i)) == 1);
  }

  // The provider resends what got no 200, and some of what did.
  {
    Service svc(config, dir / "serve-2.log");
    REQUIRE(test::wait_until([&] { return accepting(port); }));
    std::vector<int> again;
    for (int i = 0; i < total; ++i)
      if (!acknowledged.count(i) || i % 10 == 0) again.push_back(i);
    std::atomic<int> answered{0};
    auto ok = send_all(port, again, answered);
    CHECK(ok.size() == again.size());
    svc.stop();
  }
  store::Database db(db_path);
  auto one = [&](const std::string& sql) { return db.sql().execAndGet(sql).getInt(); };
  CHECK(one("SELECT COUNT(*) FROM inbound_message") == total);
  CHECK(one("SELECT COUNT(DISTINCT provider_id) FROM inbound_message") == total);
  CHECK(one("SELECT COUNT(*) FROM journal WHERE action = 'learner.replied'") == total);
  CHECK(one("SELECT COUNT(*) FROM outbox WHERE channel = 'staff' AND dedupe_key LIKE 'inbound:%'") == total);
  CHECK(one("SELECT COUNT(*) FROM inbound_message WHERE learner_key IS NULL") == 0);
}
