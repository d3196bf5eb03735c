#include "test_support.hpp"

#include "bot/app/config.hpp"
#include "bot/app/runtime.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

using namespace relance;
using namespace relance::app;

namespace {

ConfigError error_of(const std::string& toml) {
  try {
    parse_config(toml, "bad.toml");
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError for:\n" << toml);
  throw std::logic_error("unreachable");
}

const std::string plan = R"(
[roles]
secretariat = "Secrétariat"
[[plan]]
id = "p"
  [[plan.step]]
  action = "task"
  means = "phone"
  role = "secretariat"
  template = "ladder_1"
)";

}  // namespace

TEST_CASE("the shipped example and demo configurations are valid", "[config]") {
  const Config ex = load_config(std::string(RELANCE_SOURCE_DIR) + "/deploy/relance.example.toml");
  CHECK(ex.policies.size() == 3);
  CHECK(ex.staff.size() == 3);
  CHECK(ex.timezone == "Europe/Paris");
  CHECK(ex.contact_window.extra_closed_dates.size() == 2);
  CHECK(ex.csv.id == "Matricule");
  const Config demo = parse_config(demo_config_text(), "demo.toml");
  CHECK(demo.policies.size() == 3);
  CHECK(demo.console_staff == "marie");
}

TEST_CASE("configuration errors name file, line, column and the reason", "[config]") {
  auto e = error_of("[organisation]\nname = \"x\"\ntimezone = \"Europe/Pariss\"\n");
  CHECK(e.file() == "bad.toml");
  CHECK(e.line() == 3);
  CHECK(e.column() == 12);
  CHECK_THAT(e.reason(), Catch::Contains("unknown time zone"));

  e = error_of("[organisation\nname = 1\n");
  CHECK(e.line() == 1);

  e = error_of("[http]\nport = \"eighty\"\n");
  CHECK(e.line() == 2);
  CHECK_THAT(e.reason(), Catch::Contains("'port' must be an integer"));

  e = error_of("[http]\nprot = 8080\n");
  CHECK_THAT(e.reason(), Catch::Contains("unknown key 'prot'"));

  e = error_of(plan + "[[policy]]\nid = \"a\"\ndays = 10\nplan = \"nope\"\n");
  CHECK_THAT(e.reason(), Catch::Contains("no [[plan]] with id \"nope\""));

  e = error_of(plan + "[[policy]]\nid = \"a\"\nsources = [\"lms\", \"telepathy\"]\ndays = 10\nplan = \"p\"\n");
  CHECK_THAT(e.reason(), Catch::Contains("unknown source \"telepathy\""));

  e = error_of("[[plan]]\nid = \"p\"\n  [[plan.step]]\n  action = \"message\"\n  means = \"phone\"\n  role = \"r\"\n  template = \"t\"\n");
  CHECK(e.line() == 5);
  CHECK_THAT(e.reason(), Catch::Contains("sms, email or matrix"));

  e = error_of("[contact_window]\nquiet_start = \"25:00\"\n");
  CHECK_THAT(e.reason(), Catch::Contains("like \"20:00\""));

  e = error_of("[console]\nstaff = \"ghost\"\n");
  CHECK_THAT(e.reason(), Catch::Contains("not a [[staff]] id"));

  e = error_of("[[staff]]\nid = \"a\"\n[[staff]]\nid = \"a\"\n");
  CHECK(e.line() == 4);
}

TEST_CASE("secrets come from the environment and are masked when printed", "[config]") {
  ::setenv("RELANCE_API_TOKEN", "s3cret-token-value", 1);
  Config c = parse_config("[http]\napi_token = \"from-file\"\n", "t.toml");
  ::unsetenv("RELANCE_API_TOKEN");
  CHECK(c.http.api_token == "s3cret-token-value");
  const std::string d = describe(c);
  CHECK_THAT(d, !Catch::Contains("s3cret"));
  CHECK_THAT(d, Catch::Contains("api_token = \"****ue\"  # set"));
}

TEST_CASE("staff chat sections: routes checked, secrets required before serving", "[config][chat]") {
  const std::string base = R"(
[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]
mattermost = "@Marie.Dupont"
matrix = "@marie:example.org"
)";
  const Config c = parse_config(base + R"(
[mattermost]
url = "https://chat.example.org/"
default_channel = "c1"
public_url = "https://relance.example.org"
[[mattermost.route]]
role = "secretariat"
channel = "c2"
[matrix]
homeserver = "https://matrix.example.org"
user_id = "@relance:example.org"
default_room = "!r:example.org"
[escalation]
chain = ["secretariat", "direction"]
claim_within_hours = 2.5
digest_at = "08:30"
[roles]
direction = "Direction"
)", "chat.toml");
  CHECK(c.mattermost.url == "https://chat.example.org");  // trailing slash dropped
  CHECK(c.escalation.claim_within == std::chrono::minutes(150));
  CHECK(c.matrix.allowed_inviters == std::vector<std::string>{"@marie:example.org"});
  CHECK(c.find_staff_by_chat("mattermost", "marie.dupont") == &c.staff[0]);  // case-insensitive, '@' optional
  CHECK(c.find_staff_by_chat("matrix", "@marie:example.org") == &c.staff[0]);
  CHECK(c.find_staff_by_chat("matrix", "@mallory:example.org") == nullptr);
  const auto missing = missing_secrets(c);
  REQUIRE(missing.size() == 3);
  CHECK(missing[0].find("RELANCE_MATTERMOST_TOKEN") != std::string::npos);
  CHECK(missing[1].find("action_secret") != std::string::npos);
  CHECK(missing[2].find("RELANCE_MATRIX_TOKEN") != std::string::npos);

  auto error_of = [&](const std::string& extra) {
    try {
      (void)parse_config(base + extra, "chat.toml");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error_of("[mattermost]\nurl = \"chat.example.org\"\ndefault_channel = \"c\"\n").find("https://") != std::string::npos);
  CHECK(error_of("[mattermost]\nurl = \"https://x\"\n").find("default_channel") != std::string::npos);
  CHECK(error_of("[mattermost]\nurl = \"https://x\"\n[[mattermost.route]]\nrole = \"nobody\"\nchannel = \"c\"\n")
            .find("role \"nobody\"") != std::string::npos);
  CHECK(error_of("[matrix]\nhomeserver = \"https://x\"\nuser_id = \"relance\"\ndefault_room = \"!r:x\"\n")
            .find("full Matrix id") != std::string::npos);
  CHECK(error_of("[escalation]\nchain = [\"secretariat\"]\n").find("at least two roles") != std::string::npos);
  CHECK(error_of("[roles]\ndirection = \"Direction\"\n[escalation]\nchain = [\"secretariat\", \"direction\"]\nday_start = \"18:00\"\nday_end = \"09:00\"\n")
            .find("after 'day_start'") != std::string::npos);
}

TEST_CASE("[email.imap]: the replies mailbox is checked, its password comes from the environment", "[config][email]") {
  const std::string email = R"(
[email]
smtp_url = "smtp://smtp.example.org:587"
from = "Organisme <relance@example.org>"
reply_to = "accueil@example.org"
)";
  const Config c = parse_config(email + R"(
[email.imap]
url = "imaps://imap.example.org/INBOX"
username = "accueil@example.org"
poll_seconds = 30
)",
                                "imap.toml");
  CHECK(c.email.reads_replies());
  CHECK(c.email.imap.url == "imaps://imap.example.org/INBOX");
  CHECK(c.email.imap.poll_every == std::chrono::seconds(30));
  CHECK(c.email.imap.first_read_days == 0);
  const auto missing = missing_secrets(c);
  REQUIRE(missing.size() == 1);
  CHECK_THAT(missing[0], Catch::Contains("RELANCE_IMAP_PASSWORD"));

  ::setenv("RELANCE_IMAP_PASSWORD", "imap-secret-value", 1);
  const Config with_env = parse_config(email + "[email.imap]\nurl = \"imaps://imap.example.org\"\nusername = \"u\"\n", "imap.toml");
  ::unsetenv("RELANCE_IMAP_PASSWORD");
  CHECK(with_env.email.imap.password == "imap-secret-value");
  CHECK(missing_secrets(with_env).empty());
  const std::string d = describe(with_env);
  CHECK_THAT(d, Catch::Contains("[email.imap]"));
  CHECK_THAT(d, !Catch::Contains("imap-secret-value"));

  CHECK_THAT(error_of(email + "[email.imap]\nurl = \"https://imap.example.org\"\nusername = \"u\"\n").what(),
             Catch::Contains("imaps://"));
  CHECK_THAT(error_of(email + "[email.imap]\nurl = \"imaps://imap.example.org\"\n").what(), Catch::Contains("username"));
  CHECK_THAT(error_of(email + "[email.imap]\nurl = \"imaps://x\"\nusername = \"u\"\npoll_second = 5\n").what(),
             Catch::Contains("poll_second"));
  // Reading replies with nowhere for learners to answer makes no sense.
  CHECK_THAT(error_of("[email]\nsmtp_url = \"smtp://x:587\"\nfrom = \"r@example.org\"\n[email.imap]\nurl = \"imaps://x\"\n"
                      "username = \"u\"\n")
                 .what(),
             Catch::Contains("reply_to"));
  CHECK_FALSE(parse_config(email, "t.toml").email.reads_replies());
}

// Issue 16 item 6: an empty file and a file without [organisation] passed
// check-config ("configuration OK").
TEST_CASE("check-config says what a training organisation's configuration lacks", "[config][organisation]") {
  for (const std::string& text : {std::string(), std::string("[http]\nport = 8080\n"),
                                  std::string("[organisation]\ntimezone = \"Europe/Paris\"\n")}) {
    INFO(text);
    const auto missing = missing_organisation(parse_config(text, "r.toml"));
    REQUIRE(missing.size() == 2);
    CHECK_THAT(missing[0], Catch::Contains("[organisation]") && Catch::Contains("name"));
    CHECK_THAT(missing[1], Catch::Contains("[organisation]") && Catch::Contains("platform_url"));
  }
  const auto link_only = missing_organisation(
      parse_config("[organisation]\nname = \"Auto-école du Centre\"\n", "r.toml"));
  REQUIRE(link_only.size() == 1);
  CHECK_THAT(link_only[0], Catch::Contains("platform_url"));
  CHECK(missing_organisation(load_config(std::string(RELANCE_SOURCE_DIR) + "/deploy/relance.example.toml")).empty());

  // The command: exit 2, what is missing, never "configuration OK".
  relance::test::TempDir dir;
  const auto empty = dir / "empty.toml";
  relance::test::write_file(empty, "[store]\npath = \"" + (dir / "r.db").string() + "\"\n");
  const auto ran = relance::test::run_command(std::string(RELANCE_BINARY) + " check-config " + empty.string() + " 2>&1");
  INFO(ran.out);
  CHECK(ran.status == 2);
  CHECK_THAT(ran.out, Catch::Contains("name") && Catch::Contains("platform_url"));
  CHECK_THAT(ran.out, !Catch::Contains("configuration OK"));
}

TEST_CASE("a role typo in a plan step is reported at the step's role line", "[config][roles]") {
  const std::string text = "[roles]\n"                  // 1
                           "pedagogie = \"Pédagogie\"\n"  // 2
                           "[[plan]]\n"                 // 3
                           "id = \"p\"\n"               // 4
                           "  [[plan.step]]\n"          // 5
                           "  action = \"task\"\n"      // 6
                           "  means = \"phone\"\n"      // 7
                           "  role = \"pedagogi\"\n"    // 8
                           "  template = \"ladder_1\"\n"  // 9
                           "[[policy]]\n"               // 10
                           "id = \"a\"\n"               // 11
                           "days = 10\n"                // 12
                           "plan = \"p\"\n";            // 13
  const auto e = error_of(text);
  CHECK(e.line() == 8);
  CHECK_THAT(e.reason(), Catch::Contains("\"pedagogi\"") && Catch::Contains("pedagogie"));
}
