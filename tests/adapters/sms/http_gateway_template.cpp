// The generic HTTP gateway's templates: each placeholder escaped for where it
// lands, and configs that cannot work refused when the gateway is built.
#include "adapters/sms/http/http_gateway.hpp"

#include "adapters/common/form.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace relance;
using nlohmann::json;
using relance::sms::http::HttpGatewayConfig;

namespace {

const std::string awkward = "Il a dit \"oui\" \\ puis:\nà demain 😀\tfin\x01";

struct Gw {
  explicit Gw(HttpGatewayConfig c) : http(io.get_executor()), gateway(http, std::move(c)) {}
  sms::http::RenderedRequest render(std::string text, std::string to = "+33612345678", std::int64_t id = 42) const {
    return gateway.render(sms::Message{id, std::move(to), std::move(text)});
  }
  boost::asio::io_context io;
  net::HttpClient http;
  sms::http::HttpGateway gateway;
};

HttpGatewayConfig json_config() {
  HttpGatewayConfig c;
  c.url = "https://sms.example.com/v1/send";
  c.body = R"({"to":"{to}","msisdn":"{to_national}","from":"{from}","text":"{text}","ref":{id}})";
  c.from = "CFA LYON";
  return c;
}

std::string header(const sms::http::RenderedRequest& r, std::string_view name) {
  auto v = net::find_header(r.headers, name);
  return v ? std::string(*v) : std::string{};
}

std::string expect_refused(const HttpGatewayConfig& c) {
  try {
    sms::http::validate(c);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("the config was accepted");
  return {};
}

// Shape is fine (check-config passes before the environment is read), but the
// gateway cannot be built without the values.
std::string expect_refused_building(const HttpGatewayConfig& c) {
  CHECK_NOTHROW(sms::http::validate(c));
  boost::asio::io_context io;
  net::HttpClient http(io.get_executor());
  try {
    sms::http::HttpGateway g(http, c);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("the gateway was built");
  return {};
}

}  // namespace

TEST_CASE("http gateway template: JSON string content escaped", "[sms][http]") {
  Gw gw(json_config());
  CHECK(gw.gateway.name() == "http");
  auto r = gw.render(awkward);
  REQUIRE(r.error.empty());
  CHECK(r.method == net::Method::post);
  CHECK(r.url == "https://sms.example.com/v1/send");
  CHECK(header(r, "Content-Type") == "application/json");
  auto j = json::parse(r.body);  // valid JSON
  CHECK(j["text"] == awkward);   // exactly the text, quotes, backslash, controls, accents, emoji
  CHECK(j["to"] == "+33612345678");
  CHECK(j["msisdn"] == "33612345678");
  CHECK(j["from"] == "CFA LYON");
  CHECK(j["ref"] == 42);
  CHECK(r.body.find("\\\"oui\\\"") != std::string::npos);
  CHECK(r.body.find("\\n") != std::string::npos);
  CHECK(r.body.find("\\u0001") != std::string::npos);
  CHECK(r.body.find("😀") != std::string::npos);  // UTF-8 as is
  CHECK(r.body.find("à demain") != std::string::npos);
}

TEST_CASE("http gateway template: form body, URL path and query, raw and XML", "[sms][http]") {
  SECTION("a form body") {
    HttpGatewayConfig c;
    c.url = "https://sms.example.com/send";
    c.content_type = "application/x-www-form-urlencoded";
    c.body = "to={to}&from={from}&message={text}&ref={id}";
    c.from = "+33700000000";
    Gw gw(c);
    const std::string text = "a&b=c+d %20 é?";
    auto r = gw.render(text);
    CHECK(header(r, "Content-Type") == "application/x-www-form-urlencoded");
    auto f = net::form_decode(r.body);
    REQUIRE(f.size() == 4);
    CHECK(f[0].second == "+33612345678");
    CHECK(f[1].second == "+33700000000");
    CHECK(f[2].second == text);
    CHECK(f[3].second == "42");
    CHECK(r.body.starts_with("to=%2B33612345678&"));
  }
  SECTION("the URL: percent-encoded in the path, form-encoded in the query") {
    HttpGatewayConfig c;
    c.method = "get";
    c.url = "https://sms.example.com/send/{to}/x?to={to_00}&text={text}&sig={secret}";
    c.secret = "p@ss w&rd";
    Gw gw(c);
    auto r = gw.render("Salut à toi & co");
    CHECK(r.method == net::Method::get);
    CHECK(r.body.empty());
    CHECK(header(r, "Content-Type").empty());
    CHECK(r.url == "https://sms.example.com/send/%2B33612345678/x?to=0033612345678&text=Salut+%C3%A0+toi+%26+co&sig=p%40ss+w%26rd");
  }
  SECTION("text/plain is raw") {
    HttpGatewayConfig c;
    c.url = "http://relay.local/sms?to={to}";
    c.content_type = "text/plain; charset=utf-8";
    c.body = "{text}";
    Gw gw(c);
    auto r = gw.render(awkward);
    CHECK(r.body == awkward);
    CHECK(header(r, "Content-Type") == "text/plain; charset=utf-8");
  }
  SECTION("XML is escaped") {
    HttpGatewayConfig c;
    c.url = "http://relay.local/sms";
    c.content_type = "application/xml";
    c.body = "<sms to=\"{to}\"><text>{text}</text></sms>";
    Gw gw(c);
    CHECK(gw.render("1 < 2 & \"3\" > 'x'").body ==
          "<sms to=\"+33612345678\"><text>1 &lt; 2 &amp; &quot;3&quot; &gt; &apos;x&apos;</text></sms>");
  }
  SECTION("headers, and a configured Content-Type wins") {
    HttpGatewayConfig c = json_config();
    c.headers = {{"X-Api-Key", "{secret}"}, {"content-type", "application/json; charset=utf-8"}, {"X-Ref", "relance-{id}"}};
    c.secret = "k3y";
    Gw gw(c);
    auto r = gw.render("x");
    CHECK(header(r, "X-Api-Key") == "k3y");
    CHECK(header(r, "X-Ref") == "relance-42");
    CHECK(header(r, "Content-Type") == "application/json; charset=utf-8");
    CHECK(std::count_if(r.headers.begin(), r.headers.end(), [](const net::Header& h) {
            return h.name == "Content-Type" || h.name == "content-type";
          }) == 1);
  }
  SECTION("a line break cannot reach a header") {
    HttpGatewayConfig c = json_config();
    c.headers = {{"X-Text", "{text}"}};
    Gw gw(c);
    auto r = gw.render("a\r\nX-Evil: 1");
    CHECK_FALSE(r.error.empty());
    auto ok = gw.render("plain");
    CHECK(ok.error.empty());
  }
}

TEST_CASE("http gateway template: auth", "[sms][http]") {
  HttpGatewayConfig c = json_config();
  c.auth = "bearer";
  c.secret = "tok";
  CHECK(header(Gw(c).render("x"), "Authorization") == "Bearer tok");
  c.auth = "basic";
  c.username = "Aladdin";
  c.secret = "open sesame";
  CHECK(header(Gw(c).render("x"), "Authorization") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  c.auth = "";
  CHECK(header(Gw(c).render("x"), "Authorization").empty());
}

TEST_CASE("http gateway template: configs that cannot work are refused, naming why", "[sms][http]") {
  auto c = json_config();
  CHECK_NOTHROW(sms::http::validate(c));

  SECTION("an unknown placeholder, wherever it is") {
    auto b = c;
    b.body = R"({"to":"{phone}","text":"{text}"})";
    auto why = expect_refused(b);
    CHECK(why.find("{phone}") != std::string::npos);
    CHECK(why.find("body") != std::string::npos);
    auto u = c;
    u.url = "https://sms.example.com/{account}/send";
    CHECK(expect_refused(u).find("{account} in url") != std::string::npos);
    auto h = c;
    h.headers = {{"Authorization", "Key {apikey}"}};
    CHECK(expect_refused(h).find("{apikey} in header Authorization") != std::string::npos);
    boost::asio::io_context io;
    net::HttpClient http(io.get_executor());
    CHECK_THROWS_AS(sms::http::HttpGateway(http, b), std::invalid_argument);
  }
  SECTION("a placeholder outside its quotes in a JSON body") {
    auto b = c;
    b.body = R"({"to":"{to}","text":{text}})";
    CHECK(expect_refused(b).find("not JSON") != std::string::npos);
  }
  SECTION("literal braces are fine") {
    auto b = c;
    b.body = R"({"messages":[{"to":"{to}","text":"{text}","meta":{}}],"x":"{ not a placeholder }"})";
    CHECK_NOTHROW(sms::http::validate(b));
  }
  SECTION("method, auth, url") {
    auto m = c;
    m.method = "DELETE";
    CHECK(expect_refused(m).find("method") != std::string::npos);
    auto g = c;
    g.method = "GET";
    CHECK(expect_refused(g).find("GET") != std::string::npos);
    auto a = c;
    a.auth = "digest";
    CHECK(expect_refused(a).find("digest") != std::string::npos);
    auto b = c;
    b.auth = "bearer";
    CHECK(expect_refused_building(b).find("secret") != std::string::npos);
    b.auth = "basic";
    b.secret = "s";
    CHECK(expect_refused_building(b).find("username") != std::string::npos);
    auto u = c;
    u.url = "sms.example.com/send";
    CHECK(expect_refused(u).find("url") != std::string::npos);
  }
  SECTION("a value the template needs is missing") {
    auto s = c;
    s.headers = {{"api-key", "{secret}"}};
    CHECK(expect_refused_building(s).find("{secret}") != std::string::npos);
    auto f = c;
    f.from.clear();
    CHECK(expect_refused_building(f).find("{from}") != std::string::npos);
    auto u = c;
    u.url += "?user={username}";
    CHECK(expect_refused_building(u).find("{username}") != std::string::npos);
    auto t = c;
    t.body = R"({"to":"{to}"})";
    CHECK(expect_refused(t).find("{text}") != std::string::npos);
    auto r = c;
    r.body = R"({"text":"{text}"})";
    CHECK(expect_refused(r).find("recipient") != std::string::npos);
  }
  SECTION("bad JSON pointers, success without values") {
    auto p = c;
    p.id_pointer = "messageId";
    CHECK(expect_refused(p).find("id_pointer") != std::string::npos);
    auto s = c;
    s.success_pointer = "/status";
    CHECK(expect_refused(s).find("success_values") != std::string::npos);
  }
}
