// Twilio's webhooks as relance receives them (behind a reverse proxy): inbound
// messages and status callbacks, signed by the fake from the public URL.
#include "adapters/sms/twilio/twilio.hpp"
#include "tests/support/fake_twilio.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace relance;
using relance::sms::DeliveryState;
using relance::test::FakeTwilio;

namespace {

const std::string public_hook = "https://relance.example.org/hooks/sms/twilio";
const std::string public_status = "https://relance.example.org/hooks/sms/twilio/status";

sms::twilio::TwilioConfig config_of(const FakeTwilio::Options& o) {
  sms::twilio::TwilioConfig c;
  c.account_sid = o.account_sid;
  c.auth_token = o.auth_token;
  c.from = o.numbers.front();
  c.webhook_url = public_hook;
  c.status_callback_url = public_status;
  return c;
}

// What Twilio would send to `target` (local, after the proxy), signed on `signed_as`.
sms::Request signed_post(std::string target, const std::string& signed_as, const net::FormFields& params,
                         const std::string& token) {
  sms::Request r;
  r.method = "POST";
  r.target = std::move(target);
  r.headers = {{"Host", "127.0.0.1:8080"},
               {"Content-Type", "application/x-www-form-urlencoded"},
               {"X-Twilio-Signature", FakeTwilio::signature(signed_as, params, token)}};
  r.body = net::form_encode(params);
  return r;
}

net::FormFields status_params(const std::string& sid, const std::string& status, const std::string& error = {}) {
  net::FormFields p{{"SmsSid", sid},     {"SmsStatus", status},        {"MessageStatus", status},
                    {"To", "+33612345678"}, {"MessageSid", sid},       {"AccountSid", FakeTwilio::Options{}.account_sid},
                    {"From", "+33700000000"}, {"ApiVersion", "2010-04-01"}};
  if (!error.empty()) p.emplace_back("ErrorCode", error);
  return p;
}

}  // namespace

TEST_CASE("twilio inbound: a signed message becomes an Inbound, answered with empty TwiML", "[sms][twilio]") {
  FakeTwilio fake;
  const auto config = config_of(fake.options());
  FakeTwilio::Inbound in;
  in.from = "+33612345678";
  in.body = "  Oui, je reprends lundi 😀\nMerci — Zoé  ";
  auto params = fake.inbound_params(in);
  auto out = sms::twilio::parse_inbound(signed_post("/hooks/sms/twilio", public_hook, params, fake.options().auth_token),
                                        config);
  REQUIRE(out.status == 200);
  CHECK(out.error.empty());
  CHECK(out.content_type == "text/xml");
  CHECK(out.body == R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)");
  REQUIRE(out.messages.size() == 1);
  CHECK(out.reports.empty());
  const auto& m = out.messages[0];
  CHECK(m.provider_id == in.message_sid);
  CHECK(m.provider_id.starts_with("SM"));
  CHECK(m.provider_id.size() == 34);
  CHECK(m.from == "+33612345678");
  CHECK(m.to == "+33700000000");
  CHECK(m.text == in.body);  // exact, spaces and line break kept
}

TEST_CASE("twilio inbound: STOP and unknown parameters pass, signed like the rest", "[sms][twilio]") {
  FakeTwilio fake;
  const auto config = config_of(fake.options());
  FakeTwilio::Inbound in;
  in.body = "STOP";
  in.extra = {{"OptOutType", "STOP"}, {"MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"},
              {"SomethingNew", "v"}};
  auto params = fake.inbound_params(in);
  auto out = sms::twilio::parse_inbound(signed_post("/hooks/sms/twilio", public_hook, params, fake.options().auth_token),
                                        config);
  REQUIRE(out.status == 200);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].text == "STOP");
}

TEST_CASE("twilio inbound: refusals", "[sms][twilio]") {
  FakeTwilio fake;
  auto config = config_of(fake.options());
  const auto& token = fake.options().auth_token;
  FakeTwilio::Inbound in;
  in.body = "Bonjour";
  const auto params = fake.inbound_params(in);

  SECTION("no signature") {
    auto r = signed_post("/hooks/sms/twilio", public_hook, params, token);
    r.headers.pop_back();
    auto out = sms::twilio::parse_inbound(r, config);
    CHECK(out.status == 403);
    CHECK(out.messages.empty());
    CHECK(out.error.find("X-Twilio-Signature") != std::string::npos);
  }
  SECTION("forged signature") {
    auto r = signed_post("/hooks/sms/twilio", public_hook, params, "not the token");
    CHECK(sms::twilio::parse_inbound(r, config).status == 403);
  }
  SECTION("a body parameter altered after signing") {
    auto r = signed_post("/hooks/sms/twilio", public_hook, params, token);
    auto altered = params;
    for (auto& [k, v] : altered)
      if (k == "Body") v = "Bonjour, mon RIB a changé";
    r.body = net::form_encode(altered);
    CHECK(sms::twilio::parse_inbound(r, config).status == 403);
  }
  SECTION("a parameter added after signing") {
    auto r = signed_post("/hooks/sms/twilio", public_hook, params, token);
    r.body += "&Injected=1";
    CHECK(sms::twilio::parse_inbound(r, config).status == 403);
  }
  SECTION("signed for the local URL, not the public one") {
    auto r = signed_post("/hooks/sms/twilio", "http://127.0.0.1:8080/hooks/sms/twilio", params, token);
    CHECK(sms::twilio::parse_inbound(r, config).status == 403);
  }
  SECTION("signed for another URL") {
    auto r = signed_post("/hooks/sms/twilio", "https://other.example.org/hooks/sms/twilio", params, token);
    CHECK(sms::twilio::parse_inbound(r, config).status == 403);
  }
  SECTION("a query added after signing") {
    auto r = signed_post("/hooks/sms/twilio?x=1", public_hook, params, token);
    CHECK(sms::twilio::parse_inbound(r, config).status == 403);
  }
  SECTION("no webhook_url configured") {
    config.webhook_url.clear();
    auto out = sms::twilio::parse_inbound(signed_post("/hooks/sms/twilio", public_hook, params, token), config);
    CHECK(out.status == 403);
    CHECK(out.error.find("webhook_url") != std::string::npos);
  }
  SECTION("signed with the status URL") {
    CHECK(sms::twilio::parse_inbound(signed_post("/hooks/sms/twilio", public_status, params, token), config).status ==
          403);
  }
  SECTION("signed but without MessageSid or From") {
    net::FormFields p{{"Body", "x"}, {"From", "+33612345678"}};
    CHECK(sms::twilio::parse_inbound(signed_post("/hooks/sms/twilio", public_hook, p, token), config).status == 400);
    net::FormFields q{{"Body", "x"}, {"MessageSid", FakeTwilio::new_sid()}};
    CHECK(sms::twilio::parse_inbound(signed_post("/hooks/sms/twilio", public_hook, q, token), config).status == 400);
  }
  SECTION("another method") {
    auto r = signed_post("/hooks/sms/twilio", public_hook, params, token);
    r.method = "PUT";
    CHECK(sms::twilio::parse_inbound(r, config).status == 405);
  }
}

TEST_CASE("twilio inbound: a webhook URL with a query, and GET", "[sms][twilio]") {
  FakeTwilio fake;
  auto config = config_of(fake.options());
  const auto& token = fake.options().auth_token;
  FakeTwilio::Inbound in;
  in.body = "Réponse & co = 100%";
  auto params = fake.inbound_params(in);

  SECTION("POST to a URL with a query") {
    config.webhook_url = public_hook + "?org=cfa-lyon";
    auto r = signed_post("/hooks/sms/twilio?org=cfa-lyon", config.webhook_url, params, token);
    auto out = sms::twilio::parse_inbound(r, config);
    REQUIRE(out.status == 200);
    CHECK(out.messages.at(0).text == in.body);
  }
  SECTION("GET: the parameters are in the signed URL") {
    const auto query = net::form_encode(params);
    sms::Request r;
    r.method = "GET";
    r.target = "/hooks/sms/twilio?" + query;
    r.headers = {{"X-Twilio-Signature", FakeTwilio::signature(public_hook + "?" + query, {}, token)}};
    auto out = sms::twilio::parse_inbound(r, config);
    REQUIRE(out.status == 200);
    CHECK(out.messages.at(0).text == in.body);
    CHECK(out.messages.at(0).provider_id == in.message_sid);
    r.target += "&Body=autre";
    CHECK(sms::twilio::parse_inbound(r, config).status == 403);
  }
}

TEST_CASE("twilio inbound: during a token rotation both tokens are accepted", "[sms][twilio]") {
  FakeTwilio fake;
  auto config = config_of(fake.options());
  config.auth_token = "the-new-token";
  config.previous_auth_tokens = {fake.options().auth_token};
  FakeTwilio::Inbound in;
  in.body = "ok";
  const auto params = fake.inbound_params(in);
  CHECK(sms::twilio::parse_inbound(signed_post("/hooks/sms/twilio", public_hook, params, fake.options().auth_token),
                                   config).status == 200);
  CHECK(sms::twilio::parse_inbound(signed_post("/hooks/sms/twilio", public_hook, params, "the-new-token"), config)
            .status == 200);
  CHECK(sms::twilio::parse_inbound(signed_post("/hooks/sms/twilio", public_hook, params, "a-third-token"), config)
            .status == 403);
}

TEST_CASE("twilio status callbacks map to delivery reports", "[sms][twilio]") {
  FakeTwilio fake;
  const auto config = config_of(fake.options());
  const auto& token = fake.options().auth_token;
  const auto sid = FakeTwilio::new_sid();
  struct Row {
    std::string status, error;
    DeliveryState state;
    std::string detail;
  };
  const std::vector<Row> rows{
      {"delivered", "", DeliveryState::delivered, "delivered"},
      {"undelivered", "30003", DeliveryState::failed, "undelivered 30003"},
      {"failed", "30008", DeliveryState::failed, "failed 30008"},
      {"canceled", "", DeliveryState::failed, "canceled"},
      {"queued", "", DeliveryState::progress, "queued"},
      {"sending", "", DeliveryState::progress, "sending"},
      {"sent", "", DeliveryState::progress, "sent"},
      {"accepted", "", DeliveryState::progress, "accepted"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.status);
    auto out = sms::twilio::parse_status(
        signed_post("/hooks/sms/twilio/status", public_status, status_params(sid, row.status, row.error), token), config);
    REQUIRE(out.status == 200);
    CHECK(out.messages.empty());
    REQUIRE(out.reports.size() == 1);
    CHECK(out.reports[0].remote_id == sid);
    CHECK_FALSE(out.reports[0].outbox_id.has_value());
    CHECK(out.reports[0].state == row.state);
    CHECK(out.reports[0].detail == row.detail);
  }
}

TEST_CASE("twilio status callbacks: refusals", "[sms][twilio]") {
  FakeTwilio fake;
  auto config = config_of(fake.options());
  const auto& token = fake.options().auth_token;
  const auto params = status_params(FakeTwilio::new_sid(), "delivered");
  CHECK(sms::twilio::parse_status(signed_post("/hooks/sms/twilio/status", public_hook, params, token), config).status ==
        403);
  CHECK(sms::twilio::parse_status(signed_post("/hooks/sms/twilio/status", public_status, params, "x"), config).status ==
        403);
  auto altered = signed_post("/hooks/sms/twilio/status", public_status, params, token);
  altered.body = net::form_encode(status_params(params[0].second, "failed", "30007"));
  CHECK(sms::twilio::parse_status(altered, config).status == 403);
  net::FormFields no_status{{"MessageSid", FakeTwilio::new_sid()}};
  CHECK(sms::twilio::parse_status(signed_post("/hooks/sms/twilio/status", public_status, no_status, token), config)
            .status == 400);
  config.status_callback_url.clear();
  CHECK(sms::twilio::parse_status(signed_post("/hooks/sms/twilio/status", public_status, params, token), config).status ==
        403);
}

TEST_CASE("twilio hooks: garbage, signed or not, is refused without throwing", "[sms][twilio]") {
  FakeTwilio fake;
  const auto config = config_of(fake.options());
  const auto& token = fake.options().auth_token;
  std::mt19937 rng(20261124);
  const std::string alphabet = "=&%+?/#:;ABCSMsid\xff\xc3\xa9 0123456789abcdef";
  auto garbage = [&](std::size_t max) {
    std::string s(rng() % max, ' ');
    for (auto& c : s) c = alphabet[rng() % alphabet.size()];
    return s;
  };
  for (int i = 0; i < 3000; ++i) {
    sms::Request r;
    r.method = (i % 3 == 0) ? "GET" : "POST";
    r.target = (i % 2 ? "/hooks/sms/twilio?" : "/hooks/sms/twilio/status?") + garbage(40);
    r.body = garbage(200);
    const auto params = r.method == "GET" ? net::FormFields{} : net::form_decode(r.body);
    const auto& url = i % 2 ? public_hook : public_status;
    const auto signed_as = sms::twilio::signed_url(url, r.target);
    if (i % 4 != 0) r.headers.emplace_back("X-Twilio-Signature", FakeTwilio::signature(signed_as, params, token));
    sms::HookOutcome a, b;
    REQUIRE_NOTHROW(a = sms::twilio::parse_inbound(r, config));
    REQUIRE_NOTHROW(b = sms::twilio::parse_status(r, config));
    CHECK((a.status == 200 || a.status == 400 || a.status == 403));
    CHECK((b.status == 200 || b.status == 400 || b.status == 403));
    if (a.status == 200) CHECK(a.messages.size() == 1);
    if (b.status == 200) CHECK(b.reports.size() == 1);
  }
}
