// The engine's learner channels on a real SQLite file: replies stored once,
// signs of life, STOP/START in the consent log, staff told in the case's
// thread with the learner's text escaped; delivery reports; the dispatcher's
// quiet hours (weekend, public holiday), opt-out and parts limit at send time.
#include "test_support.hpp"

#include "messages/render/staff.hpp"
#include "bot/app/inbound.hpp"
#include "bot/app/learner_dispatch.hpp"
#include "store/repositories.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace relance;
using relance::test::utc;

namespace {

// Its plans message learners: SMS and email are configured (nothing is
// sent: no dispatcher runs here), else their steps would be staff tasks.
const std::string config_toml = std::string(R"(
[organisation]
name = "Organisme test"
timezone = "Europe/Paris"
platform_url = "https://lms.test"

[roles]
secretariat = "Secrétariat"

[[staff]]
id = "marie"
name = "Marie"
roles = ["secretariat"]

[[plan]]
id = "ladder"
on_exhausted = "keep_open"
  [[plan.step]]
  action = "message"
  means = "sms"
  role = "secretariat"
  template = "ladder_1"
  [[plan.step]]
  action = "message"
  means = "email"
  role = "secretariat"
  template = "ladder_2"
  after_days = 7

[[policy]]
id = "001"
cohorts = ["permis-b"]
sources = ["lesson", "lms", "message"]
days = 90
plan = "ladder"
)") + std::string(test::learner_channels_toml);

Learner learner(std::string id, std::string phone, Timestamp last_lesson) {
  Learner l;
  l.id = std::move(id);
  l.first_name = "Élodie";
  l.last_name = "Test";
  l.phone = std::move(phone);
  l.email = "elodie@example.org";
  l.cohort = "permis-b";
  l.activity.observe(Source::lesson, last_lesson);
  return l;
}

std::int64_t add(test::Fixture& f, Learner l, Timestamp now) {
  store::WriteTransaction tx(*f.db);
  f.engine->upsert_learner(l, now);
  tx.commit();
  return l.key;
}

int count(test::Fixture& f, const std::string& sql) { return f.db->sql().execAndGet(sql).getInt(); }

app::Received receive(test::Fixture& f, std::string id, std::string from, std::string text, Timestamp now) {
  store::WriteTransaction tx(*f.db);
  app::IncomingMessage m{"sms", "kannel", std::move(id), std::move(from), std::move(text), std::nullopt, std::nullopt, false};
  const auto r = f.engine->receive_message(m, now);
  tx.commit();
  return r;
}

// The staff posts (console channel) rendered, in order.
std::vector<std::string> staff_posts(test::Fixture& f) {
  store::OutboxRepo outbox(*f.db);
  std::vector<std::string> out;
  for (const auto& item : outbox.pending("staff")) out.push_back(f.engine->render_outbox(item));
  return out;
}

}  // namespace

TEST_CASE("a learner's SMS reply is stored once, counts as a sign of life and is shown to staff escaped", "[learner][inbound]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  const auto key = add(f, learner("L1", "+33612345678", now - std::chrono::days(91)), now);
  f.engine->scan(now);
  REQUIRE(count(f, "SELECT COUNT(*) FROM learner_case WHERE state = 'open'") == 1);
  const auto before = staff_posts(f).size();

  const std::string text = "@all **urgent** <b>Bonjour</b>, je reprends lundi !";
  CHECK(receive(f, "msg-1", "+33612345678", text, now + std::chrono::hours(1)) == app::Received::reply);

  store::InboundRepo inbound(*f.db);
  auto stored = inbound.for_learner(key);
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].body == text);
  CHECK(stored[0].case_id == 1);
  CHECK(stored[0].provider_id == "msg-1");
  // A sign of life: the case closes as resumed, after the reply was posted.
  CHECK(count(f, "SELECT COUNT(*) FROM learner_case WHERE state = 'resumed'") == 1);
  CHECK(count(f, "SELECT last_message FROM learner WHERE id = 'L1'") == to_unix(now + std::chrono::hours(1)));
  auto posts = staff_posts(f);
  REQUIRE(posts.size() >= before + 2);
  CHECK_THAT(posts[before], Catch::Contains("a répondu"));
  CHECK_THAT(posts[before], Catch::Contains(text));  // the rendered text quotes it whole ...
  // ... and what a chat shows has it defused: no mention, no markup.
  const std::string md = render::escape_markdown(posts[before]);
  CHECK(md.find("@all") == std::string::npos);
  CHECK(md.find("**urgent**") == std::string::npos);
  CHECK(render::escape_html(posts[before]).find("<b>") == std::string::npos);
  CHECK_THAT(posts[before + 1], Catch::Contains("signe de vie"));

  SECTION("the same message delivered again changes nothing") {
    const auto outbox_rows = count(f, "SELECT COUNT(*) FROM outbox");
    CHECK(receive(f, "msg-1", "+33612345678", text, now + std::chrono::hours(2)) == app::Received::duplicate);
    CHECK(inbound.count() == 1);
    CHECK(count(f, "SELECT COUNT(*) FROM outbox") == outbox_rows);
  }
}

TEST_CASE("STOP opts a learner out of SMS with a consent log entry, START opts them back in", "[learner][consent]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  const auto key = add(f, learner("L1", "+33612345678", now - std::chrono::days(91)), now);
  f.engine->scan(now);

  CHECK(receive(f, "m1", "+33612345678", "  Arrêt  ", now) == app::Received::opt_out);
  store::LearnerRepo learners(*f.db);
  CHECK(learners.get(key)->sms_opt_out == now);
  store::ConsentRepo consent(*f.db);
  auto log = consent.for_learner(key);
  REQUIRE(log.size() == 1);
  CHECK(log[0].action == "opt_out");
  CHECK(log[0].via == "reply");
  CHECK(log[0].message == "  Arrêt  ");
  CHECK(log[0].channel == "sms");
  // Staff are told, so a person can phone instead; a STOP is not a sign of life.
  CHECK_THAT(staff_posts(f).back(), Catch::Contains("ne veut plus recevoir de SMS"));
  CHECK(count(f, "SELECT COUNT(*) FROM learner_case WHERE state = 'open'") == 1);

  SECTION("a second STOP is logged but not told twice") {
    const auto posts = staff_posts(f).size();
    CHECK(receive(f, "m2", "+33612345678", "stop sms", now + std::chrono::minutes(1)) == app::Received::opt_out);
    CHECK(consent.for_learner(key).size() == 2);
    CHECK(staff_posts(f).size() == posts);
  }
  SECTION("START opts back in") {
    CHECK(receive(f, "m3", "+33612345678", "START", now + std::chrono::hours(1)) == app::Received::opt_in);
    CHECK_FALSE(learners.get(key)->sms_opt_out);
    CHECK(consent.for_learner(key).back().action == "opt_in");
    CHECK_THAT(staff_posts(f).back(), Catch::Contains("accepte de nouveau les SMS"));
  }
  SECTION("an SMS step for an opted-out learner becomes a task for a person") {
    const auto other = add(f, learner("L2", "+33611111111", now - std::chrono::days(91)), now);
    CHECK(receive(f, "m4", "+33611111111", "STOP", now) == app::Received::opt_out);
    f.engine->scan(now + std::chrono::minutes(5));
    CHECK(count(f, "SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND learner_key = " + std::to_string(other)) == 0);
    CHECK(count(f, "SELECT COUNT(*) FROM task WHERE case_id IN (SELECT id FROM learner_case WHERE learner_key = " +
                       std::to_string(other) + ")") == 1);
    CHECK_THAT(staff_posts(f).back(), Catch::Contains("opposition aux SMS"));
  }
}

TEST_CASE("a message from an unknown number is stored and shown to staff", "[learner][inbound]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  CHECK(receive(f, "x1", "+33799999999", "Bonjour, c'est Zoé", now) == app::Received::unknown_sender);
  store::InboundRepo inbound(*f.db);
  CHECK(inbound.count() == 1);
  CHECK_THAT(staff_posts(f).back(), Catch::Contains("+33799999999"));
}

TEST_CASE("delivery reports: final states stick, a failure is told in the case", "[learner][delivery]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  add(f, learner("L1", "+33612345678", now - std::chrono::days(91)), now);
  f.engine->scan(now);
  store::OutboxRepo outbox(*f.db);
  const auto sms = outbox.pending("sms").at(0);
  {
    store::WriteTransaction tx(*f.db);
    outbox.mark_sent_via(sms.id, now, "twilio", "SM0123");
    tx.commit();
  }
  auto report = [&](std::string state, std::string detail) {
    store::WriteTransaction tx(*f.db);
    f.engine->record_delivery(std::nullopt, "twilio", "SM0123", state, detail, now);
    tx.commit();
    return *outbox.get(sms.id);
  };
  CHECK(report("progress", "sent").delivery == "progress");
  CHECK(report("delivered", "delivered").delivery == "delivered");
  CHECK(report("progress", "sent").delivery == "delivered");  // late and out of order: ignored

  SECTION("by our own id (Kannel), a failure reaches staff") {
    const auto posts = staff_posts(f).size();
    store::WriteTransaction tx(*f.db);
    f.engine->record_delivery(sms.id, "kannel", "", "failed", "type 16 NACK", now);
    tx.commit();
    CHECK(outbox.get(sms.id)->delivery == "failed");
    REQUIRE(staff_posts(f).size() == posts + 1);
    CHECK_THAT(staff_posts(f).back(), Catch::Contains("type 16 NACK"));
  }
}

TEST_CASE("sms_sender_e164 reads the forms gateways use", "[learner][inbound]") {
  CHECK(app::sms_sender_e164("+33612345678") == "+33612345678");
  CHECK(app::sms_sender_e164("33612345678") == "+33612345678");  // Kannel
  CHECK(app::sms_sender_e164("0033612345678") == "+33612345678");
  CHECK(app::sms_sender_e164("06 12 34 56 78") == "+33612345678");
  CHECK(app::sms_sender_e164("ORGANISME").empty());
}

namespace {

// An SMS channel that answers what the test says (channel::LearnerPort).
struct FakeSmsPort final : channel::LearnerPort {
  Timestamp* now = nullptr;
  std::vector<std::pair<Timestamp, std::string>>* sent = nullptr;
  channel::SendResult* next = nullptr;
  std::string_view channel() const override { return "sms"; }
  std::string_view provider() const override { return "fake"; }
  channel::Capabilities capabilities() const override { return {channel::Capabilities::Body::sms, true, false, 0}; }
  boost::asio::awaitable<channel::SendResult> send(channel::Message m) override {
    sent->emplace_back(*now, m.text);
    co_return *next;
  }
};

// A dispatcher over a fake channel, driven with a fake clock.
struct DispatchRig {
  explicit DispatchRig(test::Fixture& fx) : f(fx) {}
  test::Fixture& f;
  boost::asio::io_context io;
  Timestamp now{};
  std::vector<std::pair<Timestamp, std::string>> sent;  // when, text
  channel::SendResult next = channel::sent();
  FakeSmsPort port;

  // Runs the dispatcher until it has nothing to do now.
  void run_once() {
    port.now = &now;
    port.sent = &sent;
    port.next = &next;
    std::vector<app::LearnerChannel> chans;
    chans.push_back(app::LearnerChannel{&port, 0, 3});
    app::LearnerDispatcher d(io.get_executor(), *f.engine, std::move(chans), [this] { return now; });
    d.start();
    io.restart();
    io.run_for(std::chrono::milliseconds(150));
    d.stop();
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
  }
};

}  // namespace

TEST_CASE("quiet hours: a message due on a Saturday night waits past Sunday and Whit Monday", "[learner][quiet]") {
  test::Fixture f(config_toml);
  // Saturday 15 May 2027, 21:30 in Paris (19:30 UTC): quiet. Sunday 16: closed.
  // Monday 17 May 2027: lundi de Pentecôte, a public holiday. First window:
  // Tuesday 18 May, 08:00 Paris = 06:00 UTC.
  const Timestamp sat = utc("2027-05-15T19:30:00Z");
  add(f, learner("L1", "+33612345678", sat - std::chrono::days(91)), sat);
  f.engine->scan(sat);
  store::OutboxRepo outbox(*f.db);
  REQUIRE(outbox.pending("sms").size() == 1);
  const auto sms_id = outbox.pending("sms")[0].id;
  CHECK(outbox.pending("sms")[0].not_before == utc("2027-05-18T06:00:00Z"));

  DispatchRig rig(f);
  for (const char* t : {"2027-05-15T19:30:00Z", "2027-05-16T10:00:00Z", "2027-05-17T09:00:00Z", "2027-05-18T05:59:00Z"}) {
    rig.now = utc(t);
    rig.run_once();
    CHECK(rig.sent.empty());
  }
  rig.now = utc("2027-05-18T06:00:00Z");
  rig.run_once();
  REQUIRE(rig.sent.size() == 1);
  CHECK_THAT(rig.sent[0].second, Catch::Contains("Élodie"));
  CHECK(outbox.get(sms_id)->status == "sent");
}

TEST_CASE("a retry falling in quiet hours waits for the window too", "[learner][quiet]") {
  test::Fixture f(config_toml);
  const Timestamp fri = utc("2026-12-18T18:50:00Z");  // Friday 19:50 Paris
  add(f, learner("L1", "+33612345678", fri - std::chrono::days(91)), fri);
  f.engine->scan(fri);
  DispatchRig rig(f);
  rig.now = fri;
  rig.next = channel::retry("HTTP 503");
  rig.run_once();
  REQUIRE(rig.sent.size() == 1);
  store::OutboxRepo outbox(*f.db);
  auto row = *outbox.pending("sms").begin();
  CHECK(row.attempts == 1);
  // The retry is due at 19:51; at 20:01 it is quiet: deferred to Saturday 08:00.
  rig.next = channel::sent();
  rig.now = utc("2026-12-18T19:01:00Z");
  rig.run_once();
  CHECK(rig.sent.size() == 1);
  CHECK(outbox.get(row.id)->next_attempt == utc("2026-12-19T07:00:00Z"));
  rig.now = utc("2026-12-19T07:00:00Z");
  rig.run_once();
  CHECK(rig.sent.size() == 2);
  CHECK(outbox.get(row.id)->status == "sent");
}

TEST_CASE("an opted-out learner gets no SMS: the row is cancelled and staff told", "[learner][consent]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  add(f, learner("L1", "+33612345678", now - std::chrono::days(91)), now);
  f.engine->scan(now);
  store::OutboxRepo outbox(*f.db);
  const auto sms_id = outbox.pending("sms").at(0).id;
  CHECK(receive(f, "m1", "+33612345678", "STOP", now) == app::Received::opt_out);  // before the send
  DispatchRig rig(f);
  rig.now = now + std::chrono::minutes(1);
  rig.run_once();
  CHECK(rig.sent.empty());
  auto row = *outbox.get(sms_id);
  CHECK(row.status == "cancelled");
  CHECK_THAT(row.last_error, Catch::Contains("opted out"));
  CHECK(count(f, "SELECT COUNT(*) FROM journal WHERE action = 'message.cancelled'") == 1);
}

TEST_CASE("a refused SMS fails without retry and the error is on the case", "[learner][delivery]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  add(f, learner("L1", "+33612345678", now - std::chrono::days(91)), now);
  f.engine->scan(now);
  store::OutboxRepo outbox(*f.db);
  const auto sms_id = outbox.pending("sms").at(0).id;
  DispatchRig rig(f);
  rig.now = now;
  rig.next = channel::failed("HTTP 400: 21610 Attempt to send to unsubscribed recipient", "21610");
  rig.next.recipient_opted_out = true;
  rig.run_once();
  REQUIRE(rig.sent.size() == 1);
  CHECK(outbox.get(sms_id)->status == "failed");
  CHECK_THAT(staff_posts(f).back(), Catch::Contains("21610"));
  // The provider's refusal is consent evidence too.
  store::ConsentRepo consent(*f.db);
  auto log = consent.for_learner(1);
  REQUIRE(log.size() == 1);
  CHECK(log[0].via == "provider");
  rig.now = now + std::chrono::hours(3);
  rig.run_once();
  CHECK(rig.sent.size() == 1);  // never retried
}

TEST_CASE("the inbound writer groups commits and answers each request once stored", "[learner][inbound]") {
  test::Fixture f(config_toml);
  const Timestamp now = utc("2026-11-23T09:00:00Z");
  for (int i = 0; i < 50; ++i) add(f, learner("L" + std::to_string(i), "+336120000" + std::to_string(10 + i), now), now);
  std::atomic<int> ok{0}, bad{0};
  {
    app::InboundWriter w(f.config, *f.zone, f.catalog, f.db->path(), [&] { return now; });
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 250; ++i) {
          app::InboundBatch b;
          const int n = (t * 250 + i) % 50;
          // Each message twice (a provider retry racing the first delivery).
          b.messages.push_back({"sms", "kannel", "id-" + std::to_string(t * 250 + i), "336120000" + std::to_string(10 + n),
                                "réponse " + std::to_string(i), std::nullopt});
          w.submit(b, [&](bool s) { (s ? ok : bad)++; });
          w.submit(std::move(b), [&](bool s) { (s ? ok : bad)++; });
        }
      });
    for (auto& th : threads) th.join();
    REQUIRE(test::wait_until([&] { return ok + bad == 2000; }));
    const auto st = w.stats();
    CHECK(st.messages == 1000);
    CHECK(st.duplicates == 1000);
    CHECK(st.commits < 2000);  // grouped
  }
  CHECK(bad == 0);
  store::InboundRepo inbound(*f.db);
  CHECK(inbound.count() == 1000);
  CHECK(count(f, "SELECT COUNT(*) FROM inbound_message WHERE learner_key IS NULL") == 0);
}
