// One way in for learners: where a learner's message goes, decided here for
// every channel (SMS, email, Matrix today; the web page next), before any of
// it is stored. The app carries the route out (store, consent log, staff
// thread, sign of life) in the grouped-commit writer.
#pragma once

#include <cstdint>
#include <string_view>

namespace relance {

enum class InboundRoute : std::uint8_t {
  // Email from an address no learner has, answering none of our messages:
  // the mailbox learners answer to is often the front desk's, which gets
  // other mail too. Not relance's to store or post.
  not_ours,
  // Someone no learner is known as (an SMS from an unknown number, a Matrix
  // user): stored and shown to staff. They cannot consent to anything.
  unknown_sender,
  opt_out,      // STOP (SMS): no more SMS; staff told to phone
  opt_in,       // START (SMS): SMS allowed again
  form_answer,  // the learner has a conversational form waiting for an answer
  auto_reply,   // an out-of-office: stored, shown to staff, not a sign of life
  case_reply,   // the learner's reply: a sign of life, in the case's thread
};

struct InboundFacts {
  std::string_view channel;  // sms, email, matrix, web
  std::string_view text;
  bool learner_known = false;  // the sender (or the message it answers) names a learner
  bool automatic = false;      // the channel marks it as sent by a machine (Auto-Submitted...)
  bool form_open = false;      // a conversational form awaits this learner's answer
};

// In order: who it is from (not ours, unknown sender), a consent keyword
// (SMS), an open conversational form, an automatic answer, else the reply.
InboundRoute route_inbound(const InboundFacts& f);

}  // namespace relance
