#include "bot/domain/inbound.hpp"

#include "bot/domain/opt_out.hpp"

namespace relance {

InboundRoute route_inbound(const InboundFacts& f) {
  if (!f.learner_known) return f.channel == "email" ? InboundRoute::not_ours : InboundRoute::unknown_sender;
  if (f.channel == "sms") {
    const Consent c = consent_keyword(f.text);
    if (c == Consent::opt_out) return InboundRoute::opt_out;
    if (c == Consent::opt_in) return InboundRoute::opt_in;
  }
  // A form's question is answered by whatever comes, even "ok" or a
  // one-word "non": the form decides what it accepts.
  if (f.form_open && !f.automatic) return InboundRoute::form_answer;
  if (f.automatic) return InboundRoute::auto_reply;
  return InboundRoute::case_reply;
}

}  // namespace relance
