// The recipes' SMTP sink (aiosmtpd) for scenarios: started on a free port
// with a handler class of our choice, stopped by pid; what it stored, and
// each stored message decoded by Python's email package (parse_eml.py), a
// parser independent of ours.
#pragma once

#include "channels_harness.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace relance::test::smtp_scn {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

inline const std::string email_tests = RELANCE_SOURCE_DIR "/tests/adapters/email";

inline fs::path recipes_dir() {
  if (const char* e = std::getenv("RELANCE_RECIPES"); e && *e) return e;
  return fs::path(RELANCE_SOURCE_DIR) / ".." / "shared" / "recipes";
}

using test::Ran;
inline Ran run(const std::string& cmd) { return run_command(cmd); }

// Why there is no SMTP server to test against here, or empty.
inline std::string missing_sink() {
  if (!fs::exists(recipes_dir() / "smtp_sink_handler.py"))
    return "no " + (recipes_dir() / "smtp_sink_handler.py").string() + " (set RELANCE_RECIPES)";
  if (run("/usr/bin/python3 -c 'import aiosmtpd'").status != 0) return "apt-get install -y python3-aiosmtpd";
  return {};
}

// A test that needs the real server fails without it: passing without
// running would hide that it never ran (deploy/install-deps.sh --test).
#define REQUIRE_SINK()                                                          \
  if (const auto why = ::relance::test::smtp_scn::missing_sink(); !why.empty()) \
  FAIL("no SMTP sink on this machine: " << why)

inline bool port_open(std::uint16_t port) {
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::address_v4::loopback(), port});
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// aiosmtpd as the recipe starts it (Debian's python, the recipe's handler
// module on the path), with a handler class of our choice; stopped by pid.
class Sink {
public:
  explicit Sink(const std::string& handler) : port_(channels_scn::free_port()) {
    const auto r = run("PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=" + recipes_dir().string() + ":" + email_tests +
                       " setsid /usr/bin/python3 -m aiosmtpd -n -u -l 127.0.0.1:" + std::to_string(port_) + " -c " +
                       handler + " " + (dir_.path() / "maildir").string() + " > " +
                       (dir_.path() / "aiosmtpd.log").string() + " 2>&1 & echo $!");
    pid_ = std::atoi(r.out.c_str());
    REQUIRE(pid_ > 0);
    const bool up = wait_until([&] { return port_open(port_); });
    INFO(test::read_file(dir_.path() / "aiosmtpd.log"));
    REQUIRE(up);
  }
  ~Sink() {
    if (pid_ > 0 && ::kill(pid_, SIGTERM) == 0)
      wait_until([&] { return !fs::exists("/proc/" + std::to_string(pid_)); }, 5s);
  }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  fs::path maildir() const { return dir_.path() / "maildir"; }

  std::vector<json> index() const {
    std::vector<json> out;
    std::ifstream in(maildir() / "index.jsonl");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line));
    return out;
  }
  // One stored message decoded by Python's email package.
  json parsed(const json& entry) const {
    const auto r = run("/usr/bin/python3 " + email_tests + "/parse_eml.py " +
                       (maildir() / entry["file"].get<std::string>()).string());
    INFO(r.out);
    REQUIRE(r.status == 0);
    return json::parse(r.out);
  }

private:
  test::TempDir dir_;
  std::uint16_t port_;
  int pid_ = 0;
};

}  // namespace relance::test::smtp_scn
