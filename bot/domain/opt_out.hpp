// Consent keywords in a learner's inbound SMS or email: STOP and its French
// forms take the learner off automatic relaunches, START puts them back.
//
// The keyword must be the WHOLE message. "je ne veux pas que ça stop" or
// "arrêtez de m'écrire" are NOT opt-outs. This is deliberate: a false
// positive silences a learner who is talking to us, and staff see every
// inbound message anyway, so a sentence asking to stop reaches a person who
// can record it. What is ignored around the keyword: case, French accents
// (ARRÊT = arret), punctuation, spaces (no-break ones too), emoji, and these
// trailing qualifiers in any order: SMS, PUB, "au", and a short number of
// 4 to 6 digits (people copy "STOP au 36173" from operators' advertising
// footers). A keyword may be repeated ("STOP STOP"). Anything else, such as
// a mix of opt-out and opt-in words or a 10-digit phone number, gives none.
//
// Opt-out words: stop, arret, arreter, desabonner, desabonnement,
// desinscrire, desinscription, unsubscribe, and "desabonnez-moi",
// "desinscrivez-moi". Not "arrête!" (colloquial "no way!"), not "stopper".
//
// Opt-in words: start, unstop, reactiver. Deliberately not "reprendre" nor
// "oui": a learner answering a relaunch with "Reprendre" means the training,
// and coming back after a STOP must be an explicit, unambiguous request.
#pragma once

#include <cstdint>
#include <string_view>

namespace relance {

enum class Consent : std::uint8_t { none, opt_out, opt_in };

Consent consent_keyword(std::string_view utf8_message);

}  // namespace relance
