// TwilioGateway against the fake Twilio: the request it makes, and each kind
// of answer mapped to sent / retry / failed. Then the fake's webhooks through
// a reverse-proxy route into the parsers, as the app's scenarios will use them.
#include "adapters/sms/twilio/twilio.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/fake_twilio.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <sstream>

using namespace relance;
using namespace std::chrono_literals;
using relance::test::FakeTwilio;
using Status = relance::sms::SendResult::Status;

namespace {

sms::twilio::TwilioConfig config_for(const FakeTwilio& fake) {
  sms::twilio::TwilioConfig c;
  c.api_url = fake.api_url();
  c.account_sid = fake.options().account_sid;
  c.auth_token = fake.options().auth_token;
  c.from = fake.options().numbers.front();
  c.webhook_url = "https://relance.example.org/hooks/sms/twilio";
  c.status_callback_url = "https://relance.example.org/hooks/sms/twilio/status";
  c.timeout = 5s;
  return c;
}

struct Rig {
  explicit Rig(FakeTwilio& fake) : Rig(fake, config_for(fake)) {}
  Rig(FakeTwilio&, sms::twilio::TwilioConfig c) : http(io.get_executor()), gateway(http, std::move(c)) {}
  sms::SendResult send(std::string to, std::string text, std::int64_t id = 1) {
    return test::run_awaitable(io, gateway.send(sms::Message{id, std::move(to), std::move(text)}), 10s);
  }
  boost::asio::io_context io;
  net::HttpClient http;
  sms::twilio::TwilioGateway gateway;
};

bool hex_sid(const std::string& s) {
  return s.size() == 34 && s.starts_with("SM") &&
         std::all_of(s.begin() + 2, s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

TEST_CASE("twilio send: 201 is sent with the sid, the form and the auth are Twilio's", "[sms][twilio]") {
  FakeTwilio fake;
  Rig rig(fake);
  CHECK(rig.gateway.name() == "twilio");
  const std::string text = "Bonjour Zoé, votre formation « Soudure » vous attend 😀 — à bientôt ! Merci.";
  auto r = rig.send("+33612345678", text, 77);
  REQUIRE(r.status == Status::sent);
  CHECK(r.error.empty());
  CHECK(hex_sid(r.remote_id));
  auto m = fake.message(r.remote_id);
  REQUIRE(m.has_value());
  CHECK(m->body == text);  // UTF-8 through the form encoding, intact
  CHECK(m->to == "+33612345678");
  CHECK(m->from == "+33700000000");
  CHECK(m->status_callback == "https://relance.example.org/hooks/sms/twilio/status");
  CHECK(m->status == "queued");
  CHECK(m->num_segments == 2);  // UCS-2: 67 per part once concatenated

  auto req = fake.requests().back();
  CHECK(req.method == "POST");
  CHECK(req.path == "/2010-04-01/Accounts/" + fake.options().account_sid + "/Messages.json");
  CHECK(req.header("Content-Type") == "application/x-www-form-urlencoded");
  CHECK(req.header("Authorization") ==
        sms::twilio::basic_authorization(fake.options().account_sid, fake.options().auth_token));
  CHECK(req.header("Authorization").starts_with("Basic QUMwMTIzNDU2Nzg5YWJjZGVm"));  // "AC0123456789abcdef"
  const auto form = net::form_decode(req.body);
  REQUIRE(form.size() == 4);
  CHECK(form[0] == std::pair<std::string, std::string>{"To", "+33612345678"});
  CHECK(form[1].first == "From");
  CHECK(form[2] == std::pair<std::string, std::string>{"Body", text});
  CHECK(form[3].first == "StatusCallback");
  CHECK(req.body.find("Body=Bonjour+Zo%C3%A9") != std::string::npos);
}

TEST_CASE("twilio send: through a Messaging Service, without status callbacks", "[sms][twilio]") {
  FakeTwilio fake;
  auto c = config_for(fake);
  c.messaging_service_sid = "MG0123456789abcdef0123456789abcdef";
  c.status_callback_url.clear();
  Rig rig(fake, c);
  auto r = rig.send("+33612345678", "Bonjour");
  REQUIRE(r.status == Status::sent);
  auto m = *fake.message(r.remote_id);
  CHECK(m.messaging_service_sid == c.messaging_service_sid);
  CHECK(m.from.empty());
  CHECK(m.status == "accepted");
  CHECK(m.status_callback.empty());
  const auto form = net::form_decode(fake.requests().back().body);
  CHECK(net::form_find(form, "From") == nullptr);
  CHECK(net::form_find(form, "StatusCallback") == nullptr);
}

TEST_CASE("twilio send: transient answers are retried, Retry-After honoured", "[sms][twilio]") {
  FakeTwilio fake;
  Rig rig(fake);
  SECTION("429 20429") {
    fake.fail_next(429);
    auto r = rig.send("+33612345678", "Bonjour");
    CHECK(r.status == Status::retry);
    REQUIRE(r.retry_after.has_value());
    CHECK(*r.retry_after == 1000ms);
    CHECK(r.error == "HTTP 429: 20429 Too Many Requests");
  }
  SECTION("500 and 503") {
    fake.fail_next(500);
    auto r = rig.send("+33612345678", "Bonjour");
    CHECK(r.status == Status::retry);
    CHECK_FALSE(r.retry_after.has_value());
    CHECK(r.error.starts_with("HTTP 500: 20500"));
    fake.fail_next(503);
    CHECK(rig.send("+33612345678", "Bonjour").status == Status::retry);
  }
  SECTION("the connection dropped") {
    fake.drop_next();
    auto r = rig.send("+33612345678", "Bonjour");
    CHECK(r.status == Status::retry);
    CHECK_FALSE(r.error.empty());
  }
  CHECK(fake.messages().empty());
  // The next attempt goes through.
  auto again = rig.send("+33612345678", "Bonjour");
  CHECK(again.status == Status::sent);
  CHECK(fake.messages().size() == 1);
}

TEST_CASE("twilio send: nobody listening is retried", "[sms][twilio]") {
  std::string dead_url;
  {
    test::FakeHttpServer gone([](const test::FakeRequest&) { return test::FakeResponse{}; });
    dead_url = gone.url();
  }
  FakeTwilio fake;
  auto c = config_for(fake);
  c.api_url = dead_url;
  Rig rig(fake, c);
  auto r = rig.send("+33612345678", "Bonjour");
  CHECK(r.status == Status::retry);
  CHECK(r.error.starts_with("connect"));
}

TEST_CASE("twilio send: permanent refusals fail", "[sms][twilio]") {
  FakeTwilio fake;
  SECTION("an invalid To") {
    Rig rig(fake);
    auto r = rig.send("0612345678", "Bonjour");
    CHECK(r.status == Status::failed);
    CHECK(r.error == "HTTP 400: 21211 The 'To' number 0612345678 is not a valid phone number.");
    CHECK_FALSE(r.recipient_opted_out);
  }
  SECTION("a recipient who replied STOP: 21610, opted out") {
    Rig rig(fake);
    fake.opt_out("+33612345678");
    auto r = rig.send("+33612345678", "Bonjour");
    CHECK(r.status == Status::failed);
    CHECK(r.recipient_opted_out);
    CHECK(r.error == "HTTP 400: 21610 Attempt to send to unsubscribed recipient");
    CHECK(rig.send("+33611111111", "Bonjour").status == Status::sent);
    fake.opt_in("+33612345678");
    CHECK(rig.send("+33612345678", "Bonjour").status == Status::sent);
  }
  SECTION("21610 for the next request") {
    Rig rig(fake);
    fake.fail_next(400, 1, 21610);
    auto r = rig.send("+33612345678", "Bonjour");
    CHECK(r.status == Status::failed);
    CHECK(r.recipient_opted_out);
  }
  SECTION("a wrong auth token: 401 20003") {
    auto c = config_for(fake);
    c.auth_token = "wrong";
    Rig rig(fake, c);
    auto r = rig.send("+33612345678", "Bonjour");
    CHECK(r.status == Status::failed);
    CHECK(r.error == "HTTP 401: 20003 Authenticate");
  }
  SECTION("a From that is not the account's") {
    auto c = config_for(fake);
    c.from = "+33799999999";
    Rig rig(fake, c);
    auto r = rig.send("+33612345678", "Bonjour");
    CHECK(r.status == Status::failed);
    CHECK(r.error.starts_with("HTTP 400: 21606"));
  }
  SECTION("an alphanumeric sender id is accepted") {
    auto c = config_for(fake);
    c.from = "CFA LYON";
    Rig rig(fake, c);
    CHECK(rig.send("+33612345678", "Bonjour").status == Status::sent);
  }
  SECTION("a body over 1600 characters") {
    Rig rig(fake);
    auto r = rig.send("+33612345678", std::string(1601, 'a'));
    CHECK(r.status == Status::failed);
    CHECK(r.error.starts_with("HTTP 400: 21617"));
  }
  CHECK(fake.messages().size() <= 3);
}

TEST_CASE("twilio send: answers mapped without the network", "[sms][twilio]") {
  const auto now = std::chrono::system_clock::now();
  net::HttpResult r;
  r.status = 201;
  r.body = R"({"sid":"SM1f0e8ae6ade43cb3c0ce4525424e404f","num_segments":"1"})";
  auto s = sms::twilio::to_send_result(r, now);
  CHECK(s.status == Status::sent);
  CHECK(s.remote_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f");
  r.body = "not json";
  s = sms::twilio::to_send_result(r, now);
  CHECK(s.status == Status::sent);  // taken: never sent twice
  CHECK(s.remote_id.empty());
  r.status = 429;
  r.body = R"({"code":20429,"message":"Too Many Requests","status":429})";
  r.headers = {{"Retry-After", "30"}};
  s = sms::twilio::to_send_result(r, now);
  CHECK(s.status == Status::retry);
  CHECK(*s.retry_after == 30s);
  r.status = 502;
  r.headers.clear();
  r.body = "<html>Bad Gateway</html>";
  s = sms::twilio::to_send_result(r, now);
  CHECK(s.status == Status::retry);
  CHECK(s.error == "HTTP 502: <html>Bad Gateway</html>");
  r.status = 404;
  r.body = R"({"code":20404,"message":"The requested resource was not found","status":404})";
  s = sms::twilio::to_send_result(r, now);
  CHECK(s.status == Status::failed);
  CHECK(s.error == "HTTP 404: 20404 The requested resource was not found");
}

TEST_CASE("twilio config: problems are named, the gateway refuses them", "[sms][twilio]") {
  sms::twilio::TwilioConfig c;
  auto problems = sms::twilio::config_problems(c);
  CHECK(problems.size() == 3);  // account_sid, auth token, from
  boost::asio::io_context io;
  net::HttpClient http(io.get_executor());
  CHECK_THROWS_AS(sms::twilio::TwilioGateway(http, c), std::invalid_argument);
  c.account_sid = "AC0123456789abcdef0123456789abcdef";
  c.auth_token = "t";
  c.messaging_service_sid = "MG0123456789abcdef0123456789abcdef";
  CHECK(sms::twilio::config_problems(c).empty());
  c.webhook_url = "relance.example.org/hooks/sms/twilio";
  REQUIRE(sms::twilio::config_problems(c).size() == 1);
  CHECK(sms::twilio::config_problems(c)[0].find("webhook_url") != std::string::npos);
  CHECK(sms::twilio::messages_url(c) == "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
  c.api_url = "http://127.0.0.1:9000/";
  CHECK(sms::twilio::messages_url(c) == "http://127.0.0.1:9000/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
}

namespace {

// relance's HTTP server, reduced to the two Twilio routes (the app's does the same).
struct StandIn {
  explicit StandIn(sms::twilio::TwilioConfig c)
      : config(std::move(c)), server([this](const test::FakeRequest& r) { return handle(r); }) {}
  test::FakeResponse handle(const test::FakeRequest& fr) {
    sms::Request r{fr.method, fr.target, fr.headers, fr.body};
    auto out = fr.path == sms::twilio::status_path ? sms::twilio::parse_status(r, config)
                                                     : sms::twilio::parse_inbound(r, config);
    std::lock_guard lock(mutex);
    outcomes.push_back(out);
    test::FakeResponse resp;
    resp.status = out.status;
    resp.content_type = out.content_type;
    resp.body = out.body;
    return resp;
  }
  std::vector<sms::HookOutcome> seen() {
    std::lock_guard lock(mutex);
    return outcomes;
  }
  sms::twilio::TwilioConfig config;
  std::mutex mutex;
  std::vector<sms::HookOutcome> outcomes;
  test::FakeHttpServer server;
};

}  // namespace

TEST_CASE("twilio fake: signed webhooks through the reverse proxy reach the parsers", "[sms][twilio]") {
  FakeTwilio fake;
  StandIn relance_side(config_for(fake));
  fake.route("https://relance.example.org", relance_side.server.url());
  Rig rig(fake);

  auto sent = rig.send("+33612345678", "Bonjour Zoé");
  REQUIRE(sent.status == Status::sent);

  auto delivered = test::run_awaitable(rig.io, fake.async_send_status(rig.io.get_executor(), sent.remote_id, "delivered"));
  REQUIRE(delivered.answer.ok());
  auto undelivered =
      test::run_awaitable(rig.io, fake.async_send_status(rig.io.get_executor(), sent.remote_id, "undelivered", "30003"));
  REQUIRE(undelivered.answer.ok());
  CHECK(fake.message(sent.remote_id)->status == "undelivered");

  FakeTwilio::Inbound in;
  in.body = "Oui je reviens lundi 👍";
  auto inbound = test::run_awaitable(
      rig.io, fake.async_send_inbound(rig.io.get_executor(), "https://relance.example.org/hooks/sms/twilio", in));
  REQUIRE(inbound.answer.ok());
  CHECK(inbound.answer.body == R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)");
  CHECK(inbound.answer.header("Content-Type").value_or("") == "text/xml");

  in.method = "GET";
  in.message_sid.clear();
  auto by_get = test::run_awaitable(
      rig.io, fake.async_send_inbound(rig.io.get_executor(), "https://relance.example.org/hooks/sms/twilio", in));
  REQUIRE(by_get.answer.ok());

  // Twilio configured with another URL than relance's webhook_url: refused.
  auto wrong = test::run_awaitable(
      rig.io, fake.async_send_inbound(rig.io.get_executor(), "https://relance.example.org/hooks/sms/twilio/", in));
  CHECK(wrong.answer.status == 403);

  auto seen = relance_side.seen();
  REQUIRE(seen.size() == 5);
  REQUIRE(seen[0].reports.size() == 1);
  CHECK(seen[0].reports[0].remote_id == sent.remote_id);
  CHECK(seen[0].reports[0].state == sms::DeliveryState::delivered);
  CHECK(seen[1].reports.at(0).state == sms::DeliveryState::failed);
  CHECK(seen[1].reports.at(0).detail == "undelivered 30003");
  REQUIRE(seen[2].messages.size() == 1);
  CHECK(seen[2].messages[0].text == "Oui je reviens lundi 👍");
  CHECK(seen[2].messages[0].provider_id == inbound.sid);
  CHECK(seen[3].messages.at(0).provider_id == by_get.sid);
  CHECK(seen[3].messages.at(0).text == "Oui je reviens lundi 👍");
  CHECK(seen[4].status == 403);
}

TEST_CASE("twilio send: the log line of a refusal hides the number the row keeps", "[sms][twilio][logs]") {
  // issue 16 item 8: personal data stays out of the log unless --log-personal-data.
  FakeTwilio fake;
  Rig rig(fake);
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  auto r = rig.send("0612345678", "Bonjour");
  spdlog::set_default_logger(previous);
  CHECK(r.error == "HTTP 400: 21211 The 'To' number 0612345678 is not a valid phone number.");  // the row, for staff
  const std::string log = captured.str();
  CHECK(log.find("21211") != std::string::npos);
  CHECK(log.find("0612345678") == std::string::npos);
  CHECK(log.find("[perso:") != std::string::npos);
  CHECK(log.find(config_for(fake).auth_token) == std::string::npos);
}
