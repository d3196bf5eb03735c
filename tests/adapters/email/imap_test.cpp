// relance::email::ImapSession against a real Dovecot (tests/support/
// dovecot_process.hpp), the way EmailInbox polls it: STATUS on a fresh
// connection, UID SEARCH after the cursor, UID FETCH pinned to the
// UIDVALIDITY. What an operator relies on: new mail seen at the next poll of
// the same session, the cursor's n:* filtering, exact bytes, expunged and
// recreated mailboxes, oversized messages, TLS, and errors that say what to
// fix (config) or that retrying is enough (transient), never with the
// password. Then the pure parsers.
#include "adapters/email/imap.hpp"

#include "dovecot_process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace relance::email;
using namespace relance::test;
using namespace std::chrono_literals;
using Uids = std::vector<std::uint64_t>;

namespace {

ImapConfig config_for(const DovecotProcess& server, bool tls = false) {
  ImapConfig c;
  c.url = server.url();
  c.require_tls = tls;
  c.username = server.username();
  c.password = server.password();
  if (tls) c.ca_file = server.ca_file();
  c.timeout = 5s;
  return c;
}

// A learner's reply, CRLF line ends, an 8-bit UTF-8 body: Dovecot gives it
// back byte for byte.
std::string reply(int n, const std::string& extra_body = "") {
  return "From: =?UTF-8?Q?Ana=C3=AFs_Lef=C3=A8vre?= <anais@example.org>\r\n"
         "To: relances@example.org\r\n"
         "Subject: Re: Votre formation " + std::to_string(n) + "\r\n"
         "Message-ID: <reply-" + std::to_string(n) + "@example.org>\r\n"
         "Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: 8bit\r\n"
         "\r\n"
         "Bonjour, je reprends la formation la semaine prochaine, désolée du retard.\r\n"
         "Anaïs — élève n°" + std::to_string(n) + "\r\n" + extra_body;
}

std::string header_of(const std::string& raw) { return raw.substr(0, raw.find("\r\n\r\n") + 4); }

// Fails the test with the server's log when a call that should work did not.
template <typename T>
T ok(std::optional<T> v, const ImapError& err, const DovecotProcess& server) {
  INFO("error: " << err.message);
  INFO(server.log_tail());
  REQUIRE(v);
  return std::move(*v);
}

const ImapError untouched{ImapError::transient, "untouched"};

}  // namespace

// ---- against Dovecot ----------------------------------------------------------

TEST_CASE("imap session: status gives UIDVALIDITY and UIDNEXT and the next poll of the same session sees new mail",
          "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  ImapSession s(config_for(server));
  CHECK(s.mailbox() == "INBOX");
  ImapError err;

  // An empty mailbox.
  const auto first = ok(s.status(err), err, server);
  CHECK(first.uidvalidity > 0);
  CHECK(first.uidnext == 1);
  CHECK(ok(s.uids_after(0, 100, err), err, server).empty());

  // Poll 1 sees message 1 (and selects INBOX on the session's connection).
  server.deliver(reply(1));
  auto st = ok(s.status(err), err, server);
  CHECK(st.uidvalidity == first.uidvalidity);
  CHECK(st.uidnext == 2);
  CHECK(ok(s.uids_after(0, 100, err), err, server) == Uids{1});
  CHECK(ok(s.fetch(1, st.uidvalidity, err), err, server).raw == reply(1));

  // Delivered between two polls of the SAME session: a connection still
  // holding INBOX selected would not see it; each poll starts afresh.
  for (int n = 2; n <= 4; ++n) {
    server.deliver(reply(n));
    st = ok(s.status(err), err, server);
    CHECK(st.uidvalidity == first.uidvalidity);
    CHECK(st.uidnext == std::uint64_t(n) + 1);
    CHECK(ok(s.uids_after(std::uint64_t(n) - 1, 100, err), err, server) == Uids{std::uint64_t(n)});
    CHECK(ok(s.fetch(std::uint64_t(n), st.uidvalidity, err), err, server).raw == reply(n));
  }
}

TEST_CASE("imap session: a folder whose name needs quoting and percent-encoding", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  server.deliver(reply(1), "Learner Replies");
  server.deliver(reply(2));  // INBOX: not this folder
  auto c = config_for(server);
  c.url = server.url("Learner%20Replies");
  ImapSession s(c);
  CHECK(s.mailbox() == "Learner Replies");
  ImapError err;
  const auto st = ok(s.status(err), err, server);
  CHECK(st.uidnext == 2);
  CHECK(ok(s.uids_after(0, 10, err), err, server) == Uids{1});
  CHECK(ok(s.fetch(1, st.uidvalidity, err), err, server).raw == reply(1));
}

TEST_CASE("imap session: uids_after filters the n:* rule, honours the limit, ascending", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  for (int n = 1; n <= 5; ++n) server.deliver(reply(n));
  ImapSession s(config_for(server));
  ImapError err;
  REQUIRE(ok(s.status(err), err, server).uidnext == 6);

  CHECK(ok(s.uids_after(0, 100, err), err, server) == Uids{1, 2, 3, 4, 5});
  CHECK(ok(s.uids_after(0, 2, err), err, server) == Uids{1, 2});  // the oldest first: a backlog in rounds
  CHECK(ok(s.uids_after(2, 2, err), err, server) == Uids{3, 4});
  CHECK(ok(s.uids_after(3, 100, err), err, server) == Uids{4, 5});
  CHECK(ok(s.uids_after(4, 100, err), err, server) == Uids{5});
  // "6:*" matches UID 5 on the server (the highest UID, RFC 3501): filtered.
  CHECK(ok(s.uids_after(5, 100, err), err, server).empty());
  CHECK(ok(s.uids_after(1000, 100, err), err, server).empty());
  CHECK(ok(s.uids_after(0, 0, err), err, server).empty());
}

TEST_CASE("imap session: uids_since finds today's messages from yesterday's date", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  for (int n = 1; n <= 3; ++n) server.deliver(reply(n));
  ImapSession s(config_for(server));
  ImapError err;
  const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  CHECK(ok(s.uids_since(today - std::chrono::days(1), err), err, server) == Uids{1, 2, 3});
  CHECK(ok(s.uids_since(today - std::chrono::days(400), err), err, server) == Uids{1, 2, 3});
  // Two days ahead: nothing, whatever the server's time zone.
  CHECK(ok(s.uids_since(today + std::chrono::days(2), err), err, server).empty());
  // A one-digit day and every month name are valid IMAP dates.
  for (unsigned m = 1; m <= 12; ++m) {
    const std::chrono::sys_days d = std::chrono::year{2030} / std::chrono::month{m} / std::chrono::day{1};
    CHECK(ok(s.uids_since(d, err), err, server).empty());
  }
}

TEST_CASE("imap session: fetch returns the exact bytes, an expunged UID is empty without error", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  server.deliver(reply(1));
  server.deliver(reply(2));
  ImapSession s(config_for(server));
  ImapError err;
  const auto st = ok(s.status(err), err, server);
  REQUIRE(ok(s.uids_after(0, 10, err), err, server) == Uids{1, 2});

  auto m = ok(s.fetch(2, st.uidvalidity, err), err, server);
  CHECK(m.uid == 2);
  CHECK(m.raw == reply(2));
  CHECK_FALSE(m.truncated);
  CHECK_FALSE(m.gone);
  CHECK(ok(s.fetch(1, st.uidvalidity, err), err, server).raw == reply(1));

  // A UID that never existed.
  err = untouched;
  m = ok(s.fetch(77, st.uidvalidity, err), err, server);
  CHECK(m.uid == 77);
  CHECK(m.raw.empty());
  CHECK(m.gone);
  CHECK(err.message == "untouched");

  // Expunged elsewhere (staff, another client) after the search, while the
  // session has INBOX selected.
  server.expunge_all();
  err = untouched;
  m = ok(s.fetch(1, st.uidvalidity, err), err, server);
  CHECK(m.raw.empty());
  CHECK(m.gone);
  CHECK_FALSE(m.truncated);
  CHECK(err.message == "untouched");

  // And at the next poll: the UIDs are gone, UIDNEXT stays.
  const auto again = ok(s.status(err), err, server);
  CHECK(again.uidvalidity == st.uidvalidity);
  CHECK(again.uidnext == 3);
  CHECK(ok(s.uids_after(0, 10, err), err, server).empty());
  err = untouched;
  CHECK(ok(s.fetch(2, st.uidvalidity, err), err, server).raw.empty());
  CHECK(err.message == "untouched");
}

TEST_CASE("imap session: a mailbox recreated between status and fetch is never read under an old UID", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  server.deliver(reply(1));
  server.deliver(reply(2));
  ImapSession s(config_for(server));
  ImapError err;
  const auto before = ok(s.status(err), err, server);

  SECTION("right after status (no mailbox selected yet)") {
    server.reset_uidvalidity();  // also disconnects the session
  }
  SECTION("after the search, with the mailbox selected") {
    REQUIRE(ok(s.uids_after(0, 10, err), err, server) == Uids{1, 2});
    server.reset_uidvalidity();
  }
  SECTION("UIDVALIDITY changed in place under the selected session") {
    REQUIRE(ok(s.uids_after(0, 10, err), err, server) == Uids{1, 2});
    server.bump_uidvalidity();
  }

  err = untouched;
  const auto m = s.fetch(1, before.uidvalidity, err);
  CHECK_FALSE(m);
  CHECK(err.kind == ImapError::transient);
  CHECK_THAT(err.message, Catch::Contains("recreated"));

  // The next poll sees the new generation and reads it.
  const auto after = ok(s.status(err), err, server);
  CHECK(after.uidvalidity != before.uidvalidity);
  CHECK(ok(s.uids_after(0, 10, err), err, server) == Uids{1, 2});
  CHECK(ok(s.fetch(1, after.uidvalidity, err), err, server).raw == reply(1));
  // An old-generation UID stays refused on a connection of the new one.
  CHECK_FALSE(s.fetch(2, before.uidvalidity, err));
  CHECK_THAT(err.message, Catch::Contains("recreated"));
}

TEST_CASE("imap session: the server dropping the connection between commands is retried at once", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  server.deliver(reply(1));
  server.deliver(reply(2));
  ImapSession s(config_for(server));
  ImapError err;
  const auto st = ok(s.status(err), err, server);
  server.disconnect_sessions();
  CHECK(ok(s.uids_after(0, 10, err), err, server) == Uids{1, 2});
  server.disconnect_sessions();
  CHECK(ok(s.fetch(1, st.uidvalidity, err), err, server).raw == reply(1));
  server.disconnect_sessions();
  const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  CHECK(ok(s.uids_since(today - std::chrono::days(1), err), err, server) == Uids{1, 2});
}

TEST_CASE("imap session: a message above max_message_bytes gives its header only, marked truncated", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  std::string attachment;
  while (attachment.size() < 200 * 1024) attachment += "UEsDBBQAAAAIAJ2Y4VTqXvbMbW9vZGxlIGNlcnRpZmljYXRlIHBkZiBhdHRhY2g=\r\n";
  const std::string big = reply(1, attachment);
  server.deliver(big);
  server.deliver(reply(2));
  auto c = config_for(server);
  c.max_message_bytes = 8 * 1024;
  ImapSession s(c);
  ImapError err;
  const auto st = ok(s.status(err), err, server);
  REQUIRE(ok(s.uids_after(0, 10, err), err, server) == Uids{1, 2});

  auto m = ok(s.fetch(1, st.uidvalidity, err), err, server);
  CHECK(m.uid == 1);
  CHECK(m.truncated);
  CHECK(m.raw == header_of(big));
  // The next message, under the limit, whole on the same session.
  m = ok(s.fetch(2, st.uidvalidity, err), err, server);
  CHECK_FALSE(m.truncated);
  CHECK(m.raw == reply(2));
  // A header larger than 1 MiB itself (a mail loop's Received: lines): its
  // first MiB, not a failure at every poll.
  std::string loop;
  for (int i = 0; loop.size() < 1100 * 1024; ++i)
    loop += "Received: from relay" + std::to_string(i) + ".example.org by mx.example.org; Mon, 23 Nov 2026\r\n";
  const std::string looped = loop + reply(3);
  server.deliver(looped);
  REQUIRE(ok(s.status(err), err, server).uidnext == 4);
  REQUIRE(ok(s.uids_after(2, 10, err), err, server) == Uids{3});
  m = ok(s.fetch(3, st.uidvalidity, err), err, server);
  CHECK(m.truncated);
  CHECK(m.raw.size() == 1024 * 1024);
  CHECK(m.raw == looped.substr(0, 1024 * 1024));
  // Exactly the limit is not too large.
  c.max_message_bytes = reply(2).size();
  ImapSession exact(c);
  m = ok(exact.fetch(2, st.uidvalidity, err), err, server);
  CHECK_FALSE(m.truncated);
  CHECK(m.raw == reply(2));
}

TEST_CASE("imap session: STARTTLS with the server's certificate", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  SECTION("TLS offered") {
    DovecotProcess server(DovecotOptions{.tls = true});
    server.deliver(reply(1));
    ImapSession s(config_for(server, true));
    ImapError err;
    const auto st = ok(s.status(err), err, server);
    CHECK(st.uidnext == 2);
    CHECK(ok(s.uids_after(0, 10, err), err, server) == Uids{1});
    CHECK(ok(s.fetch(1, st.uidvalidity, err), err, server).raw == reply(1));
  }
  SECTION("TLS required by the server (no login before STARTTLS)") {
    DovecotProcess server(DovecotOptions{.tls_required = true});
    server.deliver(reply(1));
    ImapSession s(config_for(server, true));
    ImapError err;
    const auto st = ok(s.status(err), err, server);
    CHECK(st.uidnext == 2);
    CHECK(ok(s.uids_after(0, 10, err), err, server) == Uids{1});
    CHECK(ok(s.fetch(1, st.uidvalidity, err), err, server).raw == reply(1));
  }
}

TEST_CASE("imap session: require_tls against a server without STARTTLS is a config error", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  server.deliver(reply(1));
  ImapSession s(config_for(server, true));
  ImapError err;
  CHECK_FALSE(s.status(err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("TLS"));
  CHECK_THAT(err.message, Catch::Contains("STARTTLS"));
  err = untouched;
  CHECK_FALSE(s.uids_after(0, 10, err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("TLS"));
  err = untouched;
  CHECK_FALSE(s.fetch(1, 1, err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("TLS"));
}

TEST_CASE("imap session: a certificate not signed by ca_file is a config error", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server(DovecotOptions{.tls = true});
  DovecotProcess other(DovecotOptions{.tls = true});
  auto c = config_for(server, true);
  c.ca_file = other.ca_file();  // another instance's self-signed certificate
  ImapSession s(c);
  ImapError err;
  CHECK_FALSE(s.status(err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("certificate"));
  CHECK_THAT(err.message, !Catch::Contains(server.password()));
  err = untouched;
  CHECK_FALSE(s.uids_after(0, 10, err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("certificate"));

  // Without ca_file: the system store does not know a self-signed one.
  c.ca_file.clear();
  ImapSession system_store(c);
  CHECK_FALSE(system_store.status(err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("certificate"));

  // A ca_file that cannot be read.
  c.ca_file = (server.work_dir() / "no-such-ca.pem").string();
  ImapSession missing_ca(c);
  CHECK_FALSE(missing_ca.status(err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("ca_file"));
}

TEST_CASE("imap session: a wrong password is a config error that never shows a password", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  server.deliver(reply(1));
  auto c = config_for(server);
  c.password = "Wr0ng-Pa55word-4711";
  ImapSession s(c);
  ImapError err;
  CHECK_FALSE(s.status(err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("login refused"));
  CHECK_THAT(err.message, !Catch::Contains(c.password));
  CHECK_THAT(err.message, !Catch::Contains(server.password()));
  err = untouched;
  CHECK_FALSE(s.uids_after(0, 10, err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("login refused"));
  CHECK_THAT(err.message, !Catch::Contains(c.password));
}

TEST_CASE("imap session: a mailbox that does not exist is a config error from every command", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  DovecotProcess server;
  server.deliver(reply(1));
  auto c = config_for(server);
  c.url = server.url("Nope");
  ImapSession s(c);
  CHECK(s.mailbox() == "Nope");
  ImapError err;
  CHECK_FALSE(s.status(err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("no such mailbox"));
  CHECK_THAT(err.message, Catch::Contains("Nope"));
  CHECK_THAT(err.message, !Catch::Contains(server.password()));
  err = untouched;
  CHECK_FALSE(s.uids_after(0, 10, err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("no such mailbox"));
  err = untouched;
  CHECK_FALSE(s.uids_since(std::chrono::sys_days{} + std::chrono::days(20000), err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("no such mailbox"));
  err = untouched;
  CHECK_FALSE(s.fetch(1, 1, err));
  CHECK(err.kind == ImapError::config);
  CHECK_THAT(err.message, Catch::Contains("no such mailbox"));
}

TEST_CASE("imap session: no server listening, or the server gone, is transient", "[imap]") {
  REQUIRE(DovecotProcess::missing() == "");
  SECTION("closed port") {
    ImapConfig c;
    c.url = "imap://127.0.0.1:" + std::to_string(free_loopback_port()) + "/INBOX";
    c.require_tls = false;
    c.username = "learner-replies";
    c.password = "secret-pw-123";
    c.timeout = 2s;
    ImapSession s(c);
    ImapError err;
    CHECK_FALSE(s.status(err));
    CHECK(err.kind == ImapError::transient);
    CHECK_THAT(err.message, !Catch::Contains(c.password));
    err = untouched;
    CHECK_FALSE(s.uids_after(0, 10, err));
    CHECK(err.kind == ImapError::transient);
    CHECK(err.message != "untouched");
    err = untouched;
    CHECK_FALSE(s.fetch(1, 1, err));
    CHECK(err.kind == ImapError::transient);
    CHECK(err.message != "untouched");
  }
  SECTION("stopped after a first poll") {
    auto server = std::make_unique<DovecotProcess>();
    server->deliver(reply(1));
    ImapSession s(config_for(*server));
    ImapError err;
    const auto st = ok(s.status(err), err, *server);
    REQUIRE(ok(s.uids_after(0, 10, err), err, *server) == Uids{1});
    const std::string password = server->password();
    server->disconnect_sessions();  // as a restarting server does (and its stop is then quick)
    server.reset();
    err = untouched;
    CHECK_FALSE(s.fetch(1, st.uidvalidity, err));
    CHECK(err.kind == ImapError::transient);
    CHECK_THAT(err.message, !Catch::Contains(password));
    err = untouched;
    CHECK_FALSE(s.status(err));
    CHECK(err.kind == ImapError::transient);
    CHECK_THAT(err.message, !Catch::Contains(password));
  }
}

// ---- pure pieces ----------------------------------------------------------------

TEST_CASE("imap: parse_status_response reads both numbers in any order", "[imap]") {
  auto is = [](std::string_view line, std::uint64_t validity, std::uint64_t next) {
    const auto st = parse_status_response(line);
    INFO(line);
    REQUIRE(st);
    CHECK(st->uidvalidity == validity);
    CHECK(st->uidnext == next);
  };
  is("* STATUS INBOX (UIDNEXT 3 UIDVALIDITY 1795492933)\r\n", 1795492933, 3);  // Dovecot's order
  is("* STATUS INBOX (UIDVALIDITY 1700000000 UIDNEXT 43)\r\n", 1700000000, 43);
  is("* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UNSEEN 1 UIDVALIDITY 7)", 7, 3);
  is("* status inbox (uidnext 3 uidvalidity 9)\r\n", 9, 3);
  is("* STATUS \"Learner Replies\" (UIDVALIDITY 5 UIDNEXT 6)\r\n", 5, 6);
  is("* STATUS \"R\\\"eponses (2024)\" (UIDVALIDITY 5 UIDNEXT 6)\r\n", 5, 6);
  is("* STATUS {15}\r\nLearner Replies (UIDVALIDITY 5 UIDNEXT 6)\r\n", 5, 6);  // literal name
  is("* STATUS INBOX (UIDVALIDITY 18446744073709551615 UIDNEXT 1)\r\n", 18446744073709551615ull, 1);
  // Other untagged lines around it.
  is("* OK [ALERT] maintenance (tonight)\r\n* STATUS INBOX (UIDNEXT 3 UIDVALIDITY 4)\r\n* OK done (really)\r\n", 4, 3);

  CHECK_FALSE(parse_status_response(""));
  CHECK_FALSE(parse_status_response("* STATUS INBOX (UIDNEXT 3)\r\n"));
  CHECK_FALSE(parse_status_response("* STATUS INBOX (UIDVALIDITY 3)\r\n"));
  CHECK_FALSE(parse_status_response("* STATUS INBOX (UIDVALIDITY x UIDNEXT 3)\r\n"));
  CHECK_FALSE(parse_status_response("* STATUS INBOX (UIDVALIDITY -1 UIDNEXT 3)\r\n"));
  CHECK_FALSE(parse_status_response("* STATUS INBOX (UIDVALIDITY 99999999999999999999 UIDNEXT 3)\r\n"));
  CHECK_FALSE(parse_status_response("* STATUS INBOX ()\r\n"));
  CHECK_FALSE(parse_status_response("* SEARCH 1 2 3\r\n"));
  CHECK_FALSE(parse_status_response("(UIDVALIDITY 1 UIDNEXT 2)"));
  CHECK_FALSE(parse_status_response("* STATUS INBOX (UIDVALIDITY 1 UIDNEXT 2"));
}

TEST_CASE("imap: parse_search_response reads UIDs from every SEARCH line, sorted and unique", "[imap]") {
  CHECK(parse_search_response("* SEARCH 3 7 42\r\n") == Uids{3, 7, 42});
  CHECK(parse_search_response("* SEARCH\r\n").empty());
  CHECK(parse_search_response("* SEARCH \r\n").empty());
  CHECK(parse_search_response("").empty());
  CHECK(parse_search_response("* SEARCH 42 7 3") == Uids{3, 7, 42});  // no line end, any order
  CHECK(parse_search_response("* SEARCH 1 2\r\n* SEARCH 5 3\r\n") == Uids{1, 2, 3, 5});
  CHECK(parse_search_response("* SEARCH 2 2 1 2\r\n* SEARCH 1\r\n") == Uids{1, 2});
  CHECK(parse_search_response("* search 4 5\n") == Uids{4, 5});
  // Junk lines and tokens are ignored.
  CHECK(parse_search_response("* 3 EXISTS\r\n* 1 RECENT\r\n* SEARCH 8 9\r\n* OK [UIDNEXT 10] x\r\nA5 OK done\r\n") ==
        Uids{8, 9});
  CHECK(parse_search_response("* SEARCH 1  2 x 3 -4 5) (MODSEQ 7)\r\n") == Uids{1, 2, 3});
  CHECK(parse_search_response("* SEARCHING 1 2\r\n").empty());
  CHECK(parse_search_response("* ESEARCH (TAG \"A1\") UID ALL 1:3\r\n").empty());
  CHECK(parse_search_response("* SEARCH 18446744073709551615 99999999999999999999\r\n") ==
        Uids{18446744073709551615ull});
}

TEST_CASE("imap: ImapCursor round-trips through to_string and parse_cursor, junk is rejected", "[imap]") {
  for (const ImapCursor c : {ImapCursor{}, ImapCursor{1700000000, 42}, ImapCursor{1, 0},
                             ImapCursor{18446744073709551615ull, 18446744073709551615ull}}) {
    const std::string s = to_string(c);
    INFO(s);
    const auto back = parse_cursor(s);
    REQUIRE(back);
    CHECK(*back == c);
  }
  CHECK(to_string(ImapCursor{1700000000, 42}) == "1700000000:42");
  CHECK(parse_cursor("1700000000:42") == ImapCursor{1700000000, 42});
  for (const char* junk : {"", ":", "1:", ":1", "1", "1;2", "a:b", "1:2:3", " 1:2", "1:2 ", "1 :2", "-1:2", "1:-2",
                           "+1:2", "1:0x2", "1.5:2", "99999999999999999999:1", "1:99999999999999999999", "1:2\n"}) {
    INFO('"' << junk << '"');
    CHECK_FALSE(parse_cursor(junk));
  }
}

TEST_CASE("imap: classify_imap_result says what to fix, and retrying for the rest", "[imap]") {
  CHECK(classify_imap_result(67, "").kind == ImapError::config);  // CURLE_LOGIN_DENIED
  CHECK_THAT(classify_imap_result(67, "").message, Catch::Contains("login refused"));
  CHECK_THAT(classify_imap_result(67, "Select failed").message, Catch::Contains("no such mailbox"));
  CHECK(classify_imap_result(64, "").kind == ImapError::config);  // CURLE_USE_SSL_FAILED
  CHECK(classify_imap_result(60, "").kind == ImapError::config);  // CURLE_PEER_FAILED_VERIFICATION
  CHECK(classify_imap_result(77, "").kind == ImapError::config);  // CURLE_SSL_CACERT_BADFILE
  CHECK(classify_imap_result(3, "").kind == ImapError::config);   // CURLE_URL_MALFORMAT
  for (int transient : {6, 7, 28, 35, 55, 56}) {  // resolve, connect, timeout, TLS handshake, send, receive
    INFO(transient);
    CHECK(classify_imap_result(transient, "").kind == ImapError::transient);
  }
  CHECK_THAT(classify_imap_result(7, "Failed to connect to 127.0.0.1 port 1").message,
             Catch::Contains("Failed to connect to 127.0.0.1 port 1"));
}
