// The email adapter's pure MIME layer: encoded-word folding, quoted-printable,
// dates, and the message as a whole (CRLF, 7-bit, line lengths, stable
// Message-ID). No server: the real sink is in smtp_test.cpp.
#include "adapters/email/email.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::email;

namespace {

int hex(char c) { return c <= '9' ? c - '0' : c - 'A' + 10; }

// Independent, minimal decoders for the checks (the server test uses Python's).
std::string decode_q_word(const std::string& w) {
  REQUIRE(w.rfind("=?UTF-8?Q?", 0) == 0);
  REQUIRE(w.size() >= 12);
  REQUIRE(w.substr(w.size() - 2) == "?=");
  std::string out;
  for (std::size_t i = 10; i + 2 < w.size(); ++i) {
    if (w[i] == '_')
      out += ' ';
    else if (w[i] == '=') {
      out += static_cast<char>(hex(w[i + 1]) * 16 + hex(w[i + 2]));
      i += 2;
    } else
      out += w[i];
  }
  return out;
}

std::string decode_qp(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' && s.compare(i + 1, 2, "\r\n") == 0)
      i += 2;
    else if (s[i] == '=') {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else
      out += s[i];
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (auto p = s.find("\r\n"); p != std::string::npos; p = s.find("\r\n", start)) {
    lines.push_back(s.substr(start, p - start));
    start = p + 2;
  }
  lines.push_back(s.substr(start));
  return lines;
}

bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

void check_wire_text(const std::string& m) {
  for (std::size_t i = 0; i < m.size(); ++i) {
    const auto c = static_cast<unsigned char>(m[i]);
    INFO("byte " << i);
    CHECK(c < 0x80);  // 7-bit: no server needs 8BITMIME or SMTPUTF8
    if (c == '\n') CHECK((i > 0 && m[i - 1] == '\r'));
    if (c == '\r') CHECK((i + 1 < m.size() && m[i + 1] == '\n'));
  }
  for (const auto& l : lines_of(m)) {
    INFO(l);
    CHECK(l.size() <= 78);
  }
}

const std::string french_subject =
    "Relance : reprenez votre formation « Français professionnel » — ça avance, l’œuvre est là ! "
    "Êtes-vous prêt à reprendre cette semaine ?";

SmtpConfig config() {
  SmtpConfig c;
  c.url = "smtp://127.0.0.1:2525";
  c.from = "Centre de Français Œuvre <relance@example.org>";
  return c;
}

}  // namespace

TEST_CASE("email mime: a long French subject becomes Q encoded-words of whole characters, each <= 75",
          "[email][mime]") {
  const auto words = encode_words(french_subject, 69);
  REQUIRE(words.size() > 2);
  std::string decoded;
  for (std::size_t i = 0; i < words.size(); ++i) {
    INFO(words[i]);
    CHECK(words[i].size() <= (i == 0 ? 69u : 75u));
    const auto part = decode_q_word(words[i]);
    CHECK(valid_utf8(part));  // §5: no character split across two words
    decoded += part;
  }
  CHECK(decoded == french_subject);

  const auto header = fold_header("Subject", words);
  CHECK(header.rfind("Subject: =?UTF-8?Q?", 0) == 0);
  const auto lines = lines_of(header);
  CHECK(lines.back().empty());  // ends with CRLF
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    CHECK(lines[i].size() <= 78);
    if (i > 0) CHECK(lines[i].front() == ' ');  // continuation lines are folded white space
  }
}

TEST_CASE("email mime: plain ASCII needs no encoding, '=?' and huge words do", "[email][mime]") {
  CHECK(fold_header("Subject", encode_words("Votre formation vous attend", 69)) ==
        "Subject: Votre formation vous attend\r\n");
  CHECK(encode_words("x =?utf-8?q?y?=", 69).front().rfind("=?UTF-8?Q?", 0) == 0);
  const std::string long_word(120, 'a');
  for (const auto& w : encode_words(long_word, 69)) CHECK(w.size() <= 75);
  // A long ASCII subject folds at spaces; unfolding gives it back.
  std::string s;
  for (int i = 0; i < 30; ++i) s += "mot" + std::to_string(i) + " ";
  s += "fin";
  const auto h = fold_header("Subject", encode_words(s, 69));
  for (const auto& l : lines_of(h)) CHECK(l.size() <= 78);
  std::string unfolded = h;
  for (auto p = unfolded.find("\r\n "); p != std::string::npos; p = unfolded.find("\r\n ")) unfolded.erase(p, 2);
  CHECK(unfolded == "Subject: " + s + "\r\n");
}

TEST_CASE("email mime: quoted-printable keeps lines <= 76 and decodes back", "[email][mime]") {
  std::string text = "Bonjour Léa,\n";
  for (int i = 0; i < 40; ++i) text += "é€ « œ » ç ";  // one 400+ byte line
  text += "\nligne avec espaces en fin   \n=égal=\nfin\ttab\t\r\nCR seul\rderniére";
  const auto qp = quoted_printable(text);
  for (const auto& l : lines_of(qp)) {
    INFO(l);
    CHECK(l.size() <= 76);
    CHECK((l.empty() || (l.back() != ' ' && l.back() != '\t')));
  }
  for (unsigned char c : qp) CHECK(c < 0x80);
  std::string expected = text;  // every line ending becomes CRLF
  std::string norm;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] == '\r' && i + 1 < expected.size() && expected[i + 1] == '\n') continue;
    if (expected[i] == '\r' || expected[i] == '\n')
      norm += "\r\n";
    else
      norm += expected[i];
  }
  CHECK(decode_qp(qp) == norm);
  CHECK(quoted_printable("a=b") == "a=3Db");
  CHECK(quoted_printable("fin ") == "fin=20");
  CHECK(quoted_printable(".\n") == ".\r\n");  // a lone dot is curl's to stuff (see smtp_test)
}

TEST_CASE("email mime: RFC 5322 dates in UTC", "[email][mime]") {
  CHECK(rfc5322_date(test::utc("2026-11-23T10:00:00Z")) == "Mon, 23 Nov 2026 10:00:00 +0000");
  CHECK(rfc5322_date(test::utc("2027-01-01T00:00:05Z")) == "Fri, 01 Jan 2027 00:00:05 +0000");
  CHECK(rfc5322_date(test::utc("2028-02-29T23:59:59Z")) == "Tue, 29 Feb 2028 23:59:59 +0000");
}

TEST_CASE("email mime: mailboxes are parsed, quoted and encoded", "[email][mime]") {
  auto m = parse_mailbox("Centre Œuvre <relance@example.org>");
  CHECK(m.name == "Centre Œuvre");
  CHECK(m.address == "relance@example.org");
  m = parse_mailbox(" relance@example.org ");
  CHECK(m.name.empty());
  CHECK(m.address == "relance@example.org");
  m = parse_mailbox("\"Dupont, Jean\" <j@example.org>");
  CHECK(m.name == "Dupont, Jean");

  auto c = config();
  c.from = "Dupont, Jean <relance@example.org>";
  Email e{7, "lea@example.fr", "Léa", "s", "t", "", ""};
  const auto msg = build_mime(e, c, test::utc("2026-11-23T10:00:00Z"));
  CHECK(msg.find("From: \"Dupont, Jean\" <relance@example.org>\r\n") != std::string::npos);
  CHECK(msg.find("To: =?UTF-8?Q?L=C3=A9a?= <lea@example.fr>\r\n") != std::string::npos);
}

TEST_CASE("email mime: the whole message is 7-bit CRLF text with a stable Message-ID", "[email][mime]") {
  Email e;
  e.outbox_id = 4242;
  e.to = "lea@example.fr";
  e.to_name = "Léa Dupré-Çelik";
  e.subject = french_subject;
  e.text = "Bonjour Léa,\n.\n.point en début\nÀ bientôt « œ »";
  e.html = "<p>Bonjour Léa,</p><p>Où en êtes-vous ? « œ »</p>";
  e.reply_to = "secretariat@example.org";
  auto c = config();
  c.message_id_domain = "relance.example.org";
  const auto a = build_mime(e, c, test::utc("2026-11-23T10:00:00Z"));
  const auto b = build_mime(e, c, test::utc("2026-11-24T08:30:00Z"));
  check_wire_text(a);
  CHECK(a.find("Message-ID: <relance.4242@relance.example.org>\r\n") != std::string::npos);
  CHECK(b.find("Message-ID: <relance.4242@relance.example.org>\r\n") != std::string::npos);  // a resend
  CHECK(a.find("Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n") != std::string::npos);
  CHECK(a.find("Reply-To: <secretariat@example.org>\r\n") != std::string::npos);
  CHECK(a.find("MIME-Version: 1.0\r\n") != std::string::npos);
  CHECK(a.find("Content-Type: multipart/alternative; boundary=\"=_relance_4242\"\r\n") != std::string::npos);
  CHECK(a.find("Auto-Submitted") == std::string::npos);  // a personal relaunch (see email.hpp)
  CHECK(a.find("\r\n--=_relance_4242--\r\n") != std::string::npos);

  // Without a Message-ID domain, the sender's domain; without HTML, one part.
  e.html.clear();
  const auto plain = build_mime(e, config(), test::utc("2026-11-23T10:00:00Z"));
  check_wire_text(plain);
  CHECK(plain.find("Message-ID: <relance.4242@example.org>\r\n") != std::string::npos);
  CHECK(plain.find("multipart") == std::string::npos);
  CHECK(plain.find("Content-Type: text/plain; charset=UTF-8\r\n") != std::string::npos);
}

TEST_CASE("email mime: a line break in a name or address cannot add a header", "[email][mime]") {
  Email e{1, "lea@example.fr\r\nBcc: all@example.org", "Léa\r\nBcc: evil@example.org", "Salut\r\nBcc: x@y", "t", "",
          ""};
  const auto m = build_mime(e, config(), test::utc("2026-11-23T10:00:00Z"));
  CHECK(m.find("\r\nBcc:") == std::string::npos);
  check_wire_text(m);
}

TEST_CASE("email smtp: results are classified for the outbox", "[email][mime]") {
  // (CURLcode numbers are part of libcurl's ABI: 0 OK, 7 COULDNT_CONNECT,
  // 28 OPERATION_TIMEDOUT, 55 SEND_ERROR, 56 RECV_ERROR, 60 PEER_FAILED_VERIFICATION,
  // 64 USE_SSL_FAILED, 67 LOGIN_DENIED, 3 URL_MALFORMAT, 6 COULDNT_RESOLVE_HOST.)
  struct Row {
    int curl;
    long smtp;
    SendOutcome::Status status;
  };
  const Row rows[] = {
      {0, 250, SendOutcome::sent},     {7, 0, SendOutcome::retry},     {28, 0, SendOutcome::retry},
      {6, 0, SendOutcome::retry},      {56, 421, SendOutcome::retry},  {55, 451, SendOutcome::retry},
      {55, 452, SendOutcome::retry},   {55, 550, SendOutcome::failed}, {55, 553, SendOutcome::failed},
      {55, 552, SendOutcome::failed},  {64, 0, SendOutcome::failed},   {60, 0, SendOutcome::failed},
      {67, 535, SendOutcome::failed},  {3, 0, SendOutcome::failed},    {56, 0, SendOutcome::retry},
  };
  for (const auto& r : rows) {
    INFO("curl " << r.curl << " smtp " << r.smtp);
    const auto o = classify_smtp_result(r.curl, r.smtp, "detail");
    CHECK(o.status == r.status);
    CHECK(o.smtp_code == r.smtp);
    CHECK(o.error.empty() == (r.status == SendOutcome::sent));
  }
  CHECK(classify_smtp_result(64, 0, "").error.find("STARTTLS") != std::string::npos);
}
