// Phone numbers in E.164, through libphonenumber. An invalid number is
// reported, never guessed.
#pragma once

#include <string>
#include <string_view>

namespace relance::app {

struct PhoneResult {
  std::string e164;   // "+33612345678" when valid
  std::string error;  // why not, in French, when invalid: "numéro de téléphone « NC » invalide : contient des lettres"
  std::string reason; // the why alone: "contient des lettres"
  bool ok() const { return error.empty(); }
};

// `region` applies to national forms ("06 12 34 56 78"); "+33 6 ..." and
// "0033 6 ..." are international. Empty input is ok with an empty e164.
PhoneResult normalize_phone(std::string_view raw, std::string_view region = "FR");

// The library is loaded on the first number (see phone.cpp); the verbs that
// may read numbers check at start that it is installed, so that a broken
// installation is refused then, not in the middle of an import or at the
// first SMS. Empty when it is there; otherwise what is wrong.
std::string phone_module_problem();

}  // namespace relance::app
