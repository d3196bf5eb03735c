// Consent keywords as learners really type them on a phone: case, accents,
// punctuation, the operators' "STOP au 36173" habit, and the near misses that
// must stay plain messages for staff (a sentence that merely contains "stop").
#include "bot/domain/opt_out.hpp"

#include <catch2/catch.hpp>

#include <string_view>

using namespace relance;

namespace {

struct Row {
  std::string_view message;
  Consent expected;
};

const char* name(Consent c) {
  switch (c) {
    case Consent::none: return "none";
    case Consent::opt_out: return "opt_out";
    case Consent::opt_in: return "opt_in";
  }
  return "?";
}

template <std::size_t N>
void check_table(const Row (&rows)[N]) {
  for (const Row& r : rows) {
    INFO("message: [" << r.message << "]");
    CHECK(name(consent_keyword(r.message)) == std::string_view(name(r.expected)));
  }
}

}  // namespace

TEST_CASE("consent: STOP and its French forms opt out", "[consent]") {
  const Row rows[] = {
      {"STOP", Consent::opt_out},
      {"stop", Consent::opt_out},
      {"Stop", Consent::opt_out},
      {"Stop.", Consent::opt_out},
      {"stop !", Consent::opt_out},
      {"stop\u00A0!", Consent::opt_out},  // no-break space of French typography
      {"  stop  ", Consent::opt_out},
      {"\tSTOP\r\n", Consent::opt_out},
      {"STOP STOP", Consent::opt_out},
      {"STOP 😡", Consent::opt_out},
      {"« STOP »", Consent::opt_out},
      {"ARRET", Consent::opt_out},
      {"ARRÊT", Consent::opt_out},
      {"arrêt", Consent::opt_out},
      {"Arrêter", Consent::opt_out},
      {"désabonner", Consent::opt_out},
      {"DÉSABONNEMENT", Consent::opt_out},
      {"Désabonnez-moi", Consent::opt_out},
      {"desinscription", Consent::opt_out},
      {"Désinscription.", Consent::opt_out},
      {"désinscrire", Consent::opt_out},
      {"Désinscrivez-moi !", Consent::opt_out},
      {"UNSUBSCRIBE", Consent::opt_out},
      {"Unsubscribe", Consent::opt_out},
  };
  check_table(rows);
}

TEST_CASE("consent: SMS, PUB and a short number may follow the keyword", "[consent]") {
  const Row rows[] = {
      {"STOP SMS", Consent::opt_out},
      {"Stop sms", Consent::opt_out},
      {"STOP PUB", Consent::opt_out},
      {"STOP 36173", Consent::opt_out},
      {"STOP au 36173", Consent::opt_out},
      {"STOP SMS au 36173", Consent::opt_out},
      {"stop pub sms", Consent::opt_out},
      {"STOP-SMS", Consent::opt_out},
      {"ARRÊT SMS", Consent::opt_out},
      {"START SMS", Consent::opt_in},
      {"START 36173", Consent::opt_in},
  };
  check_table(rows);
}

TEST_CASE("consent: START, UNSTOP and RÉACTIVER opt back in", "[consent]") {
  const Row rows[] = {
      {"START", Consent::opt_in},
      {"start", Consent::opt_in},
      {"Start !", Consent::opt_in},
      {"UNSTOP", Consent::opt_in},
      {"unstop.", Consent::opt_in},
      {"RÉACTIVER", Consent::opt_in},
      {"réactiver", Consent::opt_in},
      {"Reactiver", Consent::opt_in},
  };
  check_table(rows);
}

TEST_CASE("consent: near misses stay plain messages for staff", "[consent]") {
  const Row rows[] = {
      // sentences that contain a keyword: a person reads them
      {"je ne veux pas que ça stop", Consent::none},
      {"stop ou encore ?", Consent::none},
      {"Stop, je rappelle demain", Consent::none},
      {"arrêtez de m'écrire", Consent::none},
      {"je veux me désabonner", Consent::none},
      {"merci de ne plus m'envoyer de SMS", Consent::none},
      {"on peut start lundi ?", Consent::none},
      {"SMS STOP", Consent::none},  // the keyword comes first
      // other words, not keywords
      {"Arrête !", Consent::none},  // colloquial "no way!"
      {"stopper", Consent::none},
      {"stoppez", Consent::none},
      {"restart", Consent::none},
      {"startup", Consent::none},
      {"reprendre", Consent::none},
      {"oui", Consent::none},
      {"non merci", Consent::none},
      {"s top", Consent::none},
      {"st0p", Consent::none},
      // qualifiers that are not the operators' ones
      {"STOP 0612345678", Consent::none},  // a phone number, not a short number
      {"STOP 12", Consent::none},
      {"STOP merci", Consent::none},
      {"STOP SMS svp", Consent::none},
      {"desabonnez", Consent::none},
      {"moi", Consent::none},
      // mixed or empty
      {"STOP START", Consent::none},
      {"start stop", Consent::none},
      {"", Consent::none},
      {"   ", Consent::none},
      {"?!", Consent::none},
      {"😡", Consent::none},
      {"SMS", Consent::none},
      {"36173", Consent::none},
  };
  check_table(rows);
}

TEST_CASE("consent: invalid UTF-8 never crashes", "[consent]") {
  const Row rows[] = {
      {"STOP \xFF", Consent::opt_out},  // a stray byte separates words like punctuation
      {"\xC3", Consent::none},
      {"ARR\xC3", Consent::none},
      {"\xFF\xFE\xFD", Consent::none},
      {std::string_view("stop\0", 5), Consent::opt_out},
  };
  check_table(rows);
}
