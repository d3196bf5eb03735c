// What log lines may say: no secret ever, no learner's personal data unless
// --log-personal-data (issue 16 item 8).
#include "adapters/common/log_privacy.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace relance;

namespace {

// Each test leaves the process as it found it (hidden).
struct Shown {
  explicit Shown(bool on) { logs::show_personal_data(on); }
  ~Shown() { logs::show_personal_data(false); }
};

}  // namespace

TEST_CASE("log privacy: a learner's value is a fingerprint unless personal data is shown", "[logs]") {
  Shown hidden(false);
  const auto a = logs::personal("+33612345678");
  CHECK(a.rfind("[perso:", 0) == 0);
  CHECK(a.find("612345678") == std::string::npos);
  CHECK(logs::personal("+33612345678") == a);  // the same person, the same mark within a run
  CHECK(logs::personal("+33687654321") != a);
  CHECK(logs::personal("").empty());
  Shown shown(true);
  CHECK(logs::personal("+33612345678") == "+33612345678");
}

TEST_CASE("log privacy: an echoed request loses its secrets, raw and encoded, and the learner's data", "[logs]") {
  Shown hidden(false);
  const std::string echo =
      "400 Bad Request: GET /cgi-bin/sendsms?username=relance&password=s%C3%A9cret%2B1&to=%2B33612345678"
      "&text=Zo%C3%A9%2C+on+vous+attend+%3F (password=sécret+1, to +33612345678, Zoé, on vous attend ?)";
  const auto out = logs::redact(echo, {"sécret+1"}, {"+33612345678", "Zoé, on vous attend ?"});
  CHECK(out.find("s%C3%A9cret") == std::string::npos);
  CHECK(out.find("sécret") == std::string::npos);
  CHECK(out.find("33612345678") == std::string::npos);
  CHECK(out.find("Zo%C3%A9") == std::string::npos);
  CHECK(out.find("Zoé") == std::string::npos);
  CHECK(out.find("[secret]") != std::string::npos);
  CHECK(out.find("400 Bad Request") == 0);  // the rest says what went wrong
  // An excerpt cut inside the secret: what is left of it goes too.
  CHECK(logs::redact("refused: password=s%C3%A9cr", {"sécret+1"}) == "refused: password=[secret]");
  // Shown, personal data stays (troubleshooting), secrets still go.
  Shown shown(true);
  const auto debug = logs::redact(echo, {"sécret+1"}, {"+33612345678"});
  CHECK(debug.find("sécret") == std::string::npos);
  CHECK(debug.find("+33612345678") != std::string::npos);
}

TEST_CASE("log privacy: a request target is logged without its query unless personal data is shown", "[logs]") {
  Shown hidden(false);
  const std::string target = "/hooks/sms/kannel?secret=abc123xyz&from=%2B33612345678&text=bonjour";
  CHECK(logs::loggable_target(target) == "/hooks/sms/kannel?…");
  CHECK(logs::loggable_target("/healthz") == "/healthz");
  Shown shown(true);
  CHECK(logs::loggable_target(target) == "/hooks/sms/kannel?secret=[secret]&from=%2B33612345678&text=bonjour");
}
