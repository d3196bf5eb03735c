// The generic gateway's inbound webhook (/hooks/sms/generic): JSON and form
// bodies, GET, configurable fields, the shared secret.
#include "adapters/sms/http/http_gateway.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace relance;
using relance::sms::http::HttpGatewayConfig;

namespace {

HttpGatewayConfig inbound_config() {
  HttpGatewayConfig c;
  c.inbound_secret = "s3cret-for-the-provider";
  return c;
}

sms::Request post(std::string target, std::string body, std::string content_type = "application/json") {
  sms::Request r;
  r.method = "POST";
  r.target = std::move(target);
  if (!content_type.empty()) r.headers.emplace_back("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("http gateway inbound: a JSON body with the default fields", "[sms][http]") {
  auto out = sms::http::parse_inbound(
      post("/hooks/sms/generic?secret=s3cret-for-the-provider",
           R"({"id":"in-981","from":"+33612345678","to":"38100","text":"  Oui, lundi 😀\nZoé ","extra":1})"),
      inbound_config());
  REQUIRE(out.status == 200);
  CHECK(out.body == "ok\n");
  REQUIRE(out.messages.size() == 1);
  const auto& m = out.messages[0];
  CHECK(m.provider_id == "in-981");
  CHECK(m.from == "+33612345678");
  CHECK(m.to == "38100");
  CHECK(m.text == "  Oui, lundi 😀\nZoé ");
}

TEST_CASE("http gateway inbound: nested fields by dotted path or JSON pointer", "[sms][http]") {
  auto c = inbound_config();
  c.inbound_from_field = "message.sender.msisdn";
  c.inbound_text_field = "/message/parts/0/body";
  c.inbound_id_field = "message.id";
  c.inbound_to_field = "";
  const std::string body =
      R"({"message":{"id":1234567890123,"sender":{"msisdn":33612345678},"parts":[{"body":"Bien reçu"}]}})";
  auto out = sms::http::parse_inbound(post("/hooks/sms/generic?secret=s3cret-for-the-provider", body), c);
  REQUIRE(out.status == 200);
  const auto& m = out.messages.at(0);
  CHECK(m.provider_id == "1234567890123");  // numbers by their digits
  CHECK(m.from == "33612345678");
  CHECK(m.text == "Bien reçu");
  CHECK(m.to.empty());

  c.inbound_text_field = "message.parts.0.body";
  CHECK(sms::http::parse_inbound(post("/hooks/sms/generic?secret=s3cret-for-the-provider", body), c)
            .messages.at(0)
            .text == "Bien reçu");
}

TEST_CASE("http gateway inbound: a form body, GET, the secret in a header", "[sms][http]") {
  auto c = inbound_config();
  c.inbound_from_field = "msisdn";
  c.inbound_text_field = "message";
  c.inbound_id_field = "smsId";
  SECTION("form body") {
    auto out = sms::http::parse_inbound(
        post("/hooks/sms/generic?secret=s3cret-for-the-provider",
             "msisdn=%2B33612345678&message=Oui+%C3%A0+demain+%26+merci&smsId=42", "application/x-www-form-urlencoded"),
        c);
    REQUIRE(out.status == 200);
    CHECK(out.messages.at(0).text == "Oui à demain & merci");
    CHECK(out.messages.at(0).from == "+33612345678");
    CHECK(out.messages.at(0).provider_id == "42");
  }
  SECTION("GET with the fields in the query") {
    sms::Request r;
    r.method = "GET";
    r.target = "/hooks/sms/generic?secret=s3cret-for-the-provider&msisdn=0612345678&message=Stop&smsId=43";
    auto out = sms::http::parse_inbound(r, c);
    REQUIRE(out.status == 200);
    CHECK(out.messages.at(0).text == "Stop");
    CHECK(out.messages.at(0).from == "0612345678");
  }
  SECTION("X-Relance-Secret, and a JSON body without a Content-Type") {
    auto r = post("/hooks/sms/generic", R"({"msisdn":"+33612345678","message":"ok","smsId":"9"})", "");
    r.headers.emplace_back("x-relance-secret", "s3cret-for-the-provider");
    auto out = sms::http::parse_inbound(r, c);
    REQUIRE(out.status == 200);
    CHECK(out.messages.at(0).text == "ok");
  }
  SECTION("no id field configured: none needed") {
    c.inbound_id_field.clear();
    auto out = sms::http::parse_inbound(
        post("/hooks/sms/generic?secret=s3cret-for-the-provider", R"({"msisdn":"+33612345678","message":""})"), c);
    REQUIRE(out.status == 200);
    CHECK(out.messages.at(0).provider_id.empty());
    CHECK(out.messages.at(0).text.empty());  // an empty SMS is still a message
  }
}

TEST_CASE("http gateway inbound: refusals", "[sms][http]") {
  const auto c = inbound_config();
  const std::string good = R"({"id":"1","from":"+33612345678","text":"x"})";
  SECTION("secret") {
    auto none = sms::http::parse_inbound(post("/hooks/sms/generic", good), c);
    CHECK(none.status == 403);
    CHECK(none.messages.empty());
    CHECK(sms::http::parse_inbound(post("/hooks/sms/generic?secret=s3cret-for-the-provideR", good), c).status == 403);
    CHECK(sms::http::parse_inbound(post("/hooks/sms/generic?secret=s3cret", good), c).status == 403);
    auto wrong = sms::http::parse_inbound(post("/hooks/sms/generic?secret=guess", good), c);
    CHECK(wrong.error.find("s3cret") == std::string::npos);  // never the secret in the log
    auto unset = inbound_config();
    unset.inbound_secret.clear();
    CHECK(sms::http::parse_inbound(post("/hooks/sms/generic?secret=", good), unset).status == 403);
    CHECK(sms::http::parse_inbound(post("/hooks/sms/generic?secret=x", good), unset).status == 403);
  }
  SECTION("missing fields, bad JSON") {
    const std::string t = "/hooks/sms/generic?secret=s3cret-for-the-provider";
    auto no_from = sms::http::parse_inbound(post(t, R"({"id":"1","text":"x"})"), c);
    CHECK(no_from.status == 400);
    CHECK(no_from.error.find("from") != std::string::npos);
    CHECK(sms::http::parse_inbound(post(t, R"({"id":"1","from":"+33612345678"})"), c).status == 400);
    CHECK(sms::http::parse_inbound(post(t, R"({"from":"+33612345678","text":"x"})"), c).status == 400);
    CHECK(sms::http::parse_inbound(post(t, R"({"id":"1","from":{"a":1},"text":"x"})"), c).status == 400);
    CHECK(sms::http::parse_inbound(post(t, R"({"id":"1","from":"+3361)"), c).status == 400);
    CHECK(sms::http::parse_inbound(post(t, "from=%2B336&text=x", "application/x-www-form-urlencoded"), c).status ==
          400);  // no id
    auto put = post(t, good);
    put.method = "PUT";
    CHECK(sms::http::parse_inbound(put, c).status == 405);
  }
}

TEST_CASE("http gateway inbound: garbage is refused without throwing", "[sms][http]") {
  auto c = inbound_config();
  std::mt19937 rng(20261124);
  const std::string alphabet = "{}[]\":,.0123456789eE+-/\\ntrufalsidfromtext=&%\xc3\xa9\xff ";
  auto garbage = [&](std::size_t max) {
    std::string s(rng() % max, ' ');
    for (auto& ch : s) ch = alphabet[rng() % alphabet.size()];
    return s;
  };
  const std::vector<std::string> paths{"from", "/from", "a.0.b", "/a/0/b", "a.99999999999999999999", "/a/99999999999999999999",
                                       "/a/x", "a..b", ".", "/"};
  for (int i = 0; i < 3000; ++i) {
    c.inbound_from_field = paths[rng() % paths.size()];
    c.inbound_text_field = paths[rng() % paths.size()];
    c.inbound_id_field = paths[rng() % paths.size()];
    auto r = post("/hooks/sms/generic?secret=s3cret-for-the-provider&" + garbage(20), garbage(120),
                  i % 3 == 0 ? "application/x-www-form-urlencoded" : i % 3 == 1 ? "application/json" : "");
    if (i % 5 == 0) r.method = "GET";
    sms::HookOutcome out;
    REQUIRE_NOTHROW(out = sms::http::parse_inbound(r, c));
    CHECK((out.status == 200 || out.status == 400 || out.status == 403));
  }
  // Deep arrays and an index past the end.
  c.inbound_from_field = "a.1";
  c.inbound_text_field = "/a/0";
  c.inbound_id_field = "";
  CHECK(sms::http::parse_inbound(post("/hooks/sms/generic?secret=s3cret-for-the-provider", R"({"a":["x"]})"), c).status ==
        400);
  CHECK(sms::http::parse_inbound(post("/hooks/sms/generic?secret=s3cret-for-the-provider", R"({"a":["x","y"]})"), c)
            .messages.at(0)
            .from == "y");
}
