// Kannel gateway without Kannel: the sendsms URL, the answer mapping, the
// MO/DLR parsers on requests shaped like the ones Kannel 1.4.5 sent in
// kannel_real_test.cpp (and ../shared/recipes/KANNEL.md), and one send
// through the real HTTP client against an in-process server.
#include "adapters/common/form.hpp"
#include "adapters/sms/kannel/kannel.hpp"
#include "test_support.hpp"
#include "tests/support/fake_http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::sms;
using namespace relance::sms::kannel;

namespace {

KannelConfig config() {
  KannelConfig c;
  c.sendsms_url = "http://127.0.0.1:13013/cgi-bin/sendsms";
  c.username = "relance";
  c.password = "pa ss&wörd";
  c.from = "OrgaForm";
  c.public_url = "http://relance.lan:8080/";
  c.secret = "s3cr&t é";
  return c;
}

net::FormFields query_of(const std::string& url) { return net::form_decode(target_query(url)); }

std::string get(const net::FormFields& f, std::string_view name) {
  const auto* v = net::form_find(f, name);
  return v ? *v : std::string("<absent>");
}

Request mo_get(std::string query) { return Request{"GET", "/hooks/sms/kannel?" + std::move(query), {}, {}}; }

const std::string good = "secret=s3cr%26t+%C3%A9";

}  // namespace

TEST_CASE("kannel: the sendsms URL of a GSM-7 text: coding 0, UTF-8, DLR asked with our outbox id", "[sms][kannel]") {
  const auto c = config();
  const Message m{42, "+33612345678", "Bonjour Zoé, à demain ? 10€ {ok}"};
  const auto url = sendsms_request_url(m, c);
  CHECK(url.rfind("http://127.0.0.1:13013/cgi-bin/sendsms?username=relance&password=", 0) == 0);
  const auto q = query_of(url);
  CHECK(get(q, "password") == "pa ss&wörd");
  CHECK(get(q, "from") == "OrgaForm");
  CHECK(get(q, "to") == "+33612345678");
  CHECK(get(q, "text") == m.text);
  CHECK(get(q, "charset") == "UTF-8");
  CHECK(get(q, "coding") == "0");
  CHECK(get(q, "smsc") == "<absent>");
  CHECK(get(q, "dlr-mask") == "27");
  // What Kannel stores: our own %-escapes doubled, its codes %d and %A single.
  CHECK(get(q, "dlr-url") ==
        "http://relance.lan:8080/hooks/sms/kannel/dlr?secret=s3cr%%26t+%%C3%%A9&ref=42&type=%d&answer=%A");
  // The '+' of the number and the spaces of the text are encoded for the query.
  CHECK(url.find("to=%2B33612345678") != std::string::npos);
}

TEST_CASE("kannel: a text outside GSM-7 goes as UCS-2 (coding 2), still UTF-8 in", "[sms][kannel]") {
  auto c = config();
  c.smsc = "orange";
  c.delivery_reports = false;
  c.from.clear();
  for (const std::string text : {"Vous êtes attendu", "Ça « marche »", "œuvre", "ok 👍", "l’essai"}) {
    const auto q = query_of(sendsms_request_url(Message{7, "33612345678", text}, c));
    CHECK(get(q, "coding") == "2");
    CHECK(get(q, "charset") == "UTF-8");
    CHECK(get(q, "text") == text);
    CHECK(get(q, "smsc") == "orange");
    CHECK(get(q, "from") == "<absent>");  // Kannel's global-sender
    CHECK(get(q, "dlr-url") == "<absent>");
    CHECK(get(q, "dlr-mask") == "<absent>");
  }
}

TEST_CASE("kannel: Kannel's escape codes cannot eat our own percent-encoding", "[sms][kannel]") {
  CHECK(kannel_url_escape("abc-_.*") == "abc-_.*");
  CHECK(kannel_url_escape("a&b é%") == "a%%26b+%%C3%%A9%%25");
  auto c = config();
  c.public_url = "http://h/relance%20x";
  CHECK(dlr_url(5, c) == "http://h/relance%%20x/hooks/sms/kannel/dlr?secret=s3cr%%26t+%%C3%%A9&ref=5&type=%d&answer=%A");
  CHECK(mo_url(c) ==
        "http://h/relance%%20x/hooks/sms/kannel?secret=s3cr%%26t+%%C3%%A9&id=%I&from=%p&to=%P&ts=%T&coding=%c"
        "&charset=%C&text=%b");
}

TEST_CASE("kannel: recommended sms-service block", "[sms][kannel]") {
  const auto block = recommended_sms_service(config());
  CHECK(block.rfind("group = sms-service\n", 0) == 0);
  CHECK(block.find("\n\n") == std::string::npos);  // a blank line would end the group
  CHECK(block.back() == '\n');
  CHECK(block.find("\nkeyword = default\n") != std::string::npos);
  CHECK(block.find("\ncatch-all = true\n") != std::string::npos);
  CHECK(block.find("\nmax-messages = 0\n") != std::string::npos);
  CHECK(block.find("\nget-url = \"http://relance.lan:8080/hooks/sms/kannel?secret=s3cr%%26t+%%C3%%A9&id=%I&from=%p"
                   "&to=%P&ts=%T&coding=%c&charset=%C&text=%b\"\n") != std::string::npos);
  std::size_t start = 0;
  while (start < block.size()) {
    const auto end = block.find('\n', start);
    const auto line = block.substr(start, end - start);
    INFO(line);
    CHECK(line.find(" = ") != std::string::npos);
    start = end + 1;
  }
}

TEST_CASE("kannel: messages that never go to Kannel", "[sms][kannel]") {
  const auto c = config();
  CHECK(refuse_reason(Message{1, "+33612345678", "ok"}, c).empty());
  CHECK(refuse_reason(Message{1, "33612345678", "ok"}, c).empty());
  // A space is Kannel's recipient separator: one message, two numbers.
  CHECK_FALSE(refuse_reason(Message{1, "+33612345678 +33698765432", "ok"}, c).empty());
  CHECK_FALSE(refuse_reason(Message{1, "06.12.34.56.78", "ok"}, c).empty());
  CHECK_FALSE(refuse_reason(Message{1, "", "ok"}, c).empty());
  CHECK(refuse_reason(Message{1, "+33612345678", ""}, c) == "empty text");
  CHECK(refuse_reason(Message{1, "+33612345678", std::string(4 * 153, 'a')}, c).empty());
  CHECK(refuse_reason(Message{1, "+33612345678", std::string(4 * 153 + 1, 'a')}, c) ==
        "text is 5 SMS parts, over max_parts 4");
}

TEST_CASE("kannel: what Kannel's answers mean", "[sms][kannel]") {
  auto answer = [](int status, std::string body, net::Headers headers = {}) {
    net::HttpResult r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return classify_sendsms(r);
  };
  using S = SendResult::Status;
  for (const auto* body : {"0: Accepted for delivery", "3: Queued for later delivery"}) {
    const auto r = answer(202, body);
    CHECK(r.status == S::sent);
    CHECK(r.remote_id.empty());
    CHECK(r.error.empty());
  }
  auto r = answer(503, "Temporal failure, try again later.");
  CHECK(r.status == S::retry);
  CHECK(r.error == "HTTP 503: Temporal failure, try again later.");
  CHECK_FALSE(r.retry_after);
  r = answer(429, "slow down", {{"Retry-After", "7"}});
  CHECK(r.status == S::retry);
  CHECK(r.retry_after == std::chrono::milliseconds{7000});
  CHECK(answer(500, "").status == S::retry);
  r = answer(403, "Authorization failed for sendsms\n");
  CHECK(r.status == S::failed);
  CHECK(r.error == "HTTP 403: Authorization failed for sendsms");
  r = answer(400, "Missing receiver number, rejected");
  CHECK(r.status == S::failed);
  CHECK(r.error == "HTTP 400: Missing receiver number, rejected");
  CHECK(answer(404, "<html>\nnot found\n</html>").error == "HTTP 404: <html> not found </html>");

  net::HttpResult none;
  none.failure = net::Failure::timeout;
  none.error = "deadline passed";
  r = classify_sendsms(none);
  CHECK(r.status == S::retry);
  CHECK(r.error == "kannel timeout: deadline passed");
}

TEST_CASE("kannel: send() through the HTTP client: one GET, the answer mapped, the password nowhere else",
          "[sms][kannel]") {
  int status = 202;
  std::string body = "0: Accepted for delivery";
  bool hang = false;
  test::FakeHttpServer server([&](const test::FakeRequest&) {
    test::FakeResponse r;
    r.status = status;
    r.content_type = "text/html";
    r.body = body;
    r.hang = hang;
    return r;
  });
  boost::asio::io_context io;
  net::HttpClient http(io.get_executor());
  auto c = config();
  c.sendsms_url = server.url() + "/cgi-bin/sendsms";
  c.timeout = std::chrono::seconds{1};
  KannelGateway gw(http, c);
  CHECK(gw.name() == "kannel");

  auto r = test::run_awaitable(io, gw.send(Message{9, "+33612345678", "Zoé, on vous attend ?"}));
  CHECK(r.status == SendResult::Status::sent);
  REQUIRE(server.request_count() == 1);
  const auto req = server.requests().front();
  CHECK(req.method == "GET");
  CHECK(req.path == "/cgi-bin/sendsms");
  CHECK(req.body.empty());
  CHECK(get(net::form_decode(req.query), "text") == "Zoé, on vous attend ?");

  status = 403;
  body = "Authorization failed for sendsms";
  r = test::run_awaitable(io, gw.send(Message{10, "+33612345678", "x"}));
  CHECK(r.status == SendResult::Status::failed);
  CHECK(r.error == "HTTP 403: Authorization failed for sendsms");

  // A proxy that echoes the request in its refusal: the password reaches
  // neither the outbox row nor the log, raw or encoded.
  status = 400;
  body = "Bad request: " + server.url() + "/cgi-bin/sendsms?" + server.requests().back().query;
  r = test::run_awaitable(io, gw.send(Message{14, "+33612345678", "Zoé, on vous attend ?"}));
  CHECK(r.status == SendResult::Status::failed);
  CHECK(r.error.find("HTTP 400") == 0);
  CHECK(r.error.find(c.password) == std::string::npos);
  CHECK(r.error.find("w%C3%B6rd") == std::string::npos);
  CHECK(r.error.find("[secret]") != std::string::npos);

  // Refused here: Kannel is not asked.
  r = test::run_awaitable(io, gw.send(Message{11, "+33 6 12", "x"}));
  CHECK(r.status == SendResult::Status::failed);
  CHECK(server.request_count() == 3);

  hang = true;
  r = test::run_awaitable(io, gw.send(Message{12, "+33612345678", "x"}));
  CHECK(r.status == SendResult::Status::retry);
  CHECK(r.error.find("timeout") != std::string::npos);
  CHECK(r.error.find("wörd") == std::string::npos);
  server.stop();

  // Nobody listening.
  c.sendsms_url = "http://127.0.0.1:9/cgi-bin/sendsms";
  KannelGateway down(http, c);
  r = test::run_awaitable(io, down.send(Message{13, "+33612345678", "x"}));
  CHECK(r.status == SendResult::Status::retry);
  CHECK(r.error.find("kannel connect") == 0);
  CHECK(r.error.find("password") == std::string::npos);
}

TEST_CASE("kannel mo: get-url with %b decoded by %C, whitespace kept", "[sms][kannel]") {
  const auto c = config();
  // UTF-8 (a text MO, or UCS-2 with mo-recode = yes), runs of spaces kept.
  auto o = parse_mo(mo_get(good + "&id=4233025c-5305&from=33600000001&to=12345&ts=1795357444&coding=0"
                                  "&charset=UTF-8&text=+Salut+++Zo%C3%A9%2C+%C3%A7a+va+%3F++"),
                    c);
  REQUIRE(o.status == 200);
  CHECK(o.body.empty());
  REQUIRE(o.messages.size() == 1);
  CHECK(o.reports.empty());
  const auto& in = o.messages[0];
  CHECK(in.provider_id == "4233025c-5305");
  CHECK(in.from == "33600000001");
  CHECK(in.to == "12345");
  CHECK(in.text == " Salut   Zoé, ça va ?  ");
  REQUIRE(in.sent_at);
  CHECK(to_unix(*in.sent_at) == 1795357444);

  // UCS-2 with mo-recode = no: raw UTF-16BE, an emoji as a surrogate pair.
  o = parse_mo(mo_get(good + "&id=a&from=336&coding=2&charset=UTF-16BE&text=%00Z%00o%00%E9%00+%00+%D8%3D%DC%4D"), c);
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0].text == "Zoé  👍");
  CHECK_FALSE(o.messages[0].sent_at);

  // 8-bit data from an old handset: Latin-1 bytes; or UTF-8 bytes.
  o = parse_mo(mo_get(good + "&id=b&from=336&coding=1&charset=8-BIT&text=Zo%E9+%E0+10%80"), c);
  CHECK(o.messages.at(0).text == "Zoé à 10€");
  o = parse_mo(mo_get(good + "&id=b&from=336&coding=1&charset=8-BIT&text=Zo%C3%A9"), c);
  CHECK(o.messages.at(0).text == "Zoé");
  o = parse_mo(mo_get(good + "&id=c&from=336&charset=WINDOWS-1252&text=%9Cuvre+%AB+ok+%BB"), c);
  CHECK(o.messages.at(0).text == "œuvre « ok »");
  o = parse_mo(mo_get(good + "&id=c&from=336&charset=ISO-8859-1&text=%E7a"), c);
  CHECK(o.messages.at(0).text == "ça");
  o = parse_mo(mo_get(good + "&id=c&from=336&charset=ISO-8859-15&text=%BDuvre+%A4"), c);
  CHECK(o.messages.at(0).text == "œuvre €");
  // No text at all: an empty SMS is still a message.
  o = parse_mo(mo_get(good + "&id=d&from=336"), c);
  CHECK(o.messages.at(0).text.empty());
}

TEST_CASE("kannel mo: the recipe's query after ours: the first value of a field counts", "[sms][kannel]") {
  // kannel-up.sh appends from=%p&to=%P&text=%a&ts=%t&... to the URL it is given.
  const auto o = parse_mo(mo_get(good + "&id=u1&from=33600000001&to=12345&ts=1795357444&coding=0&charset=UTF-8"
                                        "&text=a++b&from=33600000001&to=12345&text=a+b&ts=2026-11-22+14:24:04"),
                          config());
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0].text == "a  b");
  CHECK(to_unix(*o.messages[0].sent_at) == 1795357444);
}

TEST_CASE("kannel mo: post-url: body is the text in its Content-Type charset, sender from X-Kannel-From",
          "[sms][kannel]") {
  Request r{"POST",
            "/hooks/sms/kannel?" + good + "&id=p1&text=ignored",
            {{"Content-Type", "text/plain; charset=\"UTF-16BE\""},
             {"X-Kannel-From", "33600000001"},
             {"X-Kannel-To", "12345"},
             {"X-Kannel-Coding", "2"}},
            std::string("\0S\0a\0l\0u\0t\0 \0 \0\xe7\0a", 18)};
  auto o = parse_mo(r, config());
  REQUIRE(o.status == 200);
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0].text == "Salut  ça");
  CHECK(o.messages[0].from == "33600000001");
  CHECK(o.messages[0].to == "12345");
  CHECK(o.messages[0].provider_id == "p1");

  r.headers = {{"content-type", "text/plain; charset=\"UTF-8\""}, {"x-kannel-from", "336"}};
  r.body = "  Zoé\n  ";
  o = parse_mo(r, config());
  CHECK(o.messages.at(0).text == "  Zoé\n  ");
  CHECK(o.messages.at(0).from == "336");
}

TEST_CASE("kannel hooks: a forged, missing or empty secret is 403, missing fields 400", "[sms][kannel]") {
  const auto c = config();
  const std::string fields = "&id=x&from=336&text=hi";
  for (const std::string bad : {"", "secret=", "secret=s3cr%26t+%C3%A8", "secret=s3cr%26t+%C3%A9x",
                                "secret=s3cr%26t", "secret=S3CR%26T+%C3%A9", "secret=s3cr%2526t+%25C3%25A9"}) {
    INFO(bad);
    auto o = parse_mo(mo_get(bad + fields), c);
    CHECK(o.status == 403);
    CHECK(o.messages.empty());
    CHECK(o.body == "forbidden\n");
    CHECK(o.error.find("s3cr") == std::string::npos);  // the log never gets the secret
    o = parse_dlr(Request{"GET", "/hooks/sms/kannel/dlr?" + bad + "&ref=1&type=1", {}, {}}, c);
    CHECK(o.status == 403);
    CHECK(o.reports.empty());
  }
  // No secret configured: nothing gets in, not even an empty one.
  auto open = c;
  open.secret.clear();
  CHECK(parse_mo(mo_get("secret=" + fields), open).status == 403);

  CHECK(parse_mo(mo_get(good + "&from=336&text=hi"), c).status == 400);
  CHECK(parse_mo(mo_get(good + "&id=x&text=hi"), c).status == 400);
  CHECK(parse_mo(mo_get(good + "&id=&from=336"), c).status == 400);
}

TEST_CASE("kannel hooks: the secret is compared in constant time (sms::same_secret)", "[sms][kannel]") {
  // A timing test would be flaky; the parsers' source is the evidence that
  // no early-exit comparison of the secret sneaks back in.
  const auto src = test::read_file(RELANCE_SOURCE_DIR "/adapters/sms/kannel/hooks.cpp");
  CHECK(src.find("same_secret(*given, config.secret)") != std::string::npos);
  CHECK(src.find("== config.secret") == std::string::npos);
  CHECK(src.find("config.secret ==") == std::string::npos);
  CHECK(same_secret("abc", "abc"));
  CHECK_FALSE(same_secret("abc", "abd"));
  CHECK_FALSE(same_secret("", ""));
}

TEST_CASE("kannel dlr: ref is the outbox id, %d the state, %A the detail", "[sms][kannel]") {
  const auto c = config();
  struct Case {
    std::string type;
    std::string answer;
    DeliveryState state;
    std::string detail;
  };
  for (const auto& k : std::vector<Case>{
           {"1", "", DeliveryState::delivered, "type 1"},
           {"2", "id%3A1+stat%3AUNDELIV+err%3A001", DeliveryState::failed, "type 2 id:1 stat:UNDELIV err:001"},
           {"16", "NACK%2F0x0000000b%2FInvalid+Destination+Address", DeliveryState::failed,
            "type 16 NACK/0x0000000b/Invalid Destination Address"},
           {"4", "", DeliveryState::progress, "type 4"},
           {"8", "ACK%2F", DeliveryState::progress, "type 8 ACK/"},
       }) {
    INFO(k.type);
    const auto o =
        parse_dlr(Request{"GET", "/hooks/sms/kannel/dlr?" + good + "&ref=4242&type=" + k.type + "&answer=" + k.answer,
                          {}, {}},
                  c);
    REQUIRE(o.status == 200);
    CHECK(o.body.empty());
    CHECK(o.messages.empty());
    REQUIRE(o.reports.size() == 1);
    CHECK(o.reports[0].outbox_id == 4242);
    CHECK(o.reports[0].remote_id.empty());
    CHECK(o.reports[0].state == k.state);
    CHECK(o.reports[0].detail == k.detail);
  }
  CHECK(parse_dlr(Request{"GET", "/hooks/sms/kannel/dlr?" + good + "&type=1", {}, {}}, c).status == 400);
  CHECK(parse_dlr(Request{"GET", "/hooks/sms/kannel/dlr?" + good + "&ref=OUT42&type=1", {}, {}}, c).status == 400);
  CHECK(parse_dlr(Request{"GET", "/hooks/sms/kannel/dlr?" + good + "&ref=42&type=%d", {}, {}}, c).status == 400);
}
