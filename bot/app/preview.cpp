#include "bot/app/preview.hpp"

#include "bot/domain/sms_text.hpp"

#include <algorithm>
#include <set>

namespace relance::app {

namespace fs = std::filesystem;

Params learner_message_params(const Config& config, const Learner& l) {
  // Engine::case_params starts from these: a preview is only worth something
  // if it is exactly what the outbox would render.
  Params p{{"learner", l.display_name()},
           {"learner_id", l.id},
           {"first_name", l.first_name.empty() ? l.display_name() : l.first_name},
           {"last_name", l.last_name},
           {"cohort", l.cohort.empty() ? "—" : l.cohort},
           {"training", l.cohort},
           {"organisation", config.organisation},
           {"platform_url", config.platform_url}};
  std::string contact = l.phone;
  if (!l.email.empty()) contact += (contact.empty() ? "" : ", ") + l.email;
  p["contact"] = contact.empty() ? "—" : contact;
  return p;
}

std::vector<std::string> learner_templates(const messages::Catalog& catalog) {
  std::set<std::string> names;
  constexpr std::string_view prefix = "learner.";
  for (const auto& k : catalog.keys(prefix)) {
    const auto dot = k.rfind('.');
    if (dot > prefix.size()) names.insert(k.substr(prefix.size(), dot - prefix.size()));
  }
  return {names.begin(), names.end()};
}

std::optional<std::string> resolve_learner_template(const messages::Catalog& catalog, std::string_view key) {
  std::string k(key);
  if (k.rfind("learner.", 0) != 0) k = "learner." + k;
  if (catalog.has("fr", k + ".sms") || catalog.has("fr", k + ".email_body")) return k;
  return std::nullopt;
}

std::vector<std::string> catalog_languages(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_directory()) continue;
    bool has_toml = false;
    for (const auto& f : fs::directory_iterator(e.path(), ec))
      if (f.path().extension() == ".toml") has_toml = true;
    if (has_toml) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    if ((a == "fr") != (b == "fr")) return a == "fr";
    return a < b;
  });
  if (out.empty()) out.push_back("fr");
  return out;
}

namespace {

// The UTF-8 sequences of `s`, one per code point (invalid bytes one by one:
// sms_length makes them U+FFFD, UCS-2 like any other outsider).
std::vector<std::string_view> code_points(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + n > s.size()) n = 1;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string in_guillemets(std::string_view ch) {
  if (ch == "\n") return "« \\n »";
  if (ch == "\u00a0") return "« espace insécable / no-break space U+00A0 »";
  if (ch == "\u202f") return "« espace fine insécable / narrow no-break space U+202F »";
  return "« " + std::string(ch) + " »";
}

std::string repeat(std::string_view unit, std::size_t n) {
  std::string s;
  while (s.size() < n) s += unit;
  s.resize(n);
  return s;
}

}  // namespace

SmsReport measure_sms(std::string_view text) {
  SmsReport r;
  r.length = sms_length(text);
  std::set<std::string_view> seen;
  for (auto ch : code_points(text)) {
    ++r.characters;
    if (r.length.encoding == SmsEncoding::ucs2 && !seen.count(ch) && sms_length(ch).encoding == SmsEncoding::ucs2) {
      seen.insert(ch);
      r.non_gsm.emplace_back(ch);
    }
  }
  return r;
}

std::string describe_sms(const SmsReport& r) {
  const bool gsm = r.length.encoding == SmsEncoding::gsm7;
  std::string s = gsm ? "GSM-7" : "UCS-2";
  if (!gsm && !r.non_gsm.empty()) {
    s += " (forcé par / forced by ";
    for (std::size_t i = 0; i < r.non_gsm.size(); ++i) s += (i ? ", " : "") + in_guillemets(r.non_gsm[i]);
    s += ")";
  }
  s += ", " + std::to_string(r.length.units) + (gsm ? " septets" : " UTF-16 units") + ", " +
       std::to_string(r.characters) + " caractères / characters, " + std::to_string(r.length.parts) +
       (r.length.parts == 1 ? " partie / part" : " parties / parts") + " (" + std::to_string(r.length.per_part) +
       " par partie / per part)";
  return s;
}

WorstCase sms_worst_case(const Config& config) {
  WorstCase w;
  // Letters only: GSM-7, one septet each, as long a value as a realistic file has.
  const std::string first_name = repeat("Maximilienne", 20);
  std::string training = repeat("Formation ", 40);
  std::string longest_cohort;
  for (const auto& p : config.policies)
    for (const auto& c : p.cohorts)
      if (c.size() > longest_cohort.size()) longest_cohort = c;
  for (const auto& [course, c] : config.moodle.course_cohorts)
    if (c.size() > longest_cohort.size()) longest_cohort = c;
  if (longest_cohort.size() > training.size()) training = longest_cohort;
  const std::string organisation = config.organisation.empty() ? repeat("Organisme ", 40) : config.organisation;
  const std::string url = config.platform_url.empty() ? std::string("https://formation.exemple.org/course/123") : config.platform_url;
  w.params = {{"first_name", first_name},   {"last_name", repeat("Martin-", 30)},
              {"training", training},       {"cohort", training},
              {"organisation", organisation}, {"platform_url", url},
              {"learner", first_name + " " + repeat("Martin-", 30)}, {"learner_id", repeat("0", 12)}};
  w.assumptions = {
      "first_name: 20 caractères / characters (GSM-7)",
      "training: " + std::to_string(training.size()) + " caractères / characters (" +
          (longest_cohort.size() > 40 ? "la cohorte configurée la plus longue / the longest configured cohort"
                                      : "40, ou la cohorte configurée la plus longue / or the longest configured cohort") +
          ")",
      "organisation: " + std::string(config.organisation.empty() ? "40 caractères / characters" : "configurée / as configured") +
          " (" + std::to_string(organisation.size()) + ")",
      "platform_url: " + std::string(config.platform_url.empty() ? "40 caractères / characters" : "configurée / as configured") +
          " (" + std::to_string(url.size()) + ")",
  };
  return w;
}

Params with_ucs2_first_name(Params p) {
  // 20 characters, two of which (đ) are outside GSM-7 with no close GSM-7
  // form (ç, ê, ô... are folded when sent: gsm7_fold).
  p["first_name"] = "Đurđica-Maximilienne";
  return p;
}

std::vector<SmsTemplateCheck> check_sms_templates(const Config& config, const messages::Catalog& catalog,
                                                  const std::vector<std::string>& languages) {
  std::vector<SmsTemplateCheck> out;
  const WorstCase w = sms_worst_case(config);
  const Params ucs2 = with_ucs2_first_name(w.params);
  for (const auto& name : learner_templates(catalog)) {
    const std::string key = "learner." + name + ".sms";
    for (const auto& lang : languages) {
      // A language without the key falls back to French, measured already.
      if (!catalog.has(lang, key)) continue;
      SmsTemplateCheck c;
      c.key = "learner." + name;
      c.language = lang;
      // As sent: folded to GSM-7 only when the text as written would not fit (fit_sms).
      c.worst = measure_sms(fit_sms(catalog.render(lang, key, w.params), config.sms.max_parts));
      c.ucs2_name = measure_sms(fit_sms(catalog.render(lang, key, ucs2), config.sms.max_parts));
      out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace relance::app
