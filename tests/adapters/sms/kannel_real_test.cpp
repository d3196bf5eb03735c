// The Kannel gateway against a real Kannel 1.4.5 (bearerbox + smsbox, the
// fake SMSC driven by fakesmsc), started by the shared recipe on free ports
// (tests/support/kannel_process.hpp). relance's side is an in-process HTTP
// server: it receives the MO pushes and the delivery reports, which go
// through the real parsers. Without Kannel these tests fail and name the
// packages to install.
#include "adapters/sms/kannel/kannel.hpp"
#include "kannel_process.hpp"
#include "test_support.hpp"
#include "tests/support/fake_http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

using namespace relance;
using namespace relance::sms;
using namespace relance::sms::kannel;

namespace {

// Our hooks as Kannel sees them: 200, empty body (what parse_mo/parse_dlr answer).
test::FakeHttpServer::Handler quiet_bot() {
  return [](const test::FakeRequest&) {
    test::FakeResponse r;
    r.content_type = "text/plain; charset=utf-8";
    return r;
  };
}

Request as_request(const test::FakeRequest& r) { return Request{r.method, r.target, r.headers, r.body}; }

std::vector<test::FakeRequest> requests_to(const test::FakeHttpServer& bot, std::string_view path) {
  auto all = bot.requests();
  std::erase_if(all, [&](const test::FakeRequest& r) { return r.path != path; });
  return all;
}

// A secret that needs every kind of escaping on its way through Kannel:
// '&' and '+' for the query, "é" whose %C3%A9 Kannel would read as %C and %A.
const std::string secret = "s3cr&t é+/=%C3";

KannelConfig config_for(const test::KannelProcess& kannel, const test::FakeHttpServer& bot) {
  KannelConfig c;
  c.sendsms_url = kannel.sendsms_url();
  c.username = kannel.username();
  c.password = kannel.password();
  c.from = "12345";
  c.public_url = bot.url();
  c.secret = secret;
  c.timeout = std::chrono::seconds{5};
  return c;
}

}  // namespace

TEST_CASE("real Kannel: accents and an emoji arrive intact, a long text as parts, the DLR comes back",
          "[sms][kannel][real]") {
  test::FakeHttpServer bot(quiet_bot());
  test::KannelProcess kannel({.bot_url = bot.url() + "/unused"});
  const auto c = config_for(kannel, bot);
  boost::asio::io_context io;
  net::HttpClient http(io.get_executor());
  KannelGateway gw(http, c);

  // (a) UCS-2: French accents outside GSM-7, guillemets, œ, an emoji.
  const std::string accented = "Bonjour Zoé, vous êtes attendue ç « reprise » œuvre 👍 ";
  auto r = test::run_awaitable(io, gw.send(Message{101, "+33600000001", accented}));
  INFO(r.error);
  REQUIRE(r.status == SendResult::Status::sent);
  CHECK(r.remote_id.empty());
  REQUIRE(kannel.wait_mt(1));
  auto mt = kannel.mt();
  INFO(mt.at(0).line);
  CHECK(mt[0].type == "ucs-2");
  CHECK(mt[0].from == "12345");
  CHECK(mt[0].to == "+33600000001");
  CHECK(mt[0].text == accented);

  // A 200-character GSM-7 text: two concatenated parts (153 + 47).
  std::string long_text;
  while (long_text.size() < 200) long_text += "Reprise lundi a 9h, salle 3. ";
  long_text.resize(200);
  r = test::run_awaitable(io, gw.send(Message{102, "+33600000002", long_text}));
  REQUIRE(r.status == SendResult::Status::sent);
  REQUIRE(kannel.wait_mt(3));
  mt = kannel.mt();
  {
    INFO(mt.at(1).line << "\n" << mt.at(2).line);
    CHECK(mt[1].type == "udh");
    CHECK(mt[1].concat_total == 2);
    CHECK(mt[2].concat_total == 2);
    CHECK(mt[1].concat_ref == mt[2].concat_ref);
    CHECK(mt[1].concat_seq == 1);
    CHECK(mt[2].concat_seq == 2);
    CHECK(mt[1].text + mt[2].text == long_text);
  }

  // (c) The DLR of message 101 reaches the dlr-url: the secret survived
  // Kannel's escape-code expansion, ref is our outbox id.
  REQUIRE(test::wait_until([&] {
    const auto dlrs = requests_to(bot, dlr_path);
    return std::any_of(dlrs.begin(), dlrs.end(), [&](const test::FakeRequest& q) {
      const auto o = parse_dlr(as_request(q), c);
      return o.status == 200 && o.reports.at(0).outbox_id == 101 && o.reports[0].state == DeliveryState::delivered;
    });
  }));
  std::map<int, std::string> details;
  for (const auto& q : requests_to(bot, dlr_path)) {
    INFO(q.target);
    const auto o = parse_dlr(as_request(q), c);
    REQUIRE(o.status == 200);
    REQUIRE(o.reports.size() == 1);
    if (o.reports[0].outbox_id == 101) details[int(o.reports[0].state)] = o.reports[0].detail;
  }
  CHECK(details[int(DeliveryState::delivered)] == "type 1");
  // The fake SMSC's ack (type 8, "ACK/") may come after the final report.
  if (details.count(int(DeliveryState::progress))) CHECK(details[int(DeliveryState::progress)] == "type 8 ACK/");

  // Kannel's refusals, as Kannel words them.
  auto wrong = c;
  wrong.password = "nope";
  KannelGateway refused(http, wrong);
  r = test::run_awaitable(io, refused.send(Message{103, "+33600000003", "x"}));
  CHECK(r.status == SendResult::Status::failed);
  CHECK(r.error == "HTTP 403: Authorization failed for sendsms");
  auto no_sender = c;
  no_sender.from.clear();
  KannelGateway anonymous(http, no_sender);
  r = test::run_awaitable(io, anonymous.send(Message{104, "+33600000003", "x"}));
  CHECK(r.status == SendResult::Status::failed);
  CHECK(r.error == "HTTP 400: Sender missing and no global set, rejected");
}

TEST_CASE("real Kannel: a long accented text goes as UCS-2 parts that rebuild the text", "[sms][kannel][real]") {
  test::FakeHttpServer bot(quiet_bot());
  test::KannelProcess kannel({.bot_url = bot.url() + "/unused"});
  auto c = config_for(kannel, bot);
  c.delivery_reports = false;
  boost::asio::io_context io;
  net::HttpClient http(io.get_executor());
  KannelGateway gw(http, c);

  // 97 characters, UCS-2: 67 + 30.
  std::string text;
  for (int i = 0; i < 3; ++i) text += "Où en êtes-vous ? « Leçon 3 » ";
  text += "À bientôt";
  const auto r = test::run_awaitable(io, gw.send(Message{201, "+33600000001", text}));
  REQUIRE(r.status == SendResult::Status::sent);
  REQUIRE(kannel.wait_mt(2));
  auto mt = kannel.mt();
  INFO(mt.at(0).line << "\n" << mt.at(1).line);
  CHECK(mt[0].concat_seq == 1);
  CHECK(mt[1].concat_seq == 2);
  // fakesmsc prints a part with a UDH as "udh ... data ..." whatever its
  // coding (observed): the payload of a UCS-2 part is UTF-16BE.
  CHECK(mt[0].type == "udh");
  CHECK(mt[0].data.size() == 2 * 67);
  CHECK(test::utf16be_to_utf8(mt[0].data + mt[1].data) == text);
  CHECK(requests_to(bot, dlr_path).empty());
}

TEST_CASE("real Kannel: MO through the recommended get-url: exact text, sender, Kannel id", "[sms][kannel][real]") {
  test::FakeHttpServer bot(quiet_bot());
  KannelConfig c;
  c.public_url = bot.url();
  c.secret = secret;
  // The recommended service URL, as is (the recipe appends its own fields after it).
  test::KannelProcess kannel({.bot_url = mo_url(c)});

  const std::vector<std::pair<std::string, std::string>> sent = {
      {"text", "Salut   Zoé, ça va ?  "},
      {"ucs2", "  Merci « œuvre »  ê 👍 "},
      {"data", "Zo%E9+%E0+bient%F4t"},  // 8-bit Latin-1 bytes
  };
  const std::vector<std::string> expected = {"Salut   Zoé, ça va ?  ", "  Merci « œuvre »  ê 👍 ", "Zoé à bientôt"};
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const auto& [type, data] = sent[i];
    const auto from = "3360000000" + std::to_string(i + 1);
    if (type == "ucs2")
      kannel.inject_ucs2(from, "12345", data);
    else
      kannel.inject_mo(from, "12345", type, data);
    REQUIRE(test::wait_until([&] { return requests_to(bot, inbound_path).size() == i + 1; }));
    const auto q = requests_to(bot, inbound_path).back();
    INFO(type << ": " << q.target);
    CHECK(q.method == "GET");
    const auto o = parse_mo(as_request(q), c);
    REQUIRE(o.status == 200);
    REQUIRE(o.messages.size() == 1);
    const auto& in = o.messages[0];
    CHECK(in.text == expected[i]);
    CHECK(in.from == from);
    CHECK(in.to == "12345");
    CHECK(in.provider_id.size() == 36);  // Kannel's UUID (%I)
    CHECK(in.sent_at.has_value());
  }
  // Each MO has its own id: the app's dedupe key.
  const auto all = requests_to(bot, inbound_path);
  CHECK(parse_mo(as_request(all[0]), c).messages[0].provider_id !=
        parse_mo(as_request(all[1]), c).messages[0].provider_id);
  // A wrong secret in the service URL is refused.
  auto other = c;
  other.secret = "s3cr&t e+/=%C3";
  CHECK(parse_mo(as_request(all[0]), other).status == 403);
}

TEST_CASE("real Kannel: MO with mo-recode = no arrives as UTF-16BE and is decoded", "[sms][kannel][real]") {
  test::FakeHttpServer bot(quiet_bot());
  KannelConfig c;
  c.public_url = bot.url();
  c.secret = secret;
  test::KannelProcess kannel({.bot_url = mo_url(c), .mo_recode = false});

  const std::string text = "Je  reprends « lundi »  👍 ";
  kannel.inject_ucs2("33600000009", "12345", text);
  REQUIRE(test::wait_until([&] { return requests_to(bot, inbound_path).size() == 1; }));
  const auto q = requests_to(bot, inbound_path).back();
  INFO(q.target);
  CHECK(q.target.find("charset=UTF-16BE") != std::string::npos);
  const auto o = parse_mo(as_request(q), c);
  REQUIRE(o.status == 200);
  CHECK(o.messages.at(0).text == text);
  CHECK(o.messages.at(0).from == "33600000009");
}

TEST_CASE("real Kannel: MO through post-url: the body is the exact text", "[sms][kannel][real]") {
  test::FakeHttpServer bot(quiet_bot());
  KannelConfig c;
  c.public_url = bot.url();
  c.secret = secret;
  // post-url = ".../hooks/sms/kannel?secret=..&id=%I" + the recipe's fields, send-sender = true.
  test::KannelProcess kannel(
      {.bot_url = bot.url() + std::string(inbound_path) + "?secret=" + kannel_url_escape(secret) + "&id=%I",
       .post = true});

  kannel.inject_text("33600000001", "12345", "Bonjour   à tous  ");
  kannel.inject_ucs2("33600000002", "12345", "Œuvre  ç 👍");
  REQUIRE(test::wait_until([&] { return requests_to(bot, inbound_path).size() == 2; }));
  auto reqs = requests_to(bot, inbound_path);
  std::map<std::string, std::string> text_by_sender;
  for (const auto& q : reqs) {
    INFO(q.target << "\n" << q.header("Content-Type"));
    CHECK(q.method == "POST");
    const auto o = parse_mo(as_request(q), c);
    REQUIRE(o.status == 200);
    REQUIRE(o.messages.size() == 1);
    CHECK(o.messages[0].provider_id.size() == 36);
    text_by_sender[o.messages[0].from] = o.messages[0].text;
  }
  CHECK(text_by_sender["33600000001"] == "Bonjour   à tous  ");
  CHECK(text_by_sender["33600000002"] == "Œuvre  ç 👍");
}
