// What a learner message looks like before it is sent: `relance messages
// preview` (one template, one stored learner, one channel) and the SMS length
// check of `relance check-config` (every SMS template, every language, with
// worst-case values). Pure: the caller loads the learner and the catalog.
#pragma once

#include "bot/app/config.hpp"
#include "bot/domain/learner.hpp"
#include "bot/domain/sms_text.hpp"
#include "messages/catalog.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::app {

// The parameters a learner message is rendered with, as the engine gives them
// to a relaunch step (Engine::case_params, without what only a case knows:
// its number, policy and dates, which learner templates do not use).
Params learner_message_params(const Config& config, const Learner& l);

// "reminder_10d" or "learner.reminder_10d" -> "learner.reminder_10d" when the
// catalog has it (its .sms or .email_body); std::nullopt otherwise.
std::optional<std::string> resolve_learner_template(const messages::Catalog& catalog, std::string_view key);
// The learner templates the catalog has, without the "learner." prefix.
std::vector<std::string> learner_templates(const messages::Catalog& catalog);

// The languages of a messages folder: its sub-folders holding *.toml files, fr first.
std::vector<std::string> catalog_languages(const std::filesystem::path& dir);

// An SMS text measured as the gateway will bill it.
struct SmsReport {
  SmsLength length;
  int characters = 0;                  // Unicode code points, as a person counts them
  std::vector<std::string> non_gsm;    // distinct characters that force UCS-2, in order of appearance
};
SmsReport measure_sms(std::string_view text);
// "GSM-7, 212 septets (characters: 210), 2 parts of 153" / "UCS-2 (forced by « ê », « ’ »), 96 UTF-16 units ..."
std::string describe_sms(const SmsReport& r);

// The values an SMS template is checked with: long enough to be the worst a
// realistic learner file brings. `assumptions` says which, for the output.
struct WorstCase {
  Params params;
  std::vector<std::string> assumptions;
};
// first_name 20 characters; training the longest configured cohort or 40
// characters; organisation and platform_url as configured (40 characters when
// not configured). All GSM-7: a name outside GSM-7 (François, Anaïs) makes
// the text UCS-2, which `ucs2_first_name` measures separately.
WorstCase sms_worst_case(const Config& config);
// The same, with a 20-character first name forcing UCS-2.
Params with_ucs2_first_name(Params p);

// One SMS template of one language measured with the worst case.
struct SmsTemplateCheck {
  std::string key;       // learner.reminder_10d
  std::string language;  // fr
  SmsReport worst;       // GSM-7 worst case: refused beyond max_parts
  SmsReport ucs2_name;   // the same with a first name outside GSM-7: told, not refused
  bool exceeds(int max_parts) const { return worst.length.parts > max_parts; }
};
std::vector<SmsTemplateCheck> check_sms_templates(const Config& config, const messages::Catalog& catalog,
                                                  const std::vector<std::string>& languages);

}  // namespace relance::app
