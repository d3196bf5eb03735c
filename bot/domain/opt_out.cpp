#include "bot/domain/opt_out.hpp"

#include "bot/domain/command.hpp"  // fold()

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace relance {
namespace {

// Words after folding: runs of ASCII letters and digits. Everything else
// (punctuation, blanks, no-break spaces, guillemets, emoji, letters fold()
// does not know) separates words.
std::vector<std::string> words(std::string_view message) {
  const std::string folded = fold(message);
  std::vector<std::string> out;
  std::string w;
  for (const char c : folded) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      w += c;
    } else if (!w.empty()) {
      out.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty()) out.push_back(std::move(w));
  return out;
}

struct Keyword {
  std::array<std::string_view, 2> words;  // second empty for a one-word keyword
  Consent consent;
};

constexpr std::array keywords{
    Keyword{{"stop", ""}, Consent::opt_out},
    Keyword{{"arret", ""}, Consent::opt_out},
    Keyword{{"arreter", ""}, Consent::opt_out},
    Keyword{{"desabonner", ""}, Consent::opt_out},
    Keyword{{"desabonnement", ""}, Consent::opt_out},
    Keyword{{"desinscrire", ""}, Consent::opt_out},
    Keyword{{"desinscription", ""}, Consent::opt_out},
    Keyword{{"unsubscribe", ""}, Consent::opt_out},
    Keyword{{"desabonnez", "moi"}, Consent::opt_out},
    Keyword{{"desinscrivez", "moi"}, Consent::opt_out},
    Keyword{{"start", ""}, Consent::opt_in},
    Keyword{{"unstop", ""}, Consent::opt_in},
    Keyword{{"reactiver", ""}, Consent::opt_in},
};

// What may follow the keyword: "STOP SMS", "STOP PUB", "STOP au 36173".
bool qualifier(std::string_view w) {
  if (w == "sms" || w == "pub" || w == "au") return true;
  // A short number (French SMS+ numbers have 5 digits), not a phone number.
  return w.size() >= 4 && w.size() <= 6 &&
         std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Consent consent_keyword(std::string_view utf8_message) {
  const std::vector<std::string> w = words(utf8_message);
  Consent found = Consent::none;
  std::size_t i = 0;
  for (bool matched = true; matched && i < w.size();) {
    matched = false;
    for (const Keyword& k : keywords) {
      const std::size_t n = k.words[1].empty() ? 1 : 2;
      if (i + n > w.size() || w[i] != k.words[0] || (n == 2 && w[i + 1] != k.words[1])) continue;
      if (found != Consent::none && found != k.consent) return Consent::none;  // "stop start"
      found = k.consent;
      i += n;
      matched = true;
      break;
    }
  }
  if (found == Consent::none) return Consent::none;
  for (; i < w.size(); ++i)
    if (!qualifier(w[i])) return Consent::none;
  return found;
}

}  // namespace relance
