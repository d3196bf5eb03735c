// The generic HTTP gateway against providers played by FakeHttpServer: a
// Brevo-like JSON API and OVH's http2sms GET interface (the two examples of
// http_gateway.hpp), then every kind of answer.
#include "adapters/sms/http/http_gateway.hpp"

#include "adapters/common/form.hpp"
#include "tests/support/fake_http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>

using namespace relance;
using namespace std::chrono_literals;
using nlohmann::json;
using relance::sms::http::HttpGatewayConfig;
using Status = relance::sms::SendResult::Status;

namespace {

struct Rig {
  explicit Rig(HttpGatewayConfig c) : http(io.get_executor()), gateway(http, std::move(c)) {}
  sms::SendResult send(std::string to, std::string text, std::int64_t id = 7) {
    return test::run_awaitable(io, gateway.send(sms::Message{id, std::move(to), std::move(text)}), 10s);
  }
  boost::asio::io_context io;
  net::HttpClient http;
  sms::http::HttpGateway gateway;
};

test::FakeResponse answer(int status, std::string body, test::FakeHeaders headers = {}) {
  test::FakeResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

// The header comment's Brevo example, pointed at `base`.
HttpGatewayConfig brevo(const std::string& base) {
  HttpGatewayConfig c;
  c.url = base + "/v3/transactionalSMS/sms";
  c.headers = {{"api-key", "{secret}"}, {"accept", "application/json"}};
  c.body = R"({"sender":"{from}","recipient":"{to_national}","content":"{text}","type":"transactional","tag":"relance","unicodeEnabled":true})";
  c.from = "ORGANISME";
  c.secret = "xkeysib-0123456789";
  c.id_pointer = "/messageId";
  return c;
}

// A Brevo-like server: api-key checked, JSON validated, 201 with a numeric messageId.
test::FakeResponse brevo_handler(const test::FakeRequest& r) {
  if (r.header("api-key") != "xkeysib-0123456789")
    return answer(401, R"({"code":"unauthorized","message":"Key not found"})");
  if (r.method != "POST" || r.path != "/v3/transactionalSMS/sms") return answer(404, R"({"code":"not_found"})");
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("recipient") || !j.contains("content"))
    return answer(400, R"({"code":"invalid_parameter","message":"bad body"})");
  const std::string recipient = j["recipient"];
  if (recipient.empty() || recipient[0] == '+')
    return answer(400, R"({"code":"invalid_parameter","message":"Invalid phone number"})");
  return answer(201, R"({"reference":"ab1cde2fgh3i4jklmno","messageId":1511882900176220,"smsCount":1,"usedCredits":0.7,"remainingCredits":82.85})");
}

}  // namespace

TEST_CASE("http gateway: a Brevo-like JSON API", "[sms][http]") {
  test::FakeHttpServer server(brevo_handler);
  Rig rig(brevo(server.url()));
  const std::string text = "Bonjour Zoé, « votre formation » vous attend.\nRépondez \"OUI\" 😀";
  auto r = rig.send("+33612345678", text);
  REQUIRE(r.status == Status::sent);
  CHECK(r.error.empty());
  CHECK(r.remote_id == "1511882900176220");
  auto req = server.requests().back();
  CHECK(req.header("Content-Type") == "application/json");
  CHECK(req.header("accept") == "application/json");
  auto j = json::parse(req.body);
  CHECK(j["content"] == text);
  CHECK(j["recipient"] == "33612345678");
  CHECK(j["sender"] == "ORGANISME");
  CHECK(j["type"] == "transactional");
  CHECK(j["unicodeEnabled"] == true);

  SECTION("a wrong key fails, with the provider's words") {
    auto c = brevo(server.url());
    c.secret = "wrong";
    Rig bad(c);
    auto f = bad.send("+33612345678", "x");
    CHECK(f.status == Status::failed);
    CHECK(f.error == R"(HTTP 401: {"code":"unauthorized","message":"Key not found"})");
  }
}

TEST_CASE("http gateway: OVH http2sms (GET, errors inside a 200)", "[sms][http]") {
  std::atomic<int> next_status{100};
  test::FakeHttpServer server([&](const test::FakeRequest& r) {
    auto q = net::form_decode(r.query);
    auto get = [&](std::string_view n) {
      auto* v = net::form_find(q, n);
      return v ? *v : std::string{};
    };
    if (r.method != "GET" || r.path != "/cgi-bin/sms/http2sms.cgi" || get("password") != "s3cr&t")
      return answer(200, R"({"status":401,"message":"Authentication failed"})");
    if (get("to") != "0033612345678" || get("message").empty())
      return answer(200, R"({"status":201,"message":"Missing message"})");
    const int s = next_status.load();
    if (s >= 200) return answer(200, R"({"status":)" + std::to_string(s) + R"(,"message":"Receiver not found"})");
    return answer(200, R"({"status":)" + std::to_string(s) + R"(,"creditLeft":"1987","SmsIds":["10867690"]})");
  });
  HttpGatewayConfig c;
  c.method = "GET";
  c.url = server.url() + "/cgi-bin/sms/http2sms.cgi?account=sms-ab12345-1&login=relance&password={secret}"
                         "&from={from}&to={to_00}&message={text}&contentType=text%2Fjson&noStop=1&smsCoding=2&tag=relance";
  c.body = "";
  c.from = "ORGANISME";
  c.secret = "s3cr&t";
  c.id_pointer = "/SmsIds/0";
  c.success_pointer = "/status";
  c.success_values = {"100", "101"};
  Rig rig(c);

  const std::string text = "Réponse attendue : 100% & plus ?";
  auto r = rig.send("+33612345678", text);
  REQUIRE(r.status == Status::sent);
  CHECK(r.remote_id == "10867690");
  auto q = net::form_decode(server.requests().back().query);
  CHECK(*net::form_find(q, "message") == text);
  CHECK(*net::form_find(q, "from") == "ORGANISME");
  CHECK(server.requests().back().body.empty());

  next_status = 101;
  CHECK(rig.send("+33612345678", "x").status == Status::sent);
  next_status = 241;
  auto refused = rig.send("+33612345678", "x");
  CHECK(refused.status == Status::failed);
  CHECK(refused.error == R"(HTTP 200: {"status":241,"message":"Receiver not found"})");
}

TEST_CASE("http gateway: answers mapped to sent, retry, failed", "[sms][http]") {
  std::atomic<int> mode{0};
  test::FakeHttpServer server([&](const test::FakeRequest&) {
    switch (mode.load()) {
      case 0: return answer(429, "slow down", {{"Retry-After", "7"}});
      case 1: return answer(503, "<html>maintenance</html>");
      case 2: return answer(400, std::string(1000, 'e') + "é");
      case 3: return answer(200, R"({"other":"shape"})");
      case 4: return answer(202, "");
      default: {
        test::FakeResponse d;
        d.drop = true;
        return d;
      }
    }
  });
  auto c = brevo(server.url());
  Rig rig(c);

  auto limited = rig.send("+33612345678", "x");
  CHECK(limited.status == Status::retry);
  REQUIRE(limited.retry_after.has_value());
  CHECK(*limited.retry_after == 7s);
  CHECK(limited.error == "HTTP 429: slow down");

  mode = 1;
  auto down = rig.send("+33612345678", "x");
  CHECK(down.status == Status::retry);
  CHECK_FALSE(down.retry_after.has_value());
  CHECK(down.error == "HTTP 503: <html>maintenance</html>");

  mode = 2;
  auto bad = rig.send("+33612345678", "x");
  CHECK(bad.status == Status::failed);
  CHECK(bad.error.starts_with("HTTP 400: eeee"));
  CHECK(bad.error.size() <= 310);  // an excerpt of the body, not all of it

  mode = 3;
  auto no_id = rig.send("+33612345678", "x");
  CHECK(no_id.status == Status::sent);  // taken: a retry would send it twice
  CHECK(no_id.remote_id.empty());
  CHECK(no_id.error.find("/messageId") != std::string::npos);

  mode = 4;
  c.id_pointer.clear();
  Rig plain(c);
  auto accepted = plain.send("+33612345678", "x");
  CHECK(accepted.status == Status::sent);
  CHECK(accepted.error.empty());

  mode = 5;
  CHECK(rig.send("+33612345678", "x").status == Status::retry);
}

TEST_CASE("http gateway: nobody listening is retried", "[sms][http]") {
  std::string dead;
  {
    test::FakeHttpServer gone([](const test::FakeRequest&) { return test::FakeResponse{}; });
    dead = gone.url();
  }
  Rig rig(brevo(dead));
  auto r = rig.send("+33612345678", "x");
  CHECK(r.status == Status::retry);
  CHECK(r.error.starts_with("connect"));
}
