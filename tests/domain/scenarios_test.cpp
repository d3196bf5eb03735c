// The seed procedures as scenarios, driven by a fake clock (a Timestamp we move
// forward). Each pass does what the engine's scan does: detect, open and start
// a case, then call `advance` while the case's next_due <= now. The policies
// and plans are built like deploy/demo.toml (procedures 000, 001, 003).
#include "bot/domain/case.hpp"
#include "bot/domain/detection.hpp"
#include "bot/domain/effects.hpp"
#include "bot/domain/policy.hpp"
#include "bot/domain/time.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace relance;
namespace chr = std::chrono;
using chr::days;
using chr::hours;

namespace {

// Paris in winter. The scenarios only need a consistent zone; DST is tested
// with the real Europe/Paris in tests/app/zone_dst_test.cpp.
const FixedOffsetZone paris{chr::minutes{60}};

// A local wall-clock time in that zone: "2026-04-07T10:00".
Timestamp local(std::string_view s) {
  auto t = parse_iso_time(s, paris);
  REQUIRE(t);
  return *t;
}

// ------------------------------------------------------------------ the seed policies (deploy/demo.toml)

Step step(std::string name, StepAction action, Means means, std::string role, std::string tmpl, int after_days = 0) {
  Step s;
  s.name = std::move(name);
  s.action = action;
  s.means = means;
  s.role = std::move(role);
  s.template_key = std::move(tmpl);
  s.after_previous = days{after_days};
  return s;
}

Policy policy_000() {
  Plan plan;
  plan.id = "plan-000";
  plan.on_exhausted = OnExhausted::keep_open;
  plan.steps.push_back(step("rappel \xC3\xA0 10 jours", StepAction::message_learner, Means::email, "pedagogie", "reminder_10d"));
  Step call = step("contact prioritaire \xC3\xA0 30 jours", StepAction::staff_task, Means::phone, "pedagogie", "call_30d");
  call.at_inactive_days = days{30};
  call.priority = true;
  plan.steps.push_back(call);
  Policy p;
  p.id = "000-elearning";
  p.label = "Proc\xC3\xA9" "dure 000";
  p.cohorts = {"bureautique-en-ligne"};
  p.sources = SourceSet{}.add(Source::lms);
  p.condition = Condition::inactive_for;
  p.days = days{10};
  p.plan = plan;
  return p;
}

Policy policy_001() {
  Plan plan;
  plan.id = "plan-001";
  plan.on_exhausted = OnExhausted::declare_dropout;
  plan.dropout_after = days{7};
  plan.steps.push_back(step("1re relance", StepAction::message_learner, Means::sms, "secretariat", "ladder_1"));
  plan.steps.push_back(step("2e relance", StepAction::message_learner, Means::email, "pedagogie", "ladder_2", 7));
  Step last = step("3e relance (dernier appel)", StepAction::staff_task, Means::phone, "direction", "ladder_3", 14);
  last.optional = true;
  plan.steps.push_back(last);
  Policy p;
  p.id = "001-auto-ecole";
  p.label = "Proc\xC3\xA9" "dure 001";
  p.cohorts = {"permis-b"};
  p.sources = SourceSet::all();
  p.condition = Condition::inactive_for;
  p.days = days{90};
  p.plan = plan;
  return p;
}

Policy policy_003() {
  Plan plan;
  plan.id = "plan-003";
  plan.on_exhausted = OnExhausted::keep_open;
  plan.steps.push_back(step("relance : jamais connect\xC3\xA9", StepAction::message_learner, Means::email, "pedagogie",
                            "never_accessed"));
  plan.steps.push_back(step("contact personnel", StepAction::staff_task, Means::phone, "pedagogie", "never_accessed", 3));
  Policy p;
  p.id = "003-jamais-connecte";
  p.label = "Proc\xC3\xA9" "dure 003";
  p.cohorts = {"enseignants-numerique"};
  p.sources = SourceSet{}.add(Source::lms);
  p.condition = Condition::never_accessed;
  p.days = days{3};
  p.plan = plan;
  return p;
}

// ------------------------------------------------------------------ a tiny engine over one learner

// CaseIndex over the cases of the world, as the store's coverage() gives it.
class Index final : public CaseIndex {
public:
  Index(const std::vector<Case>& cases, const std::vector<Policy>& policies) : cases_(cases), policies_(policies) {}
  bool has_active_case(std::int64_t learner) const override {
    return std::any_of(cases_.begin(), cases_.end(),
                       [&](const Case& c) { return c.learner_key == learner && is_active(c.state); });
  }
  bool covered(std::int64_t learner, std::size_t policy, Timestamp ref) const override {
    return std::any_of(cases_.begin(), cases_.end(), [&](const Case& c) {
      return c.learner_key == learner && c.policy_id == policies_[policy].id && c.activity_ref >= ref;
    });
  }

private:
  const std::vector<Case>& cases_;
  const std::vector<Policy>& policies_;
};

struct World {
  std::vector<Policy> policies;
  ContactWindow window;  // the default: quiet 20:00-08:00, Sundays and holidays closed
  Learner learner;
  Timestamp now{};
  std::vector<Case> cases;
  std::vector<Relaunch> relaunches;
  std::optional<Timestamp> next_crossing;

  explicit World(std::vector<Policy> ps) : policies(std::move(ps)) {
    learner.key = 1;
    learner.id = "L-1";
    learner.first_name = "L\xC3\xA9" "a";
    learner.last_name = "Martin";
    learner.first_seen = local("2025-09-01T09:00");
  }

  CaseContext ctx() const { return CaseContext{learner, paris, window, now}; }

  void apply(Outcome& o, Effects& into) {
    REQUIRE(o.ok());
    if (o.learner_status) learner.status = *o.learner_status;
    if (o.relaunch) relaunches.push_back(*o.relaunch);
    for (auto& e : o.effects) into.push_back(std::move(e));
  }

  // One pass of the scheduler at `t`, as Engine::scan does it.
  Effects tick(Timestamp t) {
    REQUIRE(t >= now);
    now = t;
    Effects out;
    Detector detector(policies, now, paris);
    const Index index(cases, policies);
    if (auto d = detector.examine(learner, index)) {
      const Policy& p = policies[d->policy_index];
      Case c = open_case(learner, p, *d, now);
      c.id = std::int64_t(cases.size()) + 1;
      Outcome o = start_case(c, p, ctx());
      apply(o, out);
      cases.push_back(std::move(c));
    }
    next_crossing = detector.next_crossing();
    for (Case& c : cases) {
      for (int guard = 0; guard < 20 && is_active(c.state) && c.next_due && *c.next_due <= now; ++guard) {
        Outcome o = advance(c, ctx());
        apply(o, out);
      }
      if (is_active(c.state) && c.next_due) CHECK(*c.next_due > now);  // nothing left due
    }
    return out;
  }

  Case& the_case() {
    REQUIRE(cases.size() == 1);
    return cases.front();
  }

  // A sign of life as the engine relays it: activity recorded on the learner,
  // then offered to each active case.
  Effects activity(Source s, Timestamp at, Timestamp t) {
    now = t;
    learner.activity.observe(s, at);
    Effects out;
    for (Case& c : cases) {
      if (!is_active(c.state)) continue;
      Outcome o = sign_of_life(c, s, at, now);
      apply(o, out);
    }
    return out;
  }
};

// ------------------------------------------------------------------ effect helpers

template <class T>
std::vector<T> only(const Effects& es) {
  std::vector<T> out;
  for (const auto& e : es)
    if (const auto* x = std::get_if<T>(&e)) out.push_back(*x);
  return out;
}

std::vector<std::string> notice_keys(const Effects& es) {
  std::vector<std::string> out;
  for (const auto& n : only<StaffNotice>(es)) out.push_back(n.template_key);
  return out;
}

std::vector<std::string> journal_actions(const Effects& es) {
  std::vector<std::string> out;
  for (const auto& n : only<JournalNote>(es)) out.push_back(n.action);
  return out;
}

using Strings = std::vector<std::string>;

}  // namespace

// ================================================================== 000

TEST_CASE("000: 9 days without login is nothing yet - the next crossing is day 10", "[domain][scenario][000]") {
  World w({policy_000()});
  w.learner.cohort = "bureautique-en-ligne";
  w.learner.email = "lea.martin@exemple.fr";
  const Timestamp last_login = local("2026-01-05T10:00");  // Monday
  w.learner.activity.observe(Source::lms, last_login);

  CHECK(w.tick(local("2026-01-14T10:00")).empty());  // day 9
  CHECK(w.cases.empty());
  REQUIRE(w.next_crossing);
  CHECK(*w.next_crossing == local("2026-01-15T10:00"));
  CHECK(threshold_time(w.learner, w.policies[0], paris) == local("2026-01-15T10:00"));
  CHECK(w.tick(local("2026-01-15T09:59:59")).empty());
}

TEST_CASE("000: day 10 opens a case and sends the reminder email - day 30 asks staff to phone, as a priority",
          "[domain][scenario][000]") {
  World w({policy_000()});
  w.learner.cohort = "bureautique-en-ligne";
  w.learner.email = "lea.martin@exemple.fr";
  const Timestamp last_login = local("2026-01-05T10:00");
  w.learner.activity.observe(Source::lms, last_login);

  const Effects d10 = w.tick(local("2026-01-15T10:00"));  // Thursday, day 10
  REQUIRE(w.cases.size() == 1);
  Case& c = w.the_case();
  CHECK(c.policy_id == "000-elearning");
  CHECK(c.activity_ref == last_login);
  CHECK(c.opened_at == local("2026-01-15T10:00"));
  CHECK(c.state == CaseState::open);
  CHECK(notice_keys(d10) == Strings{"alert.opened", "alert.step_sent"});
  CHECK(journal_actions(d10) == Strings{"case.opened", "step.queued"});
  const auto msgs = only<LearnerMessage>(d10);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].channel == Means::email);
  CHECK(msgs[0].template_key == "reminder_10d");
  CHECK(msgs[0].step == 0);
  CHECK(msgs[0].not_before == local("2026-01-15T10:00"));  // a Thursday morning: no deferral
  CHECK(only<StaffTask>(d10).empty());
  const auto opened = only<StaffNotice>(d10).front();
  CHECK(opened.role == "pedagogie");
  CHECK_FALSE(opened.priority);
  CHECK(opened.params.at("days") == "10");
  REQUIRE(w.relaunches.size() == 1);
  CHECK(w.relaunches[0].automatic);
  CHECK(w.relaunches[0].result == Result::queued);
  CHECK(w.relaunches[0].means == Means::email);
  CHECK(c.relaunches == 1);
  CHECK(c.next_step == 1);
  REQUIRE(c.next_due);
  CHECK(*c.next_due == local("2026-02-04T10:00"));  // 30 days after the last login, not after the email

  // Every day in between: nothing.
  for (Timestamp t = local("2026-01-16T10:00"); t < local("2026-02-04T10:00"); t += days{1}) {
    INFO(format_utc(t));
    CHECK(w.tick(t).empty());
  }

  const Effects d30 = w.tick(local("2026-02-04T10:00"));  // Wednesday, day 30
  const auto tasks = only<StaffTask>(d30);
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].role == "pedagogie");
  CHECK(tasks[0].means == Means::phone);
  CHECK(tasks[0].template_key == "call_30d");
  CHECK(tasks[0].step == 1);
  CHECK(tasks[0].due == local("2026-02-06T10:00"));  // overdue after the default 2 days
  CHECK(only<LearnerMessage>(d30).empty());
  const auto notices = only<StaffNotice>(d30);
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].template_key == "alert.task");
  CHECK(notices[0].priority);
  CHECK(notices[0].role == "pedagogie");
  CHECK(journal_actions(d30) == Strings{"step.task"});
  // keep_open: the case waits for staff; nothing more is scheduled.
  CHECK(c.state == CaseState::open);
  CHECK_FALSE(c.next_due);
  CHECK(w.tick(local("2026-06-01T10:00")).empty());
  CHECK(c.state == CaseState::open);
}

TEST_CASE("000: a sign of life closes the case as resumed - a new episode opens a new case",
          "[domain][scenario][000]") {
  World w({policy_000()});
  w.learner.cohort = "bureautique-en-ligne";
  w.learner.email = "lea.martin@exemple.fr";
  w.learner.activity.observe(Source::lms, local("2026-01-05T10:00"));
  w.tick(local("2026-01-15T10:00"));
  w.tick(local("2026-02-04T10:00"));
  Case& c = w.the_case();
  REQUIRE(c.state == CaseState::open);

  // An older event replayed by an import is not a sign of life.
  CHECK(w.activity(Source::lms, local("2026-01-04T10:00"), local("2026-02-05T09:00")).empty());
  CHECK(c.state == CaseState::open);

  const Effects back = w.activity(Source::lms, local("2026-02-05T18:30"), local("2026-02-05T18:35"));
  CHECK(c.state == CaseState::resumed);
  CHECK(c.closed_at == local("2026-02-05T18:30"));
  CHECK(c.outcome_note == "activity:lms");
  CHECK_FALSE(c.next_due);
  CHECK(w.learner.status == LearnerStatus::active);
  CHECK(notice_keys(back) == Strings{"alert.resumed_by_activity"});
  CHECK(journal_actions(back) == Strings{"case.resumed_by_activity"});
  CHECK(only<StaffNotice>(back)[0].params.at("source") == "lms");

  // Claiming or logging on the closed case is refused.
  CHECK(claim(c, "paul", w.now).refusal == Refusal::case_closed);

  // A new episode: 10 days after the new login, a second case.
  CHECK(w.tick(local("2026-02-10T10:00")).empty());
  REQUIRE(w.next_crossing);
  CHECK(*w.next_crossing == local("2026-02-15T18:30"));
  const Effects again = w.tick(local("2026-02-16T09:00"));
  REQUIRE(w.cases.size() == 2);
  CHECK(w.cases[1].activity_ref == local("2026-02-05T18:30"));
  CHECK(only<LearnerMessage>(again).size() == 1);
}

TEST_CASE("000: a learner found 35 days inactive gets the email and the priority task in one pass",
          "[domain][scenario][000]") {
  World w({policy_000()});
  w.learner.cohort = "bureautique-en-ligne";
  w.learner.email = "lea.martin@exemple.fr";
  w.learner.activity.observe(Source::lms, local("2026-01-05T10:00"));
  const Effects first = w.tick(local("2026-02-09T10:00"));  // day 35, first time we look
  CHECK(only<LearnerMessage>(first).size() == 1);
  const auto tasks = only<StaffTask>(first);
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].template_key == "call_30d");
  CHECK(notice_keys(first) == Strings{"alert.opened", "alert.step_sent", "alert.task"});
  CHECK_FALSE(w.the_case().next_due);
}

TEST_CASE("000: the policy only applies to its cohort and only counts platform logins", "[domain][scenario][000]") {
  World w({policy_000()});
  w.learner.cohort = "permis-b";
  w.learner.activity.observe(Source::lms, local("2026-01-05T10:00"));
  CHECK(w.tick(local("2026-03-01T10:00")).empty());
  CHECK(w.cases.empty());

  World v({policy_000()});
  v.learner.cohort = "bureautique-en-ligne";
  v.learner.email = "x@exemple.fr";
  v.learner.activity.observe(Source::lms, local("2026-01-05T10:00"));
  v.learner.activity.observe(Source::visit, local("2026-01-14T10:00"));  // not a login
  v.tick(local("2026-01-15T10:00"));
  CHECK(v.cases.size() == 1);
}

// ================================================================== 001

namespace {

World world_001() {
  World w({policy_001()});
  w.learner.cohort = "permis-b";
  w.learner.phone = "+33612345678";
  w.learner.email = "lea.martin@exemple.fr";
  // Several sources: the latest of them counts.
  w.learner.activity.observe(Source::lms, local("2025-12-20T19:00"));
  w.learner.activity.observe(Source::booking, local("2025-12-28T11:00"));
  w.learner.activity.observe(Source::lesson, local("2026-01-07T10:00"));  // Wednesday
  return w;
}

// 90 days after the last lesson: Tuesday 7 April 2026 10:00 (after Easter Monday).
const char* const detection_001 = "2026-04-07T10:00";

}  // namespace

TEST_CASE("001: 3 months over several sources - a recent visit prevents detection", "[domain][scenario][001]") {
  World w = world_001();
  CHECK(inactivity_ref(w.learner, w.policies[0], paris).since == local("2026-01-07T10:00"));
  CHECK(w.tick(local("2026-04-07T09:59")).empty());
  CHECK(*w.next_crossing == local(detection_001));

  SECTION("a visit logged at the front desk in March counts as activity") {
    w.learner.activity.observe(Source::visit, local("2026-03-02T15:00"));
    CHECK(w.tick(local(detection_001)).empty());
    CHECK(w.cases.empty());
    CHECK(*w.next_crossing == local("2026-05-31T15:00"));  // 90 days after the visit
  }
  SECTION("a phone call or an email also count") {
    w.learner.activity.observe(Source::call, local("2026-02-02T15:00"));
    CHECK(w.tick(local(detection_001)).empty());
    CHECK(w.cases.empty());
  }
  SECTION("without any, the case opens at the crossing") {
    w.tick(local(detection_001));
    CHECK(w.cases.size() == 1);
  }
}

TEST_CASE("001: the full ladder with no answer ends in a declared dropout", "[domain][scenario][001][ladder]") {
  World w = world_001();

  // Step 1 at detection: SMS, by the front desk.
  const Effects s1 = w.tick(local(detection_001));
  Case& c = w.the_case();
  auto m1 = only<LearnerMessage>(s1);
  REQUIRE(m1.size() == 1);
  CHECK(m1[0].channel == Means::sms);
  CHECK(m1[0].template_key == "ladder_1");
  CHECK(m1[0].step == 0);
  CHECK(m1[0].not_before == local(detection_001));
  auto n1 = only<StaffNotice>(s1);
  REQUIRE(n1.size() == 2);
  CHECK(n1[0].template_key == "alert.opened");
  CHECK(n1[0].role == "secretariat");
  CHECK(n1[1].template_key == "alert.step_sent");
  CHECK(n1[1].role == "secretariat");
  CHECK(n1[1].params.at("step") == "1re relance");
  CHECK(n1[1].params.at("step_number") == "1");
  CHECK(n1[1].params.at("means") == "sms");
  CHECK(journal_actions(s1) == Strings{"case.opened", "step.queued"});
  CHECK(*c.next_due == local("2026-04-14T10:00"));

  // Step 2, seven days later: email, by the teaching lead.
  CHECK(w.tick(local("2026-04-14T09:59:59")).empty());
  const Effects s2 = w.tick(local("2026-04-14T10:00"));
  auto m2 = only<LearnerMessage>(s2);
  REQUIRE(m2.size() == 1);
  CHECK(m2[0].channel == Means::email);
  CHECK(m2[0].template_key == "ladder_2");
  CHECK(m2[0].step == 1);
  CHECK(notice_keys(s2) == Strings{"alert.step_sent"});
  CHECK(only<StaffNotice>(s2)[0].role == "pedagogie");
  CHECK(*c.next_due == local("2026-04-28T10:00"));

  // Step 3, fourteen days after step 2: a last call, by the management (a task).
  CHECK(w.tick(local("2026-04-28T09:59:59")).empty());
  const Effects s3 = w.tick(local("2026-04-28T10:00"));
  CHECK(only<LearnerMessage>(s3).empty());
  auto t3 = only<StaffTask>(s3);
  REQUIRE(t3.size() == 1);
  CHECK(t3[0].role == "direction");
  CHECK(t3[0].means == Means::phone);
  CHECK(t3[0].template_key == "ladder_3");
  CHECK(t3[0].step == 2);
  CHECK(notice_keys(s3) == Strings{"alert.task"});
  CHECK(only<StaffNotice>(s3)[0].role == "direction");
  CHECK(c.state == CaseState::open);
  REQUIRE(c.next_due);
  CHECK(*c.next_due == local("2026-05-05T10:00"));  // the dropout deadline

  // Seven days after the last step, no answer: dropout declared, file closed.
  CHECK(w.tick(local("2026-05-05T09:59:59")).empty());
  const Effects end = w.tick(local("2026-05-05T10:00"));
  CHECK(c.state == CaseState::dropped_out);
  CHECK(c.closed_at == local("2026-05-05T10:00"));
  CHECK(c.outcome_note == "dropout_declared");
  CHECK_FALSE(c.next_due);
  CHECK(w.learner.status == LearnerStatus::dropped_out);
  CHECK(notice_keys(end) == Strings{"alert.dropout_declared"});
  CHECK(journal_actions(end) == Strings{"case.dropout_declared"});
  CHECK(only<StaffNotice>(end)[0].params.at("relaunches") == "2");  // two messages; the call was not logged

  // The register: two automatic relaunches (SMS, email).
  REQUIRE(w.relaunches.size() == 2);
  CHECK(w.relaunches[0].means == Means::sms);
  CHECK(w.relaunches[1].means == Means::email);

  // A dropped-out learner is not detected again.
  CHECK(w.tick(local("2026-12-01T10:00")).empty());
  CHECK(w.cases.size() == 1);
}

TEST_CASE("001: the last call logged without answer makes three relaunches, then the dropout",
          "[domain][scenario][001][ladder]") {
  World w = world_001();
  w.tick(local(detection_001));
  w.tick(local("2026-04-14T10:00"));
  w.tick(local("2026-04-28T10:00"));
  Case& c = w.the_case();
  Outcome logged = log_relaunch(c, "sophie", Means::phone, Result::no_answer, "messagerie pleine", local("2026-04-29T11:00"));
  REQUIRE(logged.ok());
  REQUIRE(logged.relaunch);
  CHECK(logged.relaunch->step == 2);
  CHECK(logged.relaunch->actor == "sophie");
  CHECK_FALSE(logged.relaunch->automatic);
  CHECK(c.state == CaseState::in_progress);
  CHECK(c.assignee == "sophie");
  CHECK(journal_actions(logged.effects) == Strings{"relaunch.logged"});
  CHECK(notice_keys(logged.effects) == Strings{"alert.relaunch_logged"});

  const Effects end = w.tick(local("2026-05-05T10:00"));
  CHECK(c.state == CaseState::dropped_out);
  CHECK(only<StaffNotice>(end)[0].params.at("relaunches") == "3");
}

TEST_CASE("001: reaching the learner on the last call prevents the automatic dropout",
          "[domain][scenario][001][ladder]") {
  World w = world_001();
  w.tick(local(detection_001));
  w.tick(local("2026-04-14T10:00"));
  w.tick(local("2026-04-28T10:00"));
  Case& c = w.the_case();
  REQUIRE(c.next_due);

  w.now = local("2026-04-29T11:00");
  Outcome logged = log_relaunch(c, "sophie", Means::phone, Result::reached, "rappelle en mai", w.now);
  REQUIRE(logged.ok());
  CHECK(c.answered);
  CHECK(c.state == CaseState::in_progress);
  CHECK_FALSE(logged.learner_status);
  // Nothing is due any more: the case must not announce a dropout date.
  CHECK_FALSE(c.next_due);

  CHECK(w.tick(local("2026-05-05T10:00")).empty());
  CHECK(w.tick(local("2026-08-01T10:00")).empty());
  CHECK(c.state == CaseState::in_progress);
  CHECK(w.learner.status == LearnerStatus::active);
  // Staff conclude it themselves.
  Outcome done = mark_resumed(c, "sophie", "reprise des le\xC3\xA7ons", local("2026-08-02T10:00"));
  CHECK(done.ok());
  CHECK(c.state == CaseState::resumed);
  CHECK(done.learner_status == LearnerStatus::active);
  CHECK(journal_actions(done.effects) == Strings{"case.resumed"});
}

TEST_CASE("001: a learner reached after step 1 gets no more automatic relaunches and is not declared a dropout",
          "[domain][scenario][001][ladder]") {
  World w = world_001();
  w.tick(local(detection_001));
  Case& c = w.the_case();
  log_relaunch(c, "marie", Means::phone, Result::reached, "occup\xC3\xA9" "e, rappelle", local("2026-04-08T10:00"));
  CHECK(w.tick(local("2026-04-14T10:00")).empty());
  CHECK(w.tick(local("2026-04-28T10:00")).empty());
  CHECK(c.next_step == 1);  // a person is in the conversation: staff conclude
  CHECK_FALSE(c.next_due);
  CHECK(w.tick(local("2026-05-05T10:00")).empty());
  CHECK(c.state == CaseState::in_progress);
}

TEST_CASE("001: a sign of life after step 2 closes the case as resumed - step 3 never comes",
          "[domain][scenario][001][ladder]") {
  World w = world_001();
  w.tick(local(detection_001));
  w.tick(local("2026-04-14T10:00"));
  Case& c = w.the_case();
  REQUIRE(c.next_step == 2);

  const Effects back = w.activity(Source::booking, local("2026-04-16T17:42"), local("2026-04-16T17:45"));
  CHECK(c.state == CaseState::resumed);
  CHECK(c.outcome_note == "activity:booking");
  CHECK(notice_keys(back) == Strings{"alert.resumed_by_activity"});
  CHECK(journal_actions(back) == Strings{"case.resumed_by_activity"});
  CHECK(w.tick(local("2026-04-28T10:00")).empty());
  CHECK(w.tick(local("2026-05-05T10:00")).empty());
  CHECK(c.state == CaseState::resumed);
  CHECK(w.learner.status == LearnerStatus::active);
}

TEST_CASE("001: a learner without a phone: step 1 becomes a task for the front desk", "[domain][scenario][001]") {
  World w = world_001();
  w.learner.phone.clear();
  const Effects s1 = w.tick(local(detection_001));
  CHECK(only<LearnerMessage>(s1).empty());
  const auto tasks = only<StaffTask>(s1);
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].role == "secretariat");
  CHECK(tasks[0].step == 0);
  CHECK(tasks[0].means == Means::sms);
  CHECK(tasks[0].template_key == "ladder_1");
  CHECK(notice_keys(s1) == Strings{"alert.opened", "alert.step_unreachable"});
  CHECK(journal_actions(s1) == Strings{"case.opened", "step.task"});
  CHECK(w.relaunches.empty());  // nothing was sent
  // Step 2 still goes by email.
  const Effects s2 = w.tick(local("2026-04-14T10:00"));
  REQUIRE(only<LearnerMessage>(s2).size() == 1);
  CHECK(only<LearnerMessage>(s2)[0].channel == Means::email);
}

TEST_CASE("001: the case keeps the plan it opened with when the configuration changes",
          "[domain][scenario][001][snapshot]") {
  World w = world_001();
  w.tick(local(detection_001));
  // An administrator shortens the ladder to one step and no dropout.
  w.policies[0].plan.steps.resize(1);
  w.policies[0].plan.on_exhausted = OnExhausted::keep_open;
  const Effects s2 = w.tick(local("2026-04-14T10:00"));
  CHECK(only<LearnerMessage>(s2).size() == 1);
  w.tick(local("2026-04-28T10:00"));
  w.tick(local("2026-05-05T10:00"));
  CHECK(w.the_case().state == CaseState::dropped_out);
}

// ================================================================== 003

namespace {

World world_003() {
  World w({policy_003()});
  w.learner.cohort = "enseignants-numerique";
  w.learner.email = "prof@ac-exemple.fr";
  w.learner.start_date = chr::sys_days{chr::year{2026} / 9 / 7};  // Monday, the session opens
  return w;
}

}  // namespace

TEST_CASE("003: a teacher who never accessed the course is relaunched N days after the start",
          "[domain][scenario][003]") {
  World w = world_003();
  CHECK(w.tick(local("2026-09-09T18:00")).empty());
  REQUIRE(w.next_crossing);
  CHECK(*w.next_crossing == local("2026-09-10T00:00"));

  const Effects first = w.tick(local("2026-09-10T09:00"));
  REQUIRE(w.cases.size() == 1);
  Case& c = w.the_case();
  CHECK(c.activity_ref == local("2026-09-07T00:00"));
  const auto m = only<LearnerMessage>(first);
  REQUIRE(m.size() == 1);
  CHECK(m[0].channel == Means::email);
  CHECK(m[0].template_key == "never_accessed");
  CHECK(*c.next_due == local("2026-09-13T09:00"));  // a Sunday: a staff task may fall on it

  // Still nothing three days later: personal contact by a person.
  const Effects second = w.tick(local("2026-09-13T09:00"));
  const auto t = only<StaffTask>(second);
  REQUIRE(t.size() == 1);
  CHECK(t[0].role == "pedagogie");
  CHECK(t[0].means == Means::phone);
  CHECK(t[0].step == 1);
  CHECK_FALSE(c.next_due);
  CHECK(c.state == CaseState::open);

  // The teacher finally logs in: resumed.
  w.activity(Source::lms, local("2026-09-14T08:15"), local("2026-09-14T08:20"));
  CHECK(c.state == CaseState::resumed);
}

TEST_CASE("003: a teacher with any platform activity is never detected", "[domain][scenario][003]") {
  World w = world_003();
  w.learner.activity.observe(Source::lms, local("2026-09-07T20:00"));
  CHECK(w.tick(local("2026-09-10T09:00")).empty());
  CHECK(w.tick(local("2027-09-10T09:00")).empty());
  CHECK(w.cases.empty());
  CHECK_FALSE(w.next_crossing);
  CHECK_FALSE(threshold_time(w.learner, w.policies[0], paris));

  SECTION("even a login long before the session counts as having accessed") {
    World v = world_003();
    v.learner.activity.observe(Source::lms, local("2025-01-01T10:00"));
    CHECK(v.tick(local("2026-10-01T09:00")).empty());
    CHECK(v.cases.empty());
  }
}

TEST_CASE("003: other sources do not count as accessing the course", "[domain][scenario][003]") {
  World w = world_003();
  w.learner.activity.observe(Source::visit, local("2026-09-08T10:00"));
  w.tick(local("2026-09-10T09:00"));
  CHECK(w.cases.size() == 1);
}

TEST_CASE("003: without a start date, the policy's session start is the reference", "[domain][scenario][003]") {
  World w = world_003();
  w.learner.start_date.reset();
  w.policies[0].session_start = chr::sys_days{chr::year{2026} / 9 / 14};
  CHECK(w.tick(local("2026-09-16T09:00")).empty());
  CHECK(*w.next_crossing == local("2026-09-17T00:00"));
  w.tick(local("2026-09-17T09:00"));
  CHECK(w.cases.size() == 1);
}

// ================================================================== quiet hours

TEST_CASE("quiet hours: a learner step due Saturday 21:00 is sent Monday 08:00", "[domain][scenario][window]") {
  World w({policy_001()});
  w.learner.cohort = "permis-b";
  w.learner.phone = "+33612345678";
  w.learner.email = "lea.martin@exemple.fr";
  // Detected Saturday 21 November 21:00 (90 days after the last lesson).
  w.learner.activity.observe(Source::lesson, local("2026-08-23T21:00"));
  const Effects s1 = w.tick(local("2026-11-21T21:00"));
  const auto m1 = only<LearnerMessage>(s1);
  REQUIRE(m1.size() == 1);
  CHECK(m1[0].not_before == local("2026-11-23T08:00"));
  REQUIRE(w.relaunches.size() == 1);
  // Recorded as queued, at the time it was queued: the dispatcher records
  // when it really goes (the register never shows a plan as a fact).
  CHECK(w.relaunches[0].result == Result::queued);
  CHECK(w.relaunches[0].at == local("2026-11-21T21:00"));
  CHECK(only<StaffNotice>(s1)[1].params.at("send_at") == std::to_string(to_unix(local("2026-11-23T08:00"))));

  // Step 2 counts its 7 days from when step 1 went out (Monday 08:00), not
  // from the Saturday night scan that planned it: due Monday 30 November 08:00.
  Case& c = w.the_case();
  CHECK(*c.last_step_at == local("2026-11-23T08:00"));
  CHECK(*c.next_due == local("2026-11-30T08:00"));
  CHECK(only<LearnerMessage>(w.tick(local("2026-11-28T21:00"))).empty());
  const Effects s2 = w.tick(local("2026-11-30T08:00"));
  const auto m2 = only<LearnerMessage>(s2);
  REQUIRE(m2.size() == 1);
  CHECK(m2[0].channel == Means::email);
  CHECK(m2[0].not_before == local("2026-11-30T08:00"));
  CHECK(m2[0].not_before == parse_iso_time("2026-11-30T07:00:00Z", paris));
}

TEST_CASE("quiet hours: a detection on Easter Monday waits for Tuesday 08:00", "[domain][scenario][window][holidays]") {
  World w({policy_001()});
  w.learner.cohort = "permis-b";
  w.learner.phone = "+33612345678";
  w.learner.activity.observe(Source::lesson, local("2026-01-06T10:00"));  // +90 days = Monday 6 April
  const auto m = only<LearnerMessage>(w.tick(local("2026-04-06T10:00")));
  REQUIRE(m.size() == 1);
  CHECK(m[0].not_before == local("2026-04-07T08:00"));
}

TEST_CASE("quiet hours do not delay a staff task", "[domain][scenario][window]") {
  World w({policy_001()});
  w.learner.cohort = "permis-b";
  w.learner.activity.observe(Source::lesson, local("2026-08-23T21:00"));  // no phone: a task
  const auto t = only<StaffTask>(w.tick(local("2026-11-21T21:00")));
  REQUIRE(t.size() == 1);
  CHECK(t[0].due == local("2026-11-23T21:00"));
}

// ================================================================== claims and staff outcomes

TEST_CASE("claim: first claim wins, again is already yours, someone else is told it is held, closed is closed",
          "[domain][scenario][claim]") {
  World w = world_001();
  w.tick(local(detection_001));
  Case& c = w.the_case();
  REQUIRE(c.state == CaseState::open);

  Outcome first = claim(c, "marie", local("2026-04-07T10:05"));
  CHECK(first.ok());
  CHECK(c.state == CaseState::claimed);
  CHECK(c.assignee == "marie");
  CHECK(notice_keys(first.effects) == Strings{"alert.claimed"});
  CHECK(only<StaffNotice>(first.effects)[0].params.at("by") == "marie");
  CHECK(journal_actions(first.effects) == Strings{"case.claimed"});

  Outcome again = claim(c, "marie", local("2026-04-07T10:06"));
  CHECK(again.refusal == Refusal::already_yours);
  CHECK(again.effects.empty());

  Outcome other = claim(c, "paul", local("2026-04-07T10:07"));
  CHECK(other.refusal == Refusal::held_by_other);
  CHECK(other.effects.empty());
  CHECK(c.assignee == "marie");  // the app answers "held by marie" from the case

  // The ladder goes on while the case is claimed.
  const Effects s2 = w.tick(local("2026-04-14T10:00"));
  CHECK(only<LearnerMessage>(s2).size() == 1);
  CHECK(c.state == CaseState::claimed);

  Outcome out = mark_dropout(c, "marie", "d\xC3\xA9m\xC3\xA9nagement", local("2026-04-15T10:00"));
  CHECK(out.ok());
  CHECK(c.state == CaseState::dropped_out);
  CHECK(out.learner_status == LearnerStatus::dropped_out);
  CHECK(c.outcome_note == "d\xC3\xA9m\xC3\xA9nagement");
  CHECK(journal_actions(out.effects) == Strings{"case.dropped_out"});

  CHECK(claim(c, "paul", local("2026-04-16T10:00")).refusal == Refusal::case_closed);
  CHECK(claim(c, "marie", local("2026-04-16T10:00")).refusal == Refusal::case_closed);
  CHECK(log_relaunch(c, "marie", Means::phone, Result::reached, "", local("2026-04-16T10:00")).refusal ==
        Refusal::case_closed);
  CHECK(mark_resumed(c, "marie", "", local("2026-04-16T10:00")).refusal == Refusal::case_closed);
  CHECK(mark_dropout(c, "marie", "", local("2026-04-16T10:00")).refusal == Refusal::case_closed);
  CHECK(sign_of_life(c, Source::lesson, local("2026-04-16T10:00"), local("2026-04-16T10:00")).effects.empty());
}

TEST_CASE("logging a relaunch as resumed or dropped out closes the case", "[domain][scenario][claim]") {
  SECTION("resumed") {
    World w = world_001();
    w.tick(local(detection_001));
    Case& c = w.the_case();
    Outcome o = log_relaunch(c, "marie", Means::phone, Result::resumed, "reprend lundi", local("2026-04-08T10:00"));
    CHECK(o.ok());
    CHECK(c.state == CaseState::resumed);
    CHECK(o.learner_status == LearnerStatus::active);
    REQUIRE(o.relaunch);
    CHECK(o.relaunch->result == Result::resumed);
    CHECK(journal_actions(o.effects) == Strings{"relaunch.logged", "case.resumed"});
    CHECK_FALSE(c.next_due);
  }
  SECTION("dropped out") {
    World w = world_001();
    w.tick(local(detection_001));
    Case& c = w.the_case();
    Outcome o = log_relaunch(c, "marie", Means::phone, Result::dropped_out, "a trouv\xC3\xA9 un emploi",
                             local("2026-04-08T10:00"));
    CHECK(c.state == CaseState::dropped_out);
    CHECK(o.learner_status == LearnerStatus::dropped_out);
    CHECK(journal_actions(o.effects) == Strings{"relaunch.logged", "case.dropped_out"});
  }
}

// ================================================================== detection rules

TEST_CASE("detection: the higher-priority policy wins - a case covering the episode is not reopened",
          "[domain][scenario][detection]") {
  Policy broad = policy_000();
  broad.id = "broad";
  broad.cohorts.clear();
  broad.days = days{5};
  broad.priority = 0;
  Policy narrow = policy_000();
  narrow.priority = 10;
  World w({broad, narrow});
  w.learner.cohort = "bureautique-en-ligne";
  w.learner.email = "x@exemple.fr";
  w.learner.activity.observe(Source::lms, local("2026-01-05T10:00"));

  // Day 6: only the broad policy has fired.
  w.tick(local("2026-01-11T10:00"));
  REQUIRE(w.cases.size() == 1);
  CHECK(w.cases[0].policy_id == "broad");
  // Staff close it by hand, without any new activity: the same episode is covered.
  mark_resumed(w.cases[0], "paul", "vu au t\xC3\xA9l\xC3\xA9phone", local("2026-01-12T10:00"));
  // Day 10: the narrow policy (higher priority) fires for the same episode.
  w.tick(local("2026-01-15T10:00"));
  REQUIRE(w.cases.size() == 2);
  CHECK(w.cases[1].policy_id == "000-elearning");
  mark_resumed(w.cases[1], "paul", "", local("2026-01-16T10:00"));
  // Both covered: nothing more for this episode.
  CHECK(w.tick(local("2026-03-01T10:00")).empty());
  CHECK(w.cases.size() == 2);
}

TEST_CASE("detection: a never-active learner without a start date counts from when we first saw them",
          "[domain][scenario][detection]") {
  World w({policy_000()});
  w.learner.cohort = "bureautique-en-ligne";
  w.learner.first_seen = local("2026-01-05T10:00");
  const InactivityRef ref = inactivity_ref(w.learner, w.policies[0], paris);
  CHECK(ref.since == local("2026-01-05T10:00"));
  CHECK_FALSE(ref.ever_active);
  w.learner.start_date = chr::sys_days{chr::year{2026} / 1 / 2};
  CHECK(inactivity_ref(w.learner, w.policies[0], paris).since == local("2026-01-02T00:00"));  // local midnight
}

TEST_CASE("detection: a learner who is not active (dropped out, archived) is not examined",
          "[domain][scenario][detection]") {
  World w({policy_000()});
  w.learner.cohort = "bureautique-en-ligne";
  w.learner.activity.observe(Source::lms, local("2026-01-05T10:00"));
  w.learner.status = LearnerStatus::archived;
  CHECK(w.tick(local("2026-03-01T10:00")).empty());
  CHECK(w.cases.empty());
}
