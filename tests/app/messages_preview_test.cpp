// Learner messages before they are sent: the SMS length of every shipped
// template (worst case and realistic values), `relance messages preview`
// and the SMS checks of `relance check-config`, on the real binary.
#include "bot/app/preview.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <memory>

using namespace relance;
using namespace relance::app;
using relance::test::TempDir;
using relance::test::write_file;

namespace {

messages::Catalog shipped() { return messages::Catalog::load(messages::Catalog::default_dir()); }

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr
};

// `env` is prepended to the command line (VAR=value ...).
Run run(const std::string& env, const std::string& args) {
  const std::string cmd = env + " " + RELANCE_BINARY + " " + args + " 2>&1";
  Run r;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  REQUIRE(p);
  std::array<char, 4096> buf{};
  while (auto n = fread(buf.data(), 1, buf.size(), p.get())) r.out.append(buf.data(), n);
  const int status = pclose(p.release());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string kannel_config(const TempDir& dir, int max_parts) {
  return "[organisation]\nname = \"Organisme de formation Exemple\"\nplatform_url = \"https://moodle.exemple.fr\"\n"
         "[store]\npath = \"" + (dir / "relance.db").string() + "\"\n"
         "[import.generic.columns]\nid = \"Matricule\"\nfirst_name = \"Prénom\"\nlast_name = \"Nom\"\n"
         "email = \"Email\"\nphone = \"Téléphone\"\nmatrix = \"Matrix\"\ncohort = \"Formation\"\n"
         "[sms]\ngateway = \"kannel\"\nmax_parts = " + std::to_string(max_parts) + "\n"
         "[sms.kannel]\nsendsms_url = \"http://127.0.0.1:13013/cgi-bin/sendsms\"\nusername = \"relance\"\n"
         "from = \"ORGANISME\"\npublic_url = \"http://127.0.0.1:8080\"\n";
}

const std::string kannel_env = "RELANCE_KANNEL_PASSWORD=pw-for-tests RELANCE_KANNEL_SECRET=0123456789abcdef-secret";

}  // namespace

TEST_CASE("every shipped SMS template fits the default max_parts with worst-case values", "[messages][sms]") {
  const auto cat = shipped();
  const Config defaults;  // max_parts 3, no organisation URL: 40-character stand-ins
  const auto checks = check_sms_templates(defaults, cat, catalog_languages(messages::Catalog::default_dir()));
  REQUIRE(checks.size() >= 10);  // 5 templates, fr and en
  for (const auto& c : checks) {
    INFO(c.key << " (" << c.language << "): " << describe_sms(c.worst));
    CHECK(c.worst.length.encoding == SmsEncoding::gsm7);
    CHECK(c.worst.length.parts <= defaults.sms.max_parts);
    CHECK_FALSE(c.exceeds(defaults.sms.max_parts));
  }
}

TEST_CASE("every shipped SMS template is 2 GSM-7 parts at most with realistic values", "[messages][sms]") {
  const auto cat = shipped();
  Config c;
  c.organisation = "Auto-école du Centre, Saint-Étienne";  // 35 characters
  c.platform_url = "https://formation.exemple.fr/my/";
  Learner l;
  l.id = "A-1";
  l.first_name = "Jean-Baptiste";
  l.last_name = "Martin";
  l.cohort = "Bureautique en ligne (TOSA)";
  const Params p = learner_message_params(c, l);
  for (const auto& name : learner_templates(cat))
    for (const char* lang : {"fr", "en"}) {
      const auto text = cat.render(lang, "learner." + name + ".sms", p);
      const auto r = measure_sms(text);
      INFO(name << " (" << lang << "): " << describe_sms(r) << "\n" << text);
      CHECK(r.length.encoding == SmsEncoding::gsm7);
      CHECK(r.length.parts <= 2);
      CHECK(text.find('{') == std::string::npos);  // every placeholder filled
    }
}

TEST_CASE("measure_sms names the characters that force UCS-2", "[messages][sms]") {
  const auto gsm = measure_sms("Bonjour Zoé, à très bientôt ? Non : à bientôt !");
  CHECK(gsm.length.encoding == SmsEncoding::ucs2);  // ô
  CHECK(gsm.non_gsm == std::vector<std::string>{"ô"});
  const auto r = measure_sms("L’équipe « Forêt » vous répond…");
  CHECK(r.length.encoding == SmsEncoding::ucs2);
  CHECK(r.non_gsm == std::vector<std::string>{"’", "«", "ê", "»", "…"});
  CHECK(r.characters == 31);
  CHECK_THAT(describe_sms(r), Catch::Contains("UCS-2") && Catch::Contains("« ’ »") && Catch::Contains("1 partie"));
  const auto plain = measure_sms("Bonjour Léa, à bientôt sur la plateforme.");
  CHECK(plain.length.encoding == SmsEncoding::ucs2);
  const auto ok = measure_sms("Bonjour Léa, à demain sur la plateforme.");
  CHECK(ok.length.encoding == SmsEncoding::gsm7);
  CHECK(ok.non_gsm.empty());
  CHECK_THAT(describe_sms(ok), Catch::StartsWith("GSM-7, 40 septets"));
}

TEST_CASE("learner templates resolve with or without their prefix", "[messages][preview]") {
  const auto cat = shipped();
  CHECK(resolve_learner_template(cat, "reminder_10d") == std::optional<std::string>("learner.reminder_10d"));
  CHECK(resolve_learner_template(cat, "learner.ladder_2") == std::optional<std::string>("learner.ladder_2"));
  CHECK_FALSE(resolve_learner_template(cat, "call_30d"));  // a staff task script, not a learner message
  CHECK_FALSE(resolve_learner_template(cat, "nope"));
  const auto names = learner_templates(cat);
  for (const char* n : {"reminder_10d", "contact_30d", "ladder_1", "ladder_2", "never_accessed"})
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
}

TEST_CASE("relance messages preview renders a stored learner's message per channel", "[messages][preview][cli]") {
  TempDir dir;
  const auto config = dir / "relance.toml";
  write_file(config, kannel_config(dir, 3));
  write_file(dir / "eleves.csv",
             "Matricule;Prénom;Nom;Email;Téléphone;Matrix;Formation\n"
             "A-1;Léa;Martin;lea@exemple.fr;06 12 34 56 78;@lea:matrix.exemple.fr;Bureautique en ligne\n"
             "A-2;Tom;Durand;tom@exemple.fr;;;Bureautique en ligne\n");
  const std::string cfg = "--config " + config.string();
  REQUIRE(run("", cfg + " migrate").code == 0);
  REQUIRE(run("", cfg + " import " + (dir / "eleves.csv").string()).code == 0);

  auto sms = run("", "messages preview reminder_10d --learner A-1 --channel sms " + cfg);
  INFO(sms.out);
  CHECK(sms.code == 0);
  CHECK_THAT(sms.out, Catch::Contains("Bonjour Léa, nous ne vous avons pas vu(e)") &&
                          Catch::Contains("Bureautique en ligne") && Catch::Contains("https://moodle.exemple.fr") &&
                          Catch::Contains("Organisme de formation Exemple") && Catch::Contains("+33612345678") &&
                          Catch::Contains("GSM-7") && Catch::Contains("[sms] max_parts = 3: OK"));

  auto email = run("", cfg + " messages preview learner.contact_30d --learner A-1 --channel email");
  INFO(email.out);
  CHECK(email.code == 0);
  CHECK_THAT(email.out, Catch::Contains("Subject: Léa, pouvons-nous faire le point ensemble") &&
                            Catch::Contains("lea@exemple.fr") && Catch::Contains("tutorat") &&
                            Catch::Contains("HTML"));

  auto matrix = run("", cfg + " messages preview ladder_1 --learner A-1 --channel matrix");
  INFO(matrix.out);
  CHECK(matrix.code == 0);
  CHECK_THAT(matrix.out, Catch::Contains("@lea:matrix.exemple.fr") && Catch::Contains("plan de reprise"));

  auto no_phone = run("", cfg + " messages preview ladder_1 --learner A-2 --channel sms");
  CHECK(no_phone.code == 0);
  CHECK_THAT(no_phone.out, Catch::Contains("no address"));

  auto bad_key = run("", cfg + " messages preview reminder_99d --learner A-1 --channel sms");
  CHECK(bad_key.code == 2);
  CHECK_THAT(bad_key.out, Catch::Contains("reminder_99d") && Catch::Contains("reminder_10d") &&
                              Catch::Contains("never_accessed"));
  auto bad_learner = run("", cfg + " messages preview reminder_10d --learner Z-9 --channel sms");
  CHECK(bad_learner.code == 2);
  CHECK_THAT(bad_learner.out, Catch::Contains("Z-9") && Catch::Contains("A-1") && Catch::Contains("A-2"));
  auto bad_channel = run("", cfg + " messages preview reminder_10d --learner A-1 --channel fax");
  CHECK(bad_channel.code == 2);
  CHECK_THAT(bad_channel.out, Catch::Contains("fax") && Catch::Contains("sms, email, matrix"));
}

TEST_CASE("check-config measures SMS templates and refuses one that can exceed max_parts", "[config][sms][cli]") {
  TempDir dir;
  const auto ok_file = dir / "ok.toml";
  write_file(ok_file, kannel_config(dir, 3));
  auto ok = run(kannel_env, "check-config " + ok_file.string());
  INFO(ok.out);
  CHECK(ok.code == 0);
  CHECK_THAT(ok.out, Catch::Contains("learner.reminder_10d.sms (fr)") && Catch::Contains("learner.ladder_1.sms (en)") &&
                         Catch::Contains("first_name: 20") && Catch::Contains("group = sms-service") &&
                         Catch::Contains("/hooks/sms/kannel?secret=RELANCE_KANNEL_SECRET") &&
                         Catch::Contains("configuration OK"));
  CHECK_THAT(ok.out, !Catch::Contains("0123456789abcdef-secret") && !Catch::Contains("pw-for-tests"));

  const auto tight = dir / "tight.toml";
  write_file(tight, kannel_config(dir, 1));
  auto refused = run(kannel_env, "--config " + tight.string() + " check-config");
  INFO(refused.out);
  CHECK(refused.code == 2);
  CHECK_THAT(refused.out, Catch::Contains("SMS template 'learner.reminder_10d.sms' (fr) can reach 2 parts, [sms] max_parts = 1") &&
                              Catch::Contains("(en)") && Catch::Contains("first_name: 20"));
  CHECK_THAT(refused.out, !Catch::Contains("configuration OK"));

  // Twilio: the gateway's own problems, after the secrets.
  const auto twilio = dir / "twilio.toml";
  write_file(twilio, "[organisation]\nname = \"Organisme de formation Exemple\"\nplatform_url = \"https://moodle.exemple.fr\"\n"
                     "[sms]\ngateway = \"twilio\"\n[sms.twilio]\naccount_sid = \"AC0123\"\nfrom = \"+33700000000\"\n"
                     "webhook_url = \"https://relance.example.org/hooks/sms/twilio\"\n");
  auto no_token = run("", "check-config " + twilio.string());
  CHECK(no_token.code == 2);
  CHECK_THAT(no_token.out, Catch::Contains("RELANCE_TWILIO_AUTH_TOKEN"));
  auto with_token = run("RELANCE_TWILIO_AUTH_TOKEN=tok", "check-config " + twilio.string());
  INFO(with_token.out);
  CHECK(with_token.code == 0);
}
