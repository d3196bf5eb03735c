// The Dovecot harness (tests/support/dovecot_process.hpp) checked with
// libcurl directly, the way the production IMAP client will talk to it:
// login, delivered messages byte for byte, STARTTLS with the generated
// certificate, a refused login, another mailbox, expunge, a mailbox
// recreated with a new UIDVALIDITY, and nothing left running afterwards.
// The libcurl behaviours asserted here are summed up in the header.
#include "dovecot_process.hpp"

#include <catch2/catch.hpp>
#include <curl/curl.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

using namespace relance::test;
namespace fs = std::filesystem;

namespace {

// Two replies with French accents (UTF-8, 8bit) and CRLF line ends: Dovecot
// gives such a message back exactly as delivered.
const std::string reply_one =
    "From: =?UTF-8?Q?Ana=C3=AFs_Lef=C3=A8vre?= <anais@example.org>\r\n"
    "To: relances@example.org\r\n"
    "Subject: =?UTF-8?Q?Re=3A_Votre_formation?=\r\n"
    "Message-ID: <reply-1@example.org>\r\n"
    "Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Bonjour, je reprends la formation la semaine prochaine, désolée du retard.\r\n"
    "Anaïs — élève en 2e année\r\n";
const std::string reply_two =
    "From: Jérôme <jerome@example.org>\r\n"
    "To: relances@example.org\r\n"
    "Subject: Re: Relance\r\n"
    "Message-ID: <reply-2@example.org>\r\n"
    "Date: Mon, 23 Nov 2026 10:05:00 +0100\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Ça marche, à très bientôt. Où dois-je envoyer le certificat ?\r\n";

struct Result {
  CURLcode code = CURLE_OK;
  std::string body;   // what libcurl handed to the write callback
  std::string error;  // CURLOPT_ERRORBUFFER
  long new_connections = -1;
};

std::size_t append(char* p, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

// One curl easy handle: successive perform() calls may reuse its connection.
class Imap {
public:
  Imap(const DovecotProcess& server, std::string password, bool tls, std::string ca_file = "")
      : server_(server), password_(std::move(password)), tls_(tls), ca_file_(std::move(ca_file)) {
    h_ = curl_easy_init();
    REQUIRE(h_);
  }
  Imap(const DovecotProcess& server, bool tls = false)
      : Imap(server, server.password(), tls, tls ? server.ca_file() : "") {}
  ~Imap() { curl_easy_cleanup(h_); }
  Imap(const Imap&) = delete;
  Imap& operator=(const Imap&) = delete;

  Result perform(const std::string& url, const std::string& custom = "") {
    Result r;
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h_, CURLOPT_USERNAME, server_.username().c_str());
    curl_easy_setopt(h_, CURLOPT_PASSWORD, password_.c_str());
    curl_easy_setopt(h_, CURLOPT_CUSTOMREQUEST, custom.empty() ? nullptr : custom.c_str());
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(h_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h_, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    if (tls_) {
      curl_easy_setopt(h_, CURLOPT_USE_SSL, long(CURLUSESSL_ALL));
      curl_easy_setopt(h_, CURLOPT_SSL_VERIFYPEER, 1L);
      curl_easy_setopt(h_, CURLOPT_SSL_VERIFYHOST, 2L);
      if (!ca_file_.empty()) curl_easy_setopt(h_, CURLOPT_CAINFO, ca_file_.c_str());
    }
    r.code = curl_easy_perform(h_);
    r.error = err;
    curl_easy_getinfo(h_, CURLINFO_NUM_CONNECTS, &r.new_connections);
    curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, nullptr);
    return r;
  }

private:
  const DovecotProcess& server_;
  std::string password_;
  bool tls_;
  std::string ca_file_;
  CURL* h_ = nullptr;
};

struct Status {
  unsigned long long uidvalidity = 0, uidnext = 0, messages = 0;
};

// "* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 1795492933)\r\n"
Status parse_status(const std::string& body) {
  Status s;
  std::smatch m;
  if (std::regex_search(body, m, std::regex(R"(UIDVALIDITY (\d+))"))) s.uidvalidity = std::stoull(m[1]);
  if (std::regex_search(body, m, std::regex(R"(UIDNEXT (\d+))"))) s.uidnext = std::stoull(m[1]);
  if (std::regex_search(body, m, std::regex(R"(MESSAGES (\d+))"))) s.messages = std::stoull(m[1]);
  return s;
}

Status status(Imap& imap, const DovecotProcess& server, const std::string& mailbox = "INBOX") {
  const auto r = imap.perform(server.url(""), "STATUS " + mailbox + " (UIDVALIDITY UIDNEXT MESSAGES)");
  INFO(r.error << "\n" << server.log_tail());
  REQUIRE(r.code == CURLE_OK);
  REQUIRE(r.body.rfind("* STATUS " + mailbox + " (", 0) == 0);
  return parse_status(r.body);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
const CurlGlobal curl_global;

}  // namespace

TEST_CASE("Dovecot harness: plain IMAP returns delivered messages byte for byte", "[dovecot]") {
  REQUIRE(DovecotProcess::missing() == "");
  const auto t0 = std::chrono::steady_clock::now();
  DovecotProcess server;
  INFO("start: " << seconds_since(t0) << " s");
  CHECK(server.url() == "imap://127.0.0.1:" + std::to_string(server.port()) + "/INBOX");
  CHECK(server.ca_file().empty());
  server.deliver(reply_one);
  server.deliver(reply_two);

  Imap imap(server);
  auto r = imap.perform(server.url(), "UID SEARCH ALL");
  INFO(r.error << "\n" << server.log_tail());
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == "* SEARCH 1 2\r\n");
  CHECK(r.new_connections == 1);

  // FETCH by URL: "UID FETCH 1 BODY[]", exactly the delivered bytes.
  r = imap.perform(server.url() + "/;UID=1");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == reply_one);
  CHECK(r.new_connections == 0);  // the same connection, no new SELECT
  r = imap.perform(server.url() + "/;UID=2;SECTION=HEADER");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == reply_two.substr(0, reply_two.find("\r\n\r\n") + 4));

  // BODY[] (and BODY[HEADER]) set \Seen.
  r = imap.perform(server.url(), "UID FETCH 1:* (FLAGS)");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body.find("* 1 FETCH (UID 1 FLAGS (\\Seen") != std::string::npos);
  CHECK(r.body.find("* 2 FETCH (UID 2 FLAGS (\\Seen") != std::string::npos);

  // A custom FETCH of the body only gives the line up to the literal.
  r = imap.perform(server.url(), "UID FETCH 1 BODY.PEEK[]");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == "* 1 FETCH (UID 1 BODY[] {" + std::to_string(reply_one.size()) + "}\r\n");

  // No such UID: by URL 78 (and libcurl closes), by custom FETCH nothing at all.
  r = imap.perform(server.url(), "UID FETCH 77 (FLAGS)");
  CHECK(r.code == CURLE_OK);
  CHECK(r.body.empty());
  r = imap.perform(server.url() + "/;UID=77");
  CHECK(r.code == CURLE_REMOTE_FILE_NOT_FOUND);

  // n:* always includes the highest UID.
  r = imap.perform(server.url(), "UID SEARCH UID 5:*");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == "* SEARCH 2\r\n");

  // A message delivered while the connection stays open and INBOX selected:
  // UID SEARCH does not see it (libcurl sends no SELECT, Dovecot does not
  // rescan) until a NOOP, whose EXISTS comes back in the body.
  r = imap.perform(server.url(), "UID SEARCH ALL");
  REQUIRE(r.code == CURLE_OK);
  server.deliver(reply_one);
  r = imap.perform(server.url(), "UID SEARCH ALL");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.new_connections == 0);
  CHECK(r.body == "* SEARCH 1 2\r\n");
  r = imap.perform(server.url(), "NOOP");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body.find("* 3 EXISTS\r\n") != std::string::npos);
  r = imap.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.body == "* SEARCH 1 2 3\r\n");
  // A new connection sees it at once.
  Imap fresh(server);
  r = fresh.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.body == "* SEARCH 1 2 3\r\n");

  // STATUS on a URL without a mailbox: no SELECT, untagged line in the body.
  Imap other(server);
  r = other.perform(server.url(""), "STATUS INBOX (UIDVALIDITY UIDNEXT)");
  REQUIRE(r.code == CURLE_OK);
  CHECK(std::regex_match(r.body, std::regex(R"(\* STATUS INBOX \(UIDNEXT 4 UIDVALIDITY \d+\)\r\n)")));
  INFO("total: " << seconds_since(t0) << " s");
  CHECK(seconds_since(t0) < 3.0);
}

TEST_CASE("Dovecot harness: STARTTLS with the generated certificate", "[dovecot]") {
  const auto t0 = std::chrono::steady_clock::now();
  DovecotProcess server(DovecotOptions{.tls = true});
  INFO("start: " << seconds_since(t0) << " s");
  REQUIRE(!server.ca_file().empty());
  REQUIRE(fs::exists(server.ca_file()));
  CHECK(server.host() == "127.0.0.1");
  server.deliver(reply_one);
  server.deliver(reply_two);

  Imap imap(server, true);  // CURLUSESSL_ALL, CAINFO, peer and host verified
  auto r = imap.perform(server.url(), "UID SEARCH ALL");
  INFO(r.error << "\n" << server.log_tail());
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == "* SEARCH 1 2\r\n");
  r = imap.perform(server.url() + "/;UID=2");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == reply_two);
  CHECK(r.new_connections == 0);

  // The name in the certificate: localhost works too.
  Imap by_name(server, true);
  r = by_name.perform("imap://localhost:" + std::to_string(server.port()) + "/INBOX/;UID=1");
  CHECK(r.code == CURLE_OK);
  CHECK(r.body == reply_one);

  // Without our CA file: the system store does not know the certificate.
  Imap untrusted(server, server.password(), true, "");
  r = untrusted.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.code == CURLE_PEER_FAILED_VERIFICATION);

  // Without STARTTLS the login is still accepted on 127.0.0.1 (Dovecot
  // counts a loopback connection as secured).
  Imap plain(server);
  r = plain.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.code == CURLE_OK);
  CHECK(seconds_since(t0) < 3.0);
}

TEST_CASE("Dovecot harness: tls_required refuses a login before STARTTLS", "[dovecot]") {
  DovecotProcess server(DovecotOptions{.tls_required = true});
  CHECK(server.host() == "127.0.0.2");
  CHECK(server.url() == "imap://127.0.0.2:" + std::to_string(server.port()) + "/INBOX");
  server.deliver(reply_one);

  Imap plain(server);
  auto r = plain.perform(server.url(), "UID SEARCH ALL");
  INFO(r.error << "\n" << server.log_tail());
  CHECK(r.code == CURLE_LOGIN_DENIED);  // LOGINDISABLED: no mechanism libcurl may use

  Imap tls(server, true);
  r = tls.perform(server.url() + "/;UID=1");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == reply_one);
}

TEST_CASE("Dovecot harness: a plain server has no STARTTLS for a client that requires it", "[dovecot]") {
  DovecotProcess server;
  Imap imap(server, server.password(), true);
  const auto r = imap.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.code == CURLE_USE_SSL_FAILED);
}

TEST_CASE("Dovecot harness: a wrong password is refused, set_password changes it", "[dovecot]") {
  DovecotProcess server;
  server.deliver(reply_one);
  const auto t0 = std::chrono::steady_clock::now();
  Imap wrong(server, "not-the-password", false);
  auto r = wrong.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.code == CURLE_LOGIN_DENIED);
  CHECK(r.error == "");
  r = wrong.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.code == CURLE_LOGIN_DENIED);
  // No growing penalty: the right password right after logs in at once.
  Imap right(server);
  r = right.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.code == CURLE_OK);
  CHECK(r.body == "* SEARCH 1\r\n");
  INFO("two refusals and a login: " << seconds_since(t0) << " s");
  CHECK(seconds_since(t0) < 2.0);

  server.set_password("a-new-pw");
  Imap old_pw(server, "secret-pw", false);
  r = old_pw.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.code == CURLE_LOGIN_DENIED);
  Imap new_pw(server, "a-new-pw", false);
  r = new_pw.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.code == CURLE_OK);
  CHECK(server.password() == "a-new-pw");

  // A mailbox that does not exist is ALSO "login denied" for libcurl.
  r = new_pw.perform(server.url("Nope"), "UID SEARCH ALL");
  CHECK(r.code == CURLE_LOGIN_DENIED);
  CHECK(r.error == "Select failed");
}

TEST_CASE("Dovecot harness: reset_uidvalidity recreates INBOX with a new UIDVALIDITY", "[dovecot]") {
  DovecotProcess server;
  server.deliver(reply_one);
  server.deliver(reply_two);
  Imap imap(server);
  const auto before = status(imap, server);
  CHECK(before.uidnext == 3);
  CHECK(before.messages == 2);
  CHECK(before.uidvalidity != 0);

  // A held connection with INBOX selected; the fetch URL pins the UIDVALIDITY.
  Imap held(server);
  auto r = held.perform(server.url(), "UID SEARCH ALL");
  REQUIRE(r.code == CURLE_OK);
  const auto pinned = server.url() + ";UIDVALIDITY=" + std::to_string(before.uidvalidity) + "/;UID=2";
  r = held.perform(pinned);
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == reply_two);

  // The first message goes, the mailbox is recreated: reply_two is now UID 1.
  server.expunge_all();
  server.deliver(reply_two);
  const auto t0 = std::chrono::steady_clock::now();
  server.reset_uidvalidity();
  INFO("reset: " << seconds_since(t0) << " s");

  Imap after_conn(server);
  const auto after = status(after_conn, server);
  INFO("before " << before.uidvalidity << ", after " << after.uidvalidity);
  CHECK(after.uidvalidity > before.uidvalidity);
  CHECK(after.messages == 1);
  CHECK(after.uidnext == 2);  // UIDs start again at 1
  r = after_conn.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.body == "* SEARCH 1\r\n");

  // The held connection was closed by the server (BYE while idle): libcurl
  // does not notice before reusing it, that perform fails with 56 ("response
  // reading failed", nothing in the body)...
  r = held.perform(pinned);
  CHECK(r.new_connections == 0);
  CHECK(r.code == CURLE_RECV_ERROR);
  // ...the next one connects again, and the old pin no longer matches (78).
  r = held.perform(pinned);
  CHECK(r.new_connections == 1);
  CHECK(r.code == CURLE_REMOTE_FILE_NOT_FOUND);
  CHECK(r.error == "Mailbox UIDVALIDITY has changed");
  CHECK(r.body.empty());
  r = held.perform(server.url() + ";UIDVALIDITY=" + std::to_string(after.uidvalidity) + "/;UID=1");
  CHECK(r.code == CURLE_OK);
  CHECK(r.body == reply_two);

  // Expunge keeps UIDVALIDITY and UIDNEXT.
  server.expunge_all();
  Imap last(server);
  const auto emptied = status(last, server);
  CHECK(emptied.uidvalidity == after.uidvalidity);
  CHECK(emptied.uidnext == 2);
  CHECK(emptied.messages == 0);
  r = last.perform(server.url(), "UID SEARCH ALL");
  CHECK(r.code == CURLE_OK);
  CHECK(r.body == "* SEARCH\r\n");
}

TEST_CASE("Dovecot harness: bump_uidvalidity changes UIDVALIDITY under a held session", "[dovecot]") {
  DovecotProcess server;
  server.deliver(reply_one);
  server.deliver(reply_two);
  Imap held(server);
  auto r = held.perform(server.url(), "UID SEARCH ALL");
  REQUIRE(r.code == CURLE_OK);
  Imap probe(server);
  const auto before = status(probe, server);

  const auto bumped = server.bump_uidvalidity();
  CHECK(bumped == before.uidvalidity + 1);

  // The held session: BYE at its next command, that perform fails with 56.
  r = held.perform(server.url(), "NOOP");
  CHECK(r.code == CURLE_RECV_ERROR);
  CHECK(r.body.find("* BYE IMAP session state is inconsistent") != std::string::npos);
  // The next perform connects again and sees the new value, UIDs kept.
  r = held.perform(server.url(""), "STATUS INBOX (UIDVALIDITY UIDNEXT MESSAGES)");
  CHECK(r.code == CURLE_OK);
  CHECK(r.new_connections == 1);
  const auto after = parse_status(r.body);
  CHECK(after.uidvalidity == bumped);
  CHECK(after.uidnext == 3);
  CHECK(after.messages == 2);
}

TEST_CASE("Dovecot harness: another mailbox is a Maildir++ folder", "[dovecot]") {
  DovecotProcess server;
  server.deliver(reply_one, "Replies");
  server.deliver(reply_two, "Replies");
  server.deliver(reply_one);
  CHECK(fs::exists(server.work_dir() / "mail" / "Maildir" / ".Replies" / "new"));
  Imap imap(server);
  auto st = status(imap, server, "Replies");
  CHECK(st.messages == 2);
  CHECK(st.uidnext == 3);
  auto r = imap.perform(server.url("Replies"), "UID SEARCH ALL");
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body == "* SEARCH 1 2\r\n");
  r = imap.perform(server.url("Replies") + "/;UID=2");
  CHECK(r.body == reply_two);
  r = imap.perform(server.url(""), "LIST \"\" \"*\"");
  CHECK(r.body.find("Replies\r\n") != std::string::npos);
  CHECK(status(imap, server).messages == 1);

  server.reset_uidvalidity("Replies");
  Imap again(server);
  const auto renewed = status(again, server, "Replies");
  CHECK(renewed.uidvalidity > st.uidvalidity);
  CHECK(renewed.messages == 2);
  server.expunge_all("Replies");
  Imap last(server);
  CHECK(status(last, server, "Replies").messages == 0);
}

TEST_CASE("Dovecot harness: nothing left running after destruction", "[dovecot]") {
  pid_t master = -1;
  std::string instance;
  int port = 0;
  {
    DovecotProcess server(DovecotOptions{.tls = true});
    master = server.master_pid();
    instance = server.instance_name();
    port = server.port();
    REQUIRE(master > 0);
    Imap held(server, true);  // an imap process alive at shutdown
    REQUIRE(held.perform(server.url(), "UID SEARCH ALL").code == CURLE_OK);
  }
  CHECK(::kill(master, 0) == -1);
  // No process named after the instance (master children and imap processes).
  bool left = false;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd;
    std::getline(in, cmd, '\0');
    if (cmd.find(instance) != std::string::npos) left = true;
  }
  CHECK_FALSE(left);
  // The port is closed.
  CURL* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, ("imap://127.0.0.1:" + std::to_string(port) + "/").c_str());
  curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  CHECK(curl_easy_perform(h) == CURLE_COULDNT_CONNECT);
  curl_easy_cleanup(h);
}
