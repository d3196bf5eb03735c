// SMS to learners through Twilio, end to end as an organisation would check
// it: the real service (scheduler, learner dispatcher, webhooks through the
// grouped-commit writer) against the fake Twilio, whose webhooks reach the
// service through its "reverse proxy" route and are signed on the public URL.
// The clock is the test's: a relaunch ladder over three days, quiet hours
// over a weekend.
#include "channels_harness.hpp"

#include "adapters/sms/twilio/twilio.hpp"
#include "tests/support/fake_twilio.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::test::channels_scn;
using test::FakeTwilio;
using test::utc;
using test::wait_until;

namespace {

const std::string public_base = "https://relance.example.org";
const std::string public_hook = public_base + "/hooks/sms/twilio";
const std::string public_status = public_base + "/hooks/sms/twilio/status";

// Three SMS steps a day apart; a reply (source "message") is a sign of life.
std::string config_text(const FakeTwilio& fake) {
  return R"(
[organisation]
name = "Centre « Forêt & Cœur »"
timezone = "Europe/Paris"
platform_url = "https://formation.example.org/cours"

[http]
listen = "127.0.0.1"
port = 0
api_token = ")" + std::string(api_token) + R"("

[roles]
secretariat = "Secrétariat"

[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]

[[plan]]
id = "sms3"
on_exhausted = "keep_open"
  [[plan.step]]
  action = "message"
  means = "sms"
  role = "secretariat"
  template = "ladder_1"
  [[plan.step]]
  action = "message"
  means = "sms"
  role = "secretariat"
  template = "ladder_2"
  after_days = 1
  [[plan.step]]
  action = "message"
  means = "sms"
  role = "secretariat"
  template = "contact_30d"
  after_days = 1

[[policy]]
id = "001"
cohorts = ["permis-b"]
sources = ["lesson", "message"]
days = 90
plan = "sms3"

[sms]
gateway = "twilio"
max_parts = 10
rate_per_second = 0

[sms.twilio]
api_url = ")" + fake.api_url() + R"("
account_sid = ")" + fake.options().account_sid + R"("
auth_token = ")" + fake.options().auth_token + R"("
from = ")" + fake.options().numbers.front() + R"("
webhook_url = ")" + public_hook + R"("
status_callback_url = ")" + public_status + R"("
)";
}

Learner learner(std::string id, std::string first, std::string phone, Timestamp last_lesson) {
  Learner l;
  l.id = std::move(id);
  l.first_name = std::move(first);
  l.last_name = "Dupré";
  l.phone = std::move(phone);
  l.email = l.id + "@example.org";
  l.cohort = "permis-b";
  l.activity.observe(Source::lesson, last_lesson);
  return l;
}

struct Rig {
  explicit Rig(Timestamp start) : clock(start), f(config_text(fake)) {}
  FakeTwilio fake;
  TestClock clock;
  test::Fixture f;

  // Once the service listens: Twilio's requests to the public URL reach it.
  void route(std::uint16_t port) { fake.route(public_base, "http://127.0.0.1:" + std::to_string(port)); }

  std::vector<FakeTwilio::Message> to(const std::string& number) const {
    std::vector<FakeTwilio::Message> out;
    for (auto& m : fake.messages())
      if (m.to == number) out.push_back(m);
    return out;
  }
  // Send attempts the fake answered (whatever the answer) for a number.
  int attempts_to(const std::string& number) const {
    int n = 0;
    for (const auto& r : fake.requests())
      if (r.path.ends_with("/Messages.json")) {
        const auto form = net::form_decode(r.body);
        if (auto* v = net::form_find(form, "To"); v && *v == number) ++n;
      }
    return n;
  }

  FakeTwilio::WebhookResult inbound(FakeTwilio::Inbound in) {
    return run_co<FakeTwilio::WebhookResult>([&](boost::asio::any_io_executor ex) { return fake.async_send_inbound(ex, public_hook, in); });
  }
  FakeTwilio::WebhookResult status(const std::string& sid, const std::string& st, const std::string& code = {}) {
    return run_co<FakeTwilio::WebhookResult>(
        [&](boost::asio::any_io_executor ex) { return fake.async_send_status(ex, sid, st, code); });
  }
};

const std::string n1 = "+33611000001", n2 = "+33611000002", n3 = "+33611000003", n4 = "+33611000004";

}  // namespace

TEST_CASE("twilio: accents intact, delivered, replies once, forged webhooks refused, STOP/START, 21610, 429 retried",
          "[learner][twilio][scenario]") {
  // Monday 23 November 2026, 10:00 in Paris: inside the contact window.
  Rig rig(utc("2026-11-23T09:00:00Z"));
  const Timestamp t0 = rig.clock();
  add_learners(*rig.f.engine,
               {learner("L1", "Hélène-Françoise", n1, t0 - std::chrono::days(100)),
                learner("L2", "Benoît", n2, t0 - std::chrono::days(100)),
                learner("L3", "Gaëlle", n3, t0 - std::chrono::days(100)),
                learner("L4", "Loïc", n4, t0 - std::chrono::days(100))},
               t0);
  rig.fake.opt_out(n3);  // L3 once replied STOP to Twilio itself: 21610

  std::uint16_t port = 0;
  Service svc(*rig.f.engine, rig.clock);
  port = svc.port();
  rig.route(port);
  View v(rig.f);

  // ----- day 1: the first step reaches three learners; L3's is refused -----
  REQUIRE(wait_until([&] { return rig.fake.messages().size() == 3; }, 20s));
  REQUIRE(wait_until([&] { return v.count("SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND status = 'failed'") == 1; }));

  {  // L1: the accents
    auto rows = v.learner_rows("sms", "L1");
    REQUIRE(rows.size() == 1);
    auto sent = rig.to(n1);
    REQUIRE(sent.size() == 1);
    // Exactly the text the outbox renders, accents and guillemets intact
    // through the form encoding (é ê ç « » œ and the &).
    CHECK(sent[0].body == v.engine.render_learner(rows[0]).sms);
    CHECK_THAT(sent[0].body, Catch::Contains("Hélène-Françoise") && Catch::Contains("« Forêt & Cœur »"));
    CHECK(sent[0].from == rig.fake.options().numbers.front());
    CHECK(sent[0].status_callback == public_status);
    // Basic auth with the account (the fake answers 401 to anything else).
    // base64("AC0123...cdef:f0e1...1e0f"), worked out by hand.
    int sends = 0, basic = 0;
    for (const auto& r : rig.fake.requests())
      if (r.path.ends_with("/Messages.json")) {
        ++sends;
        basic += r.header("Authorization") ==
                 "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpmMGUxZDJjM2I0YTU5Njg3Nzg2OTVhNGIzYzJkMWUwZg==";
      }
    CHECK(sends == 4);
    CHECK(basic == sends);
    auto row = *v.outbox(rows[0].id);
    CHECK(row.status == "sent");
    CHECK(row.provider == "twilio");
    CHECK(row.remote_id == sent[0].sid);
  }
  {  // L3: 21610
    auto rows = v.learner_rows("sms", "L3");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].status == "failed");
    CHECK_THAT(rows[0].last_error, Catch::Contains("21610"));
    CHECK(v.count("SELECT COUNT(*) FROM consent_log c JOIN learner l ON l.key = c.learner_key "
                  "WHERE l.id = 'L3' AND c.action = 'opt_out' AND c.via = 'provider'") == 1);
    CHECK(v.count("SELECT sms_opt_out FROM learner WHERE id = 'L3'") > 0);
    CHECK(v.staff_told("alert.message_failed", "21610"));
    CHECK(rig.attempts_to(n3) == 1);  // a permanent refusal is not retried
  }

  // ----- Twilio reports L1's message delivered -----
  const std::string sid1 = rig.to(n1).at(0).sid;
  const auto l1_row = v.learner_rows("sms", "L1").at(0).id;
  {
    auto st = rig.status(sid1, "delivered");
    INFO(st.answer.error << " " << st.answer.body);
    CHECK(st.answer.status == 200);
    REQUIRE(wait_until([&] { return v.outbox(l1_row)->delivery == "delivered"; }));
    // A late "sent" (callbacks arrive out of order) does not undo it.
    CHECK(rig.status(sid1, "sent").answer.status == 200);
    CHECK(v.outbox(l1_row)->delivery == "delivered");
  }
  // ... and L4's as undelivered (30003: handset off): staff are told.
  {
    const auto l4_row = v.learner_rows("sms", "L4").at(0).id;
    CHECK(rig.status(rig.to(n4).at(0).sid, "undelivered", "30003").answer.status == 200);
    CHECK(v.outbox(l4_row)->delivery == "failed");
    CHECK_THAT(v.outbox(l4_row)->delivery_detail, Catch::Contains("30003"));
    CHECK(v.staff_told("alert.message_undelivered", "Loïc"));
  }

  // ----- L1 answers: stored once, a sign of life, quoted to staff -----
  const std::string reply = "Merci ! Je reprends lundi, c'est « promis » — Hélène";
  {
    FakeTwilio::Inbound in;
    in.from = n1;
    in.body = reply;
    in.message_sid = FakeTwilio::new_sid("SM");
    auto r = rig.inbound(in);
    INFO(r.answer.error << " " << r.answer.body);
    CHECK(r.answer.status == 200);
    CHECK(r.answer.header("Content-Type").value_or("").starts_with("text/xml"));
    REQUIRE(v.count("SELECT COUNT(*) FROM inbound_message") == 1);  // answered once stored
    CHECK(v.text("SELECT body FROM inbound_message") == reply);
    CHECK(v.text("SELECT provider_id FROM inbound_message") == in.message_sid);
    CHECK(v.text("SELECT sender FROM inbound_message") == n1);
    CHECK(v.text("SELECT l.id FROM inbound_message i JOIN learner l ON l.key = i.learner_key") == "L1");
    CHECK(v.text("SELECT c.state FROM learner_case c JOIN learner l ON l.key = c.learner_key WHERE l.id = 'L1'") ==
          "resumed");
    CHECK(v.staff_told("alert.learner_reply", reply));

    // Twilio delivers the same webhook again (its retry after a timeout).
    auto again = rig.inbound(in);
    CHECK(again.answer.status == 200);
    CHECK(v.count("SELECT COUNT(*) FROM inbound_message") == 1);
  }

  // ----- a number nobody has: stored, staff told who wrote -----
  {
    FakeTwilio::Inbound in;
    in.from = "+33799999999";
    in.body = "Bonjour, c'est Zoé, j'ai changé de numéro";
    CHECK(rig.inbound(in).answer.status == 200);
    CHECK(v.count("SELECT COUNT(*) FROM inbound_message WHERE sender = '+33799999999' AND learner_key IS NULL") == 1);
    CHECK(v.staff_told("alert.learner_unknown", "+33799999999"));
    CHECK(v.staff_told("alert.learner_unknown", in.body));
  }

  // ----- forged, altered and unsigned webhooks: 403, nothing stored -----
  {
    FakeTwilio::Inbound in;
    in.from = n4;
    in.body = "Je suis Loïc, arrêtez tout";
    const auto params = rig.fake.inbound_params(in);
    const std::string body = net::form_encode(params);
    auto post = [&](std::optional<std::string> signature, const std::string& b) {
      net::Headers h{{"Content-Type", "application/x-www-form-urlencoded"}};
      if (signature) h.push_back({"X-Twilio-Signature", *signature});
      return http_request(port, net::Method::post, "/hooks/sms/twilio", std::move(h), b).status;
    };
    const auto good = FakeTwilio::signature(public_hook, params, rig.fake.options().auth_token);
    CHECK(post(FakeTwilio::signature(public_hook, params, "not-the-auth-token"), body) == 403);  // forged
    CHECK(post(FakeTwilio::signature("http://127.0.0.1:" + std::to_string(port) + "/hooks/sms/twilio", params,
                                     rig.fake.options().auth_token),
               body) == 403);                                                                 // the local URL signed
    auto altered = params;
    for (auto& [k, val] : altered)
      if (k == "Body") val = "STOP";
    CHECK(post(good, net::form_encode(altered)) == 403);  // the text changed on the way
    CHECK(post(std::nullopt, body) == 403);               // no signature
    CHECK(post(std::string(), body) == 403);              // an empty one
    CHECK(v.count("SELECT COUNT(*) FROM inbound_message") == 2);
    CHECK(v.count("SELECT COUNT(*) FROM consent_log WHERE via = 'reply'") == 0);
    CHECK(v.count("SELECT sms_opt_out FROM learner WHERE id = 'L4'") == 0);
  }

  // ----- L2 texts STOP -----
  {
    FakeTwilio::Inbound in;
    in.from = n2;
    in.body = "STOP";
    CHECK(rig.inbound(in).answer.status == 200);
    CHECK(v.count("SELECT COUNT(*) FROM consent_log c JOIN learner l ON l.key = c.learner_key "
                  "WHERE l.id = 'L2' AND c.action = 'opt_out' AND c.via = 'reply' AND c.message = 'STOP'") == 1);
    CHECK(v.count("SELECT sms_opt_out FROM learner WHERE id = 'L2'") > 0);
    CHECK(v.staff_told("alert.sms_opted_out", "Benoît"));
    // Not a sign of life: L2's case stays open.
    CHECK(v.text("SELECT c.state FROM learner_case c JOIN learner l ON l.key = c.learner_key WHERE l.id = 'L2'") ==
          "open");
  }

  // ----- day 2: the second step; Twilio is busy once (429) -----
  rig.fake.fail_next(429, 1);
  rig.clock.set(utc("2026-11-24T11:00:00Z"));  // Tuesday 12:00 Paris
  REQUIRE(poke_scan(port) == 200);
  std::int64_t l4_day2 = 0;
  REQUIRE(wait_until([&] {
    auto rows = v.learner_rows("sms", "L4");
    if (rows.size() < 2) return false;
    l4_day2 = rows[1].id;
    return rows[1].attempts == 1 && rows[1].status == "pending";
  }, 20s));
  {
    auto row = *v.outbox(l4_day2);
    CHECK_THAT(row.last_error, Catch::Contains("429"));
    CHECK(row.next_attempt >= rig.clock() + std::chrono::seconds(50));  // the backoff's first minute, at least
    CHECK(rig.to(n4).size() == 1);
  }
  // A minute later (and the service looking again), it goes out, once.
  rig.clock.advance(std::chrono::seconds(61));
  REQUIRE(poke_scan(port) == 200);
  REQUIRE(wait_until([&] { return v.outbox(l4_day2)->status == "sent"; }, 20s));
  CHECK(v.outbox(l4_day2)->attempts == 2);
  CHECK(rig.to(n4).size() == 2);
  CHECK(rig.attempts_to(n4) == 3);  // day 1, the 429, the retry
  CHECK(rig.to(n4).back().body == v.engine.render_learner(*v.outbox(l4_day2)).sms);

  // L2 opted out: no SMS on day 2, staff asked to reach them another way.
  CHECK(rig.to(n2).size() == 1);
  CHECK(rig.attempts_to(n2) == 1);
  CHECK(v.count("SELECT COUNT(*) FROM outbox o JOIN learner l ON l.key = o.learner_key "
                "WHERE o.channel = 'sms' AND l.id = 'L2' AND o.status IN ('pending', 'sent')") == 1);
  CHECK(v.staff_told("alert.step_unreachable", "Benoît"));
  // Nor to L3, opted out by the provider.
  CHECK(rig.attempts_to(n3) == 1);

  // ----- L2 texts START; day 3: the third step reaches them again -----
  {
    FakeTwilio::Inbound in;
    in.from = n2;
    in.body = "START";
    CHECK(rig.inbound(in).answer.status == 200);
    CHECK(v.count("SELECT sms_opt_out FROM learner WHERE id = 'L2'") == 0);
    CHECK(v.count("SELECT COUNT(*) FROM consent_log c JOIN learner l ON l.key = c.learner_key "
                  "WHERE l.id = 'L2' AND c.action = 'opt_in' AND c.via = 'reply'") == 1);
    CHECK(v.staff_told("alert.sms_opted_in", "Benoît"));
  }
  rig.clock.set(utc("2026-11-25T13:00:00Z"));  // Wednesday 14:00 Paris
  REQUIRE(poke_scan(port) == 200);
  REQUIRE(wait_until([&] { return rig.to(n2).size() == 2; }, 20s));
  CHECK_THAT(rig.to(n2).back().body, Catch::Contains("Benoît"));
  REQUIRE(wait_until([&] { return rig.to(n4).size() == 3; }, 20s));
  // L1 resumed on day 1: nothing more for them.
  CHECK(rig.to(n1).size() == 1);
  CHECK(svc.running());
}

TEST_CASE("twilio: an SMS due on Saturday night waits for Monday 08:00 and then goes out", "[learner][twilio][quiet][scenario]") {
  // Saturday 28 November 2026, 21:00 in Paris (20:00 UTC): quiet hours, then
  // Sunday (closed). Monday 30 November is not a holiday: 08:00 = 07:00 UTC.
  Rig rig(utc("2026-11-28T20:00:00Z"));
  const Timestamp t0 = rig.clock();
  add_learners(*rig.f.engine, {learner("L1", "Zoé", n1, t0 - std::chrono::days(100))}, t0);
  Service svc(*rig.f.engine, rig.clock);
  rig.route(svc.port());
  View v(rig.f);

  // The case opens at once (staff are told on Saturday night) ...
  REQUIRE(wait_until([&] { return v.learner_rows("sms", "L1").size() == 1; }, 20s));
  REQUIRE(wait_until([&] { return v.staff_told("alert.opened", "Zoé"); }));
  const auto row = v.learner_rows("sms", "L1")[0];
  CHECK(row.not_before == utc("2026-11-30T07:00:00Z"));
  // ... but the learner gets nothing tonight.
  CHECK_FALSE(wait_until([&] { return !rig.fake.messages().empty(); }, 1500ms));
  CHECK(v.outbox(row.id)->status == "pending");

  // Monday 08:00: the service looks again and sends it.
  rig.clock.set(utc("2026-11-30T07:00:00Z"));
  REQUIRE(poke_scan(svc.port()) == 200);
  REQUIRE(wait_until([&] { return v.outbox(row.id)->status == "sent"; }, 20s));
  const auto sent = *v.outbox(row.id);
  CHECK(*sent.sent_at >= utc("2026-11-30T07:00:00Z"));
  const auto msg = rig.fake.message(sent.remote_id);
  REQUIRE(msg);
  CHECK(msg->to == n1);
  CHECK(msg->body == v.engine.render_learner(sent).sms);
  CHECK_THAT(msg->body, Catch::Contains("Zoé"));
}

// The plan's second step comes `after_days` after the first *message*: a
// case opened on Saturday night whose first SMS waited for Monday 08:00 must
// not get its "one day later" SMS on Monday 08:00 too, seconds after the
// first (run_step counts the next delay from the instant the message may go
// out, not from the scan that planned it).
TEST_CASE("twilio: the step after a message held over the weekend counts from when it went out",
          "[learner][twilio][quiet][scenario]") {
  Rig rig(utc("2026-11-28T20:00:00Z"));  // Saturday 21:00 Paris
  const Timestamp t0 = rig.clock();
  add_learners(*rig.f.engine, {learner("L1", "Zoé", n1, t0 - std::chrono::days(100))}, t0);
  Service svc(*rig.f.engine, rig.clock);
  rig.route(svc.port());
  View v(rig.f);
  REQUIRE(wait_until([&] { return v.learner_rows("sms", "L1").size() == 1; }, 20s));

  rig.clock.set(utc("2026-11-30T07:00:00Z"));  // Monday 08:00
  REQUIRE(poke_scan(svc.port()) == 200);
  REQUIRE(wait_until([&] { return v.learner_rows("sms", "L1").at(0).status == "sent"; }, 20s));
  // The scan that sent it has run: the second step, if planned now, is in the outbox.
  const auto rows = v.learner_rows("sms", "L1");
  for (std::size_t i = 1; i < rows.size(); ++i) {
    INFO("step row " << rows[i].template_key << " due " << format_local(rows[i].not_before, *rig.f.zone));
    CHECK(rows[i].not_before >= utc("2026-12-01T07:00:00Z"));  // Tuesday 08:00 at the earliest
  }
  CHECK(rig.to(n1).size() == 1);
  CHECK_FALSE(wait_until([&] { return rig.to(n1).size() > 1; }, 1500ms));
}
