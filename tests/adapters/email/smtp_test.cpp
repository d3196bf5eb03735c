// send_email against a real SMTP server: the recipe's aiosmtpd sink
// (/work/shared/recipes/smtp-sink.sh, or $RELANCE_SMTP_SINK), each test on its
// own free port and temp dir. What arrived is decoded by Python's email
// package (parse_eml.py), a parser independent of ours. The recipe sink is
// plain SMTP (no STARTTLS): TLS is tested on an aiosmtpd started the same way
// with --tlscert/--tlskey and a certificate made by openssl for the test.
#include "adapters/email/email.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace relance;
using namespace relance::email;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string here = RELANCE_SOURCE_DIR "/tests/adapters/email";

std::string sink_script() {
  // The shared recipes sit beside the clone (CI), or where $RELANCE_RECIPES says.
  if (const char* env = std::getenv("RELANCE_SMTP_SINK")) return env;
  if (const char* dir = std::getenv("RELANCE_RECIPES")) return std::string(dir) + "/smtp-sink.sh";
  return RELANCE_SOURCE_DIR "/../shared/recipes/smtp-sink.sh";
}

using test::Ran;
Ran run(const std::string& cmd) { return test::run_command(cmd); }

// Why the server tests cannot run here, or empty.
std::string missing_sink() {
  if (!fs::exists(sink_script())) return "no " + sink_script() + " (set RELANCE_SMTP_SINK)";
  if (run("/usr/bin/python3 -c 'import aiosmtpd'").status != 0) return "apt-get install -y python3-aiosmtpd";
  return {};
}

// A test that needs the real server fails without it: passing without
// running would hide that it never ran (deploy/install-deps.sh --test).
#define REQUIRE_SINK() \
  if (const auto why = missing_sink(); !why.empty()) FAIL("no SMTP sink on this machine: " << why)

int free_port() { return test::free_loopback_port(); }

bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::vector<json> read_index(const fs::path& maildir) {
  std::vector<json> out;
  std::ifstream in(maildir / "index.jsonl");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// The recipe, as is: `smtp-sink.sh up DIR` on a free port, `down DIR` at the end.
class RecipeSink {
public:
  RecipeSink() : port_(free_port()) {
    const auto r = run("SMTP_SINK_PORT=" + std::to_string(port_) + " bash " + sink_script() + " up " +
                       dir_.path().string());
    INFO(r.out);
    REQUIRE(r.out.find("PASS: smtp-sink up") != std::string::npos);
  }
  ~RecipeSink() { run("bash " + sink_script() + " down " + dir_.path().string()); }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  fs::path maildir() const { return dir_.path() / "maildir"; }

private:
  test::TempDir dir_;
  int port_;
};

// aiosmtpd started like the recipe does, with another handler class and/or
// STARTTLS; stopped by its pid.
class SpawnedSink {
public:
  explicit SpawnedSink(const std::string& handler, const std::string& tls_args = "") : port_(free_port()) {
    const auto recipes = fs::path(sink_script()).parent_path().string();
    const auto r = run("PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=" + recipes + ":" + here +
                       " setsid /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:" + std::to_string(port_) + " -c " +
                       handler + " " + tls_args + " " + (dir_.path() / "maildir").string() + " > " +
                       (dir_.path() / "aiosmtpd.log").string() + " 2>&1 & echo $!");
    pid_ = std::atoi(r.out.c_str());
    REQUIRE(pid_ > 0);
    const bool up = test::wait_until([&] { return port_open(port_); });
    INFO(test::read_file(dir_.path() / "aiosmtpd.log"));
    REQUIRE(up);
  }
  ~SpawnedSink() {
    if (pid_ > 0 && ::kill(pid_, SIGTERM) == 0)
      test::wait_until([&] { return !fs::exists("/proc/" + std::to_string(pid_)); }, std::chrono::seconds(5));
  }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  fs::path maildir() const { return dir_.path() / "maildir"; }
  const test::TempDir& dir() const { return dir_; }

private:
  test::TempDir dir_;
  int port_;
  int pid_ = 0;
};

SmtpConfig plain_config(const std::string& url) {
  SmtpConfig c;
  c.url = url;
  c.require_tls = false;  // the recipe sink has no STARTTLS
  c.from = "Centre de Français Œuvre <relance@example.org>";
  c.message_id_domain = "relance.example.org";
  c.timeout = std::chrono::seconds(10);
  return c;
}

Email french_mail() {
  Email e;
  e.outbox_id = 4242;
  e.to = "lea@example.fr";
  e.to_name = "Léa Dupré-Çelik";
  e.subject = "Relance : votre formation « Français professionnel » vous attend — ça avance, l’œuvre est là ! "
              "Êtes-vous prête ?";
  e.text = "Bonjour Léa,\n\n"
           "Nous n’avons pas eu de vos nouvelles depuis deux semaines. Êtes-vous toujours motivée ? "
           "Votre leçon « Le français au travail » vous attend, ça ne prend que 20 minutes, c’est une œuvre "
           "de longue haleine mais vous y êtes presque.\n"
           ".\n"
           "..deux points au début, un = et des espaces à la fin   \n"
           "À bientôt,\nle secrétariat";
  e.html = "<p>Bonjour Léa,</p>\n<p>Votre leçon « Le français au travail » vous attend. Ça avance, l’œuvre "
           "est là ! Êtes-vous prête ?</p>\n<p>À bientôt,<br>le secrétariat</p>";
  e.reply_to = "secretariat@example.org";
  return e;
}

json parse_stored(const fs::path& maildir, const json& index_entry) {
  const auto r = run("/usr/bin/python3 " + here + "/parse_eml.py " + (maildir / index_entry["file"].get<std::string>()).string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  return json::parse(r.out);
}

std::string lf(std::string s) {  // what Python hands back: LF line endings
  for (auto p = s.find("\r\n"); p != std::string::npos; p = s.find("\r\n", p)) s.erase(p, 1);
  return s;
}

}  // namespace

TEST_CASE("email smtp: a French relaunch arrives intact through the real SMTP sink", "[email][smtp]") {
  REQUIRE_SINK();
  RecipeSink sink;
  const auto mail = french_mail();
  const auto before = std::chrono::system_clock::now();
  const auto out = send_email(mail, plain_config(sink.url()));
  INFO(out.error);
  REQUIRE(out.status == SendOutcome::sent);
  CHECK(out.smtp_code == 250);
  CHECK(out.error.empty());

  std::vector<json> index;
  REQUIRE(test::wait_until([&] { return (index = read_index(sink.maildir())).size() == 1; }));
  CHECK(index[0]["mail_from"] == "relance@example.org");
  CHECK(index[0]["rcpt_tos"] == json::array({"lea@example.fr"}));
  CHECK(index[0]["subject"] == mail.subject);  // the sink's own decoding
  CHECK(index[0]["smtputf8"] == false);        // 7-bit message: no SMTPUTF8 needed

  const auto m = parse_stored(sink.maildir(), index[0]);
  INFO(m.dump(2));
  CHECK(m["defects"].empty());
  CHECK(m["from"] == json({{"name", "Centre de Français Œuvre"}, {"addr", "relance@example.org"}}));
  CHECK(m["to"] == json({{"name", mail.to_name}, {"addr", mail.to}}));
  CHECK(m["reply_to"]["addr"] == mail.reply_to);
  CHECK(m["subject"] == mail.subject);
  CHECK(m["message_id"] == "<relance.4242@relance.example.org>");
  const double sent_at = m["date"];
  const double t0 = std::chrono::duration<double>(before.time_since_epoch()).count();
  CHECK(sent_at >= t0 - 2);
  CHECK(sent_at <= t0 + 60);
  CHECK(m["mime_version"] == "1.0");
  CHECK(m["content_type"] == "multipart/alternative");
  REQUIRE(m["parts"].size() == 2);
  CHECK(m["parts"][0]["type"] == "text/plain");
  CHECK(m["parts"][1]["type"] == "text/html");
  for (const auto& p : m["parts"]) {
    CHECK(p["charset"] == "utf-8");
    CHECK(p["cte"] == "quoted-printable");
  }
  // Both bodies, decoded, are the originals: accents, the lone "." line (curl
  // dot-stuffs it, the server unstuffs it) and the trailing spaces included.
  CHECK(lf(m["parts"][0]["body"]) == mail.text);
  CHECK(lf(m["parts"][1]["body"]) == mail.html);
  CHECK(m["bare_lf"] == 0);
  CHECK(m["eight_bit"] == false);
  CHECK(m["max_line"] <= 78);
}

TEST_CASE("email smtp: a resend of the same outbox row carries the same Message-ID", "[email][smtp]") {
  REQUIRE_SINK();
  RecipeSink sink;
  auto mail = french_mail();
  mail.html.clear();
  const auto c = plain_config(sink.url());
  REQUIRE(send_email(mail, c).status == SendOutcome::sent);
  REQUIRE(send_email(mail, c).status == SendOutcome::sent);
  std::vector<json> index;
  REQUIRE(test::wait_until([&] { return (index = read_index(sink.maildir())).size() == 2; }));
  const auto a = parse_stored(sink.maildir(), index[0]);
  const auto b = parse_stored(sink.maildir(), index[1]);
  CHECK(a["message_id"] == b["message_id"]);
  CHECK(a["content_type"] == "text/plain");
  // A single-part body is the rest of the message: it ends with the CRLF
  // that ends its last line.
  CHECK(lf(a["parts"][0]["body"]) == mail.text + "\n");
}

TEST_CASE("email smtp: TLS required on a server without STARTTLS fails as a configuration error",
          "[email][smtp]") {
  REQUIRE_SINK();
  RecipeSink sink;
  auto c = plain_config(sink.url());
  c.require_tls = true;
  c.username = "relance";
  c.password = "s3cret-PW";
  const auto out = send_email(french_mail(), c);
  CHECK(out.status == SendOutcome::failed);
  CHECK(out.error.find("STARTTLS") != std::string::npos);
  CHECK(out.error.find("s3cret-PW") == std::string::npos);
  CHECK(read_index(sink.maildir()).empty());  // nothing went out in clear
}

TEST_CASE("email smtp: connection refused and a silent server are retried", "[email][smtp]") {
  auto c = plain_config("smtp://127.0.0.1:" + std::to_string(free_port()));
  c.username = "relance";
  c.password = "s3cret-PW";
  auto out = send_email(french_mail(), c);
  CHECK(out.status == SendOutcome::retry);
  CHECK(out.smtp_code == 0);
  CHECK_FALSE(out.error.empty());
  CHECK(out.error.find("s3cret-PW") == std::string::npos);
  CHECK(out.error.find("Bonjour") == std::string::npos);

  // Accepts the connection (backlog) but never sends a banner: the timeout.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  c.url = "smtp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  c.timeout = std::chrono::seconds(1);
  const auto t0 = std::chrono::steady_clock::now();
  out = send_email(french_mail(), c);
  ::close(fd);
  CHECK(out.status == SendOutcome::retry);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

TEST_CASE("email smtp: a bad URL or address fails without a connection", "[email][smtp]") {
  auto c = plain_config("http://127.0.0.1:25");
  CHECK(send_email(french_mail(), c).status == SendOutcome::failed);
  c.url = "smtp://127.0.0.1:1";
  auto m = french_mail();
  m.to = "lea@example.fr>\r\nRCPT TO:<all@example.org";
  CHECK(send_email(m, c).status == SendOutcome::failed);
  m.to = "not-an-address";
  CHECK(send_email(m, c).status == SendOutcome::failed);
}

TEST_CASE("email smtp: a rejected recipient fails (550), a busy server is retried (451)", "[email][smtp]") {
  REQUIRE_SINK();
  SpawnedSink sink("reject_sink.RejectingSink");
  const auto c = plain_config(sink.url());
  auto m = french_mail();
  m.to = "unknown@example.fr";
  auto out = send_email(m, c);
  INFO(out.error);
  CHECK(out.status == SendOutcome::failed);
  CHECK(out.smtp_code == 550);
  m.to = "busy@example.fr";
  out = send_email(m, c);
  INFO(out.error);
  CHECK(out.status == SendOutcome::retry);
  CHECK(out.smtp_code == 451);
  CHECK(read_index(sink.maildir()).empty());
  // The same server still delivers to a known mailbox.
  m.to = "lea@example.fr";
  CHECK(send_email(m, c).status == SendOutcome::sent);
  CHECK(read_index(sink.maildir()).size() == 1);
}

TEST_CASE("email smtp: STARTTLS with the configured CA is sent, an unknown certificate fails", "[email][smtp]") {
  REQUIRE_SINK();
  if (run("openssl version").status != 0)
    FAIL("no openssl command to make a test certificate (apt-get install -y openssl)");
  test::TempDir certs;
  auto make_cert = [&](const std::string& name) {
    const auto r = run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost"
                       " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
                       (certs / (name + ".key")).string() + " -out " + (certs / (name + ".pem")).string());
    INFO(r.out);
    REQUIRE(r.status == 0);
  };
  make_cert("server");
  make_cert("other");
  SpawnedSink sink("smtp_sink_handler.MaildirSink", "--tlscert " + (certs / "server.pem").string() + " --tlskey " +
                                                       (certs / "server.key").string());
  auto c = plain_config(sink.url());
  c.require_tls = true;
  c.ca_file = (certs / "server.pem").string();
  auto out = send_email(french_mail(), c);
  INFO(out.error);
  CHECK(out.status == SendOutcome::sent);
  std::vector<json> index;
  REQUIRE(test::wait_until([&] { return (index = read_index(sink.maildir())).size() == 1; }));
  CHECK(parse_stored(sink.maildir(), index[0])["subject"] == french_mail().subject);

  c.ca_file = (certs / "other.pem").string();
  out = send_email(french_mail(), c);
  CHECK(out.status == SendOutcome::failed);
  CHECK(out.error.find("certificate") != std::string::npos);
}
