// gsm7_fold: French typography to GSM-7 for SMS, so a "ç" in a learner's
// name does not turn a 2-part relaunch into a 5-part UCS-2 one.
#include "bot/domain/sms_text.hpp"

#include <catch2/catch.hpp>

using namespace relance;

TEST_CASE("gsm7_fold keeps French readable in GSM-7", "[sms][fold]") {
  const std::string folded = gsm7_fold("Bonjour François, l’équipe « Œuvre » vous attend… — à bientôt !");
  CHECK(folded == "Bonjour Francois, l'équipe \" OEuvre \" vous attend... - à bientot !");
  CHECK(sms_length(folded).encoding == SmsEncoding::gsm7);  // é, à stay: they are GSM-7
  CHECK(gsm7_fold("Zoë, ça va ? Très bien.") == "Zoe, ca va ? Très bien.");
  CHECK(gsm7_fold("«\u00a0oui\u00a0»") == "\"oui\"");
}

TEST_CASE("gsm7_fold keeps what has no GSM-7 form", "[sms][fold]") {
  const std::string s = gsm7_fold("Merci 👍 Đurđica");
  CHECK(s == "Merci 👍 Đurđica");
  CHECK(sms_length(s).encoding == SmsEncoding::ucs2);
  CHECK(gsm7_fold("") == "");
  CHECK(gsm7_fold("plain ASCII") == "plain ASCII");
}

TEST_CASE("fit_sms keeps accents when the text fits and folds only to fit", "[sms][fold]") {
  const std::string short_text = "Bonjour François, à lundi « 9 h » ?";
  CHECK(fit_sms(short_text, 1) == short_text);  // UCS-2, one part: intact
  std::string long_text = "Bonjour François, ";
  while (sms_length(long_text + "x").encoding == SmsEncoding::ucs2 && long_text.size() < 180) long_text += "reprise ";
  REQUIRE(sms_length(long_text).parts == 3);    // UCS-2: 3 parts of 67
  CHECK(fit_sms(long_text, 3) == long_text);
  CHECK(fit_sms(long_text, 2) == gsm7_fold(long_text));  // GSM-7: fits in 2 once folded
  CHECK(fit_sms(long_text, 0) == long_text);
  CHECK(fit_sms(std::string(400, 'x'), 1) == std::string(400, 'x'));  // too long either way: as written
}
