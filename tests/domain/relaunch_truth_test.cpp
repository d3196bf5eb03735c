// What the core records of a relaunch is what happened, not what was planned:
// a bot message is `queued` when its step runs, and counts in the return rate
// only once it left; a step on a channel the installation cannot send on is a
// task for staff; a learner's answer stops the automatic ladder whatever the
// policy counts as activity.
#include "bot/domain/case.hpp"
#include "bot/domain/command.hpp"
#include "bot/domain/stats.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using namespace relance;
namespace chr = std::chrono;

namespace {

const FixedOffsetZone paris{chr::minutes{60}};
const ContactWindow window{};

Timestamp local(std::string_view s) {
  auto t = parse_iso_time(s, paris);
  REQUIRE(t);
  return *t;
}

Learner learner() {
  Learner l;
  l.key = 1;
  l.id = "L1";
  l.first_name = "Léa";
  l.phone = "+33612345678";
  l.email = "lea@example.fr";
  return l;
}

// Procedure 001's ladder: SMS at detection, email 7 days later, then a call.
Case ladder_case(Timestamp opened) {
  Case c;
  c.id = 7;
  c.learner_key = 1;
  c.policy_id = "001";
  c.opened_at = opened;
  c.activity_ref = opened - chr::days(90);
  Step sms;
  sms.name = "1re relance";
  sms.action = StepAction::message_learner;
  sms.means = Means::sms;
  sms.role = "secretariat";
  sms.template_key = "ladder_1";
  Step email = sms;
  email.name = "2e relance";
  email.means = Means::email;
  email.after_previous = chr::days(7);
  c.plan.steps = {sms, email};
  c.plan.on_exhausted = OnExhausted::declare_dropout;
  c.plan.dropout_after = chr::days(7);
  return c;
}

template <class T>
std::vector<T> only(const Effects& effects) {
  std::vector<T> out;
  for (const auto& e : effects)
    if (const auto* t = std::get_if<T>(&e)) out.push_back(*t);
  return out;
}

}  // namespace

TEST_CASE("a bot relaunch is recorded queued, at the time it was queued, and has not reached the learner yet",
          "[relaunch][truth]") {
  const Learner l = learner();
  const Timestamp sat_night = local("2026-03-21T21:00");  // quiet hours: the SMS waits until Monday 08:00
  Case c = ladder_case(sat_night);
  Outcome out = advance(c, CaseContext{l, paris, window, sat_night});
  REQUIRE(only<LearnerMessage>(out.effects).size() == 1);
  CHECK(only<LearnerMessage>(out.effects)[0].not_before == local("2026-03-23T08:00"));
  REQUIRE(out.relaunch);
  CHECK(out.relaunch->automatic);
  CHECK(out.relaunch->result == Result::queued);
  CHECK(out.relaunch->at == sat_night);  // when it was queued, not when it is planned to leave
  CHECK_FALSE(reached_learner(*out.relaunch));
  const auto journal = only<JournalNote>(out.effects);
  REQUIRE(journal.size() == 1);
  CHECK(journal[0].action == "step.queued");

  Relaunch r = *out.relaunch;
  for (Result res : {Result::sent, Result::delivered}) {
    r.result = res;
    CHECK(reached_learner(r));
  }
  for (Result res : {Result::queued, Result::failed, Result::not_sent}) {
    r.result = res;
    CHECK_FALSE(reached_learner(r));
  }
  r.automatic = false;  // staff logged it: it happened
  r.result = Result::no_answer;
  CHECK(reached_learner(r));
}

TEST_CASE("a step on a channel that is not configured becomes a task for staff, and no relaunch is recorded",
          "[relaunch][truth]") {
  const Learner l = learner();
  const Timestamp mon = local("2026-03-23T10:00");
  Case c = ladder_case(mon);
  ChannelSet none;
  none.sms = none.email = none.matrix = false;
  Outcome out = advance(c, CaseContext{l, paris, window, mon, chr::days(2), none});
  CHECK(only<LearnerMessage>(out.effects).empty());
  CHECK_FALSE(out.relaunch);
  const auto tasks = only<StaffTask>(out.effects);
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].means == Means::sms);
  CHECK(tasks[0].due == mon + chr::days(2));
  const auto notices = only<StaffNotice>(out.effects);
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].template_key == "alert.step_no_channel");
  const auto journal = only<JournalNote>(out.effects);
  REQUIRE(journal.size() == 1);
  CHECK(journal[0].action == "step.task");
  CHECK_THAT(journal[0].detail, Catch::Contains("channel not configured"));
  CHECK(c.relaunches == 0);

  SECTION("email configured, SMS not: only the SMS step is a task") {
    Case d = ladder_case(mon);
    ChannelSet email_only = none;
    email_only.email = true;
    Outcome first = advance(d, CaseContext{l, paris, window, mon, chr::days(2), email_only});
    CHECK(only<StaffTask>(first.effects).size() == 1);
    Outcome second = advance(d, CaseContext{l, paris, window, mon + chr::days(7), chr::days(2), email_only});
    REQUIRE(only<LearnerMessage>(second.effects).size() == 1);
    CHECK(only<LearnerMessage>(second.effects)[0].channel == Means::email);
    REQUIRE(second.relaunch);
    CHECK(second.relaunch->result == Result::queued);
  }
}

TEST_CASE("the return rate counts bot messages only once they left", "[relaunch][truth][stats]") {
  Case c = ladder_case(local("2026-03-02T10:00"));
  c.state = CaseState::resumed;
  auto bot = [&](Result res, const char* at) {
    Relaunch r;
    r.case_id = c.id;
    r.at = local(at);
    r.actor = "relance";
    r.means = Means::sms;
    r.result = res;
    r.step = 0;
    r.automatic = true;
    return r;
  };
  const Timestamp back = local("2026-03-05T10:00");
  SECTION("a message still queued when the learner came back earns nothing and counts nothing") {
    const ReturnStats s = return_stats({CaseHistory{&c, {bot(Result::queued, "2026-03-02T10:00")}, back}}, chr::days(14));
    CHECK(s.overall.relaunches == 0);
    CHECK(s.overall.returned == 0);
  }
  SECTION("a failed and a cancelled message are not relaunches") {
    const ReturnStats s = return_stats(
        {CaseHistory{&c, {bot(Result::failed, "2026-03-02T10:00"), bot(Result::not_sent, "2026-03-03T10:00")}, back}},
        chr::days(14));
    CHECK(s.overall.relaunches == 0);
  }
  SECTION("sent and delivered messages count, and the last one before the return gets the credit") {
    const ReturnStats s = return_stats(
        {CaseHistory{&c, {bot(Result::sent, "2026-03-02T10:00"), bot(Result::delivered, "2026-03-04T10:00"),
                          bot(Result::failed, "2026-03-04T11:00")},
                     back}},
        chr::days(14));
    CHECK(s.overall.relaunches == 2);
    CHECK(s.overall.returned == 1);
  }
}

TEST_CASE("a learner's answer stops the automatic ladder and its dropout, whatever the policy counts",
          "[relaunch][answered]") {
  const Learner l = learner();
  const Timestamp mon = local("2026-03-23T10:00");
  Case c = ladder_case(mon);
  advance(c, CaseContext{l, paris, window, mon});
  REQUIRE(c.next_due);

  const Outcome answered = learner_answered(c, "sms", mon + chr::hours(2));
  CHECK(c.answered);
  CHECK_FALSE(c.next_due);
  CHECK(c.state == CaseState::in_progress);
  CHECK(is_active(c.state));
  REQUIRE(only<StaffNotice>(answered.effects).size() == 1);
  CHECK(only<StaffNotice>(answered.effects)[0].template_key == "alert.answered");
  REQUIRE(only<JournalNote>(answered.effects).size() == 1);
  CHECK(only<JournalNote>(answered.effects)[0].action == "case.answered");

  // Weeks later: no second step, no declared dropout.
  for (int d : {7, 14, 30, 60}) {
    const Outcome later = advance(c, CaseContext{l, paris, window, mon + chr::days(d)});
    CHECK(later.effects.empty());
    CHECK(is_active(c.state));
  }
  // A second answer says nothing new.
  CHECK(learner_answered(c, "email", mon + chr::days(3)).effects.empty());
  // Staff conclude.
  CHECK(mark_resumed(c, "marie", "reprend lundi", mon + chr::days(3)).ok());
  CHECK(learner_answered(c, "sms", mon + chr::days(4)).effects.empty());
}

TEST_CASE("staff cannot log the bot's own delivery states as a result", "[relaunch][command]") {
  for (const char* word : {"sent", "queued", "delivered", "failed", "not_sent", "envoye"}) {
    const ParsedCommand cmd = parse_command(std::string("relance 42 sms ") + word);
    INFO(word);
    CHECK(std::holds_alternative<CommandError>(cmd));
  }
  const ParsedCommand ok = parse_command("relance 42 tel joint");
  REQUIRE(std::holds_alternative<Command>(ok));
  CHECK(std::holds_alternative<LogCmd>(std::get<Command>(ok)));
}
