// deploy/relance.example.toml passes `relance check-config` as shipped and
// with each of its commented SMS gateways and [email] switched on, secrets
// given in the environment as the comments say.
#include "bot/app/config.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <memory>
#include <sstream>

using namespace relance;
using relance::test::TempDir;
using relance::test::read_file;
using relance::test::write_file;

namespace {

struct Run {
  int code = -1;
  std::string out;
};

Run run(const std::string& env, const std::string& args) {
  const std::string cmd = env + " " + RELANCE_BINARY + " " + args + " 2>&1";
  Run r;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  REQUIRE(p);
  std::array<char, 4096> buf{};
  while (auto n = fread(buf.data(), 1, buf.size(), p.get())) r.out.append(buf.data(), n);
  const int status = pclose(p.release());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Uncomments the block that starts at the line `# <first>`: every following
// line loses its leading "# " until a line that is just "#".
std::string uncomment(const std::string& text, const std::string& first) {
  std::istringstream in(text);
  std::string out, line;
  bool inside = false, found = false;
  while (std::getline(in, line)) {
    if (!inside && line == "# " + first) inside = found = true;
    if (inside && line == "#") inside = false;
    if (inside && line.rfind("# ", 0) == 0) line = line.substr(2);
    out += line + "\n";
  }
  INFO(first);
  REQUIRE(found);
  return out;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

const std::string secrets =
    "RELANCE_KANNEL_PASSWORD=kannel-pw RELANCE_KANNEL_SECRET=kannelsecret0123456789 "
    "RELANCE_TWILIO_AUTH_TOKEN=twilio-token RELANCE_SMS_HTTP_SECRET=brevo-api-key "
    "RELANCE_SMS_HTTP_INBOUND_SECRET=inboundsecret0123456789 RELANCE_SMTP_PASSWORD=smtp-pw";

struct Gateway {
  const char* name;
  const char* block;
  const char* expect;  // in check-config's output
};

void check_example_with(const Gateway& g) {
  TempDir dir;
  const std::string example =
      replace(read_file(std::filesystem::path(RELANCE_SOURCE_DIR) / "deploy/relance.example.toml"),
              "/var/lib/relance/relance.db", (dir / "relance.db").string());

  std::string text = uncomment(uncomment(uncomment(example, "[sms]"), g.block), "[email]");
  if (std::string(g.name) != "kannel")
    text = replace(text, "gateway = \"kannel\"", "gateway = \"" + std::string(g.name) + "\"");
  const auto file = dir / (std::string(g.name) + ".toml");
  write_file(file, text);
  auto ok = run(secrets, "check-config " + file.string());
  INFO(g.name << "\n" << ok.out);
  CHECK(ok.code == 0);
  CHECK_THAT(ok.out, Catch::Contains(g.expect) && Catch::Contains("learner.reminder_10d.sms (fr)") &&
                         Catch::Contains("[email]") && Catch::Contains("configuration OK"));
  for (const char* secret : {"kannel-pw", "kannelsecret0123456789", "twilio-token", "brevo-api-key",
                             "inboundsecret0123456789", "smtp-pw"})
    CHECK_THAT(ok.out, !Catch::Contains(secret));

  // Without its secrets the same file is refused, naming the variable.
  auto refused = run("", "check-config " + file.string());
  CHECK(refused.code == 2);
  CHECK_THAT(refused.out, Catch::Contains("RELANCE_"));
}

}  // namespace

TEST_CASE("the example config passes check-config as shipped", "[config][sms][example]") {
  TempDir dir;
  const auto plain = dir / "plain.toml";
  write_file(plain, replace(read_file(std::filesystem::path(RELANCE_SOURCE_DIR) / "deploy/relance.example.toml"),
                            "/var/lib/relance/relance.db", (dir / "relance.db").string()));
  auto r = run("", "check-config " + plain.string());
  INFO(r.out);
  CHECK(r.code == 0);
}

TEST_CASE("the example config passes check-config with Kannel and email", "[config][sms][example]") {
  check_example_with({"kannel", "[sms.kannel]", "group = sms-service"});
}

TEST_CASE("the example config passes check-config with Twilio and email", "[config][sms][example]") {
  check_example_with({"twilio", "[sms.twilio]", "status_callback_url = \"https://relance.example.org/hooks/sms/twilio/status\""});
}

// The secret comes from RELANCE_SMS_HTTP_SECRET: config.cpp validates the
// templates' shape while reading the file; the secret's presence is checked
// after the environment (missing_secrets, the gateway's constructor).
TEST_CASE("the example config passes check-config with the Brevo HTTP gateway and email",
          "[config][sms][example]") {
  check_example_with({"http", "[sms.http]", "url = \"https://api.brevo.com/v3/transactionalSMS/sms\""});
}
