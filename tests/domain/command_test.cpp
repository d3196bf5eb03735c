// The staff command language: one parser for every staff channel. Every verb
// in French and English, the quotes people actually type, accents and case,
// and a precise error (usage key, reason key, offending token) for each
// malformed input — never silence.
#include "bot/domain/command.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <variant>
#include <vector>

using namespace relance;
namespace chr = std::chrono;

namespace {

template <class T>
T parse_as(std::string_view line) {
  INFO("line: " << line);
  const ParsedCommand r = parse_command(line);
  if (const auto* e = std::get_if<CommandError>(&r))
    FAIL("unexpected error " << e->usage_key << " / " << e->reason_key << " / " << e->detail);
  const Command& c = std::get<Command>(r);
  REQUIRE(std::holds_alternative<T>(c));
  return std::get<T>(c);
}

CommandError parse_error(std::string_view line) {
  INFO("line: " << line);
  const ParsedCommand r = parse_command(line);
  REQUIRE(std::holds_alternative<CommandError>(r));
  return std::get<CommandError>(r);
}

void check_error(std::string_view line, std::string_view usage, std::string_view reason, std::string_view detail = {}) {
  INFO("line: " << line);
  const CommandError e = parse_error(line);
  CHECK(e.usage_key == usage);
  CHECK(e.reason_key == reason);
  CHECK(e.detail == detail);
}

using Tokens = std::vector<std::string>;

}  // namespace

// ------------------------------------------------------------------ tokenize

TEST_CASE("tokenize splits on blanks and keeps quoted text together", "[domain][command][tokenize]") {
  CHECK(tokenize("relance 42 tel joint \"reprend lundi\"") == Tokens{"relance", "42", "tel", "joint", "reprend lundi"});
  CHECK(tokenize("  prendre\t42  \r\n") == Tokens{"prendre", "42"});
  CHECK(tokenize("") == Tokens{});
  CHECK(tokenize("   ") == Tokens{});
  CHECK(tokenize("abandon 42 \"\"") == Tokens{"abandon", "42", ""});
}

TEST_CASE("tokenize accepts “curly”, « French » and 'single' quotes", "[domain][command][tokenize]") {
  CHECK(tokenize("relance 42 tel joint \xE2\x80\x9Creprend lundi\xE2\x80\x9D") ==
        Tokens{"relance", "42", "tel", "joint", "reprend lundi"});
  CHECK(tokenize("relance 42 tel joint \xC2\xAB reprend lundi \xC2\xBB") ==
        Tokens{"relance", "42", "tel", "joint", "reprend lundi"});
  CHECK(tokenize("relance 42 tel joint 'reprend lundi'") == Tokens{"relance", "42", "tel", "joint", "reprend lundi"});
}

TEST_CASE("tokenize trims the no-break spaces French typography puts inside « guillemets »",
          "[domain][command][tokenize]") {
  // macOS and LibreOffice with French autocorrect type «\u00A0...\u00A0»
  // (no-break space) or the narrow no-break space U+202F.
  CHECK(tokenize("abandon 42 \xC2\xAB\xC2\xA0" "d\xC3\xA9m\xC3\xA9nagement\xC2\xA0\xC2\xBB") ==
        Tokens{"abandon", "42", "d\xC3\xA9m\xC3\xA9nagement"});
  CHECK(tokenize("abandon 42 \xC2\xAB\xE2\x80\xAF" "d\xC3\xA9m\xC3\xA9nagement\xE2\x80\xAF\xC2\xBB") ==
        Tokens{"abandon", "42", "d\xC3\xA9m\xC3\xA9nagement"});
}

TEST_CASE("an apostrophe inside a word is not a quote", "[domain][command][tokenize]") {
  CHECK(tokenize("vu 42 visite pass\xC3\xA9 \xC3\xA0 l'accueil") ==
        Tokens{"vu", "42", "visite", "pass\xC3\xA9", "\xC3\xA0", "l'accueil"});
  CHECK(tokenize("relance 42 tel joint \"c'est bon\"") == Tokens{"relance", "42", "tel", "joint", "c'est bon"});
}

TEST_CASE("an apostrophe inside a 'single-quoted' comment does not end it", "[domain][command][tokenize]") {
  // French comments are full of apostrophes: only a quote followed by a blank
  // or the end of the line closes 'single-quoted' text.
  CHECK(tokenize("relance 42 tel injoignable 'n'a pas r\xC3\xA9pondu'") ==
        Tokens{"relance", "42", "tel", "injoignable", "n'a pas r\xC3\xA9pondu"});
  CHECK(tokenize("vu 42 visite 'pass\xC3\xA9 \xC3\xA0 l'accueil' hier") ==
        Tokens{"vu", "42", "visite", "pass\xC3\xA9 \xC3\xA0 l'accueil", "hier"});
  CHECK(parse_as<LogCmd>("relance 42 tel injoignable 'n'a pas r\xC3\xA9pondu'").comment == "n'a pas r\xC3\xA9pondu");
  CHECK_FALSE(tokenize("abandon 42 'n'a pas").has_value());
}

TEST_CASE("an unterminated quote is refused", "[domain][command][tokenize]") {
  CHECK_FALSE(tokenize("relance 42 tel joint \"reprend lundi").has_value());
  CHECK_FALSE(tokenize("relance 42 tel joint \xE2\x80\x9Creprend lundi").has_value());
  CHECK_FALSE(tokenize("relance 42 tel joint \xC2\xAB reprend lundi").has_value());
  check_error("relance 42 tel joint \"reprend lundi", "usage.help", "error.unterminated_quote");
}

// ------------------------------------------------------------------ fold

TEST_CASE("fold lower-cases and strips French accents", "[domain][command][fold]") {
  CHECK(fold("RELANCE") == "relance");
  CHECK(fold("T\xC3\xA9l\xC3\xA9phone") == "telephone");                  // Téléphone
  CHECK(fold("R\xC3\x89" "CLAMATION") == "reclamation");                  // RÉCLAMATION
  CHECK(fold("\xC3\x80 \xC3\xA7\xC3\xA0 \xC3\xAE\xC3\xB4\xC3\xBB\xC3\xBF") == "a ca iouy");  // À çà îôûÿ
  CHECK(fold("\xC3\x8E" "le-de-France") == "ile-de-france");               // Île
  CHECK(fold("c\xC5\x93ur \xC5\x92uvre") == "coeur oeuvre");               // cœur Œuvre
  CHECK(fold("\xC3\x86") == "ae");                                         // Æ
  CHECK(fold("#42") == "#42");
  // Other UTF-8 passes through untouched.
  CHECK(fold("\xE2\x82\xAC") == "\xE2\x82\xAC");  // €
  CHECK(fold("\xC3\x97") == "\xC3\x97");          // ×, not a letter
}

// ------------------------------------------------------------------ claim

TEST_CASE("prendre / claim a case", "[domain][command][claim]") {
  CHECK(parse_as<ClaimCmd>("prendre 42").case_id == 42);
  CHECK(parse_as<ClaimCmd>("claim 42").case_id == 42);
  CHECK(parse_as<ClaimCmd>("take 7").case_id == 7);
  CHECK(parse_as<ClaimCmd>("prendre #42").case_id == 42);
  CHECK(parse_as<ClaimCmd>("PRENDRE 42").case_id == 42);
  CHECK(parse_as<ClaimCmd>("Claim #123456789").case_id == 123456789);
}

TEST_CASE("prendre: missing, bad and extra arguments", "[domain][command][claim][errors]") {
  check_error("prendre", "usage.claim", "error.missing_case");
  check_error("claim", "usage.claim", "error.missing_case");
  check_error("prendre abc", "usage.claim", "error.bad_case", "abc");
  check_error("prendre 42abc", "usage.claim", "error.bad_case", "42abc");
  check_error("prendre 0", "usage.claim", "error.bad_case", "0");
  check_error("prendre -3", "usage.claim", "error.bad_case", "-3");
  check_error("prendre #", "usage.claim", "error.bad_case", "#");
  check_error("prendre 1234567890123456", "usage.claim", "error.bad_case", "1234567890123456");
  check_error("prendre 42 43", "usage.claim", "error.too_many_args", "43");
}

// ------------------------------------------------------------------ log

TEST_CASE("relance / log with means, result and a quoted comment", "[domain][command][log]") {
  const LogCmd fr = parse_as<LogCmd>("relance 42 tel joint \"reprend lundi\"");
  CHECK(fr.case_id == 42);
  CHECK(fr.means == Means::phone);
  CHECK(fr.result == Result::reached);
  CHECK(fr.comment == "reprend lundi");

  const LogCmd en = parse_as<LogCmd>("log 42 phone reached \"back on monday\"");
  CHECK(en.case_id == 42);
  CHECK(en.means == Means::phone);
  CHECK(en.result == Result::reached);
  CHECK(en.comment == "back on monday");
}

TEST_CASE("relance: every means and result alias", "[domain][command][log]") {
  struct M { const char* word; Means means; };
  const M means[] = {
      {"sms", Means::sms},          {"texto", Means::sms},        {"email", Means::email},
      {"mail", Means::email},       {"courriel", Means::email},   {"e-mail", Means::email},
      {"tel", Means::phone},        {"phone", Means::phone},      {"appel", Means::phone},
      {"call", Means::phone},       {"t\xC3\xA9l\xC3\xA9phone", Means::phone},
      {"matrix", Means::matrix},    {"courrier", Means::letter},  {"letter", Means::letter},
      {"visite", Means::visit},     {"visit", Means::visit},      {"vocal", Means::voicemail},
      {"voicemail", Means::voicemail}, {"prescripteur", Means::prescriber_email},
      {"autre", Means::other},      {"other", Means::other},
  };
  for (const auto& m : means) {
    INFO("means " << m.word);
    CHECK(parse_as<LogCmd>(std::string("relance 1 ") + m.word + " joint").means == m.means);
  }
  struct R { const char* word; Result result; };
  const R results[] = {
      {"injoignable", Result::no_answer}, {"sans_reponse", Result::no_answer}, {"sans_r\xC3\xA9ponse", Result::no_answer},
      {"nrp", Result::no_answer},         {"no_answer", Result::no_answer},
      {"joint", Result::reached},         {"jointe", Result::reached},         {"reached", Result::reached},
      {"message", Result::message_left},  {"r\xC3\xA9pondeur", Result::message_left}, {"message_left", Result::message_left},
      {"repris", Result::resumed},        {"reprise", Result::resumed},       {"resumed", Result::resumed},
      {"abandon", Result::dropped_out},   {"dropout", Result::dropped_out},   {"dropped_out", Result::dropped_out},
      {"autre", Result::other},           {"other", Result::other},
  };
  for (const auto& r : results) {
    INFO("result " << r.word);
    CHECK(parse_as<LogCmd>(std::string("log 1 tel ") + r.word).result == r.result);
  }
}

TEST_CASE("relance: accents and case are folded in verbs, means and results", "[domain][command][log]") {
  const LogCmd c = parse_as<LogCmd>("RELANCE 42 T\xC3\xA9l\xC3\xA9phone JOINT \xC2\xAB rappelle demain \xC2\xBB");
  CHECK(c.case_id == 42);
  CHECK(c.means == Means::phone);
  CHECK(c.result == Result::reached);
  CHECK(c.comment == "rappelle demain");  // the comment keeps its own case
  CHECK(parse_as<LogCmd>("Relancer #42 SMS Injoignable").result == Result::no_answer);
  CHECK(parse_as<LogCmd>("noter 42 COURRIEL R\xC3\x89PONDEUR").result == Result::message_left);
}

TEST_CASE("relance: the comment may be “curly”-quoted, unquoted or absent", "[domain][command][log]") {
  CHECK(parse_as<LogCmd>("relance 42 sms injoignable \xE2\x80\x9Cpas de r\xC3\xA9ponse\xE2\x80\x9D").comment ==
        "pas de r\xC3\xA9ponse");
  CHECK(parse_as<LogCmd>("relance 42 tel joint reprend lundi").comment == "reprend lundi");
  CHECK(parse_as<LogCmd>("relance 42 tel joint").comment.empty());
  CHECK(parse_as<LogCmd>("relance 42 tel joint 'L\xC3\xA9o reprend'").comment == "L\xC3\xA9o reprend");
}

TEST_CASE("relance: each malformed form names what is wrong", "[domain][command][log][errors]") {
  check_error("relance", "usage.log", "error.missing_case");
  check_error("log", "usage.log", "error.missing_case");
  check_error("relance tel 42", "usage.log", "error.bad_case", "tel");
  check_error("relance 42", "usage.log", "error.missing_means");
  check_error("relance 42 pigeon joint", "usage.log", "error.bad_means", "pigeon");
  check_error("relance 42 tel", "usage.log", "error.missing_result");
  check_error("relance 42 tel peut-\xC3\xAAtre", "usage.log", "error.bad_result", "peut-\xC3\xAAtre");
  // `sent` is what the bot records for its own messages; staff cannot log it.
  check_error("relance 42 sms envoye", "usage.log", "error.bad_result", "envoye");
  check_error("relance 42 sms sent", "usage.log", "error.bad_result", "sent");
  check_error("relance 42 tel joint \"reprend lundi", "usage.help", "error.unterminated_quote");
}

// ------------------------------------------------------------------ resumed / dropout

TEST_CASE("repris / resumed, with an optional comment", "[domain][command][resumed]") {
  const ResumedCmd a = parse_as<ResumedCmd>("repris 42");
  CHECK(a.case_id == 42);
  CHECK(a.comment.empty());
  CHECK(parse_as<ResumedCmd>("resumed #42 \"back on monday\"").comment == "back on monday");
  CHECK(parse_as<ResumedCmd>("Reprise 42 revient lundi").comment == "revient lundi");
  CHECK(parse_as<ResumedCmd>("resume 9").case_id == 9);
  check_error("repris", "usage.resumed", "error.missing_case");
  check_error("resumed x", "usage.resumed", "error.bad_case", "x");
}

TEST_CASE("abandon / dropout, with a reason", "[domain][command][dropout]") {
  const DropoutCmd a = parse_as<DropoutCmd>("abandon 42 \"d\xC3\xA9m\xC3\xA9nagement\"");
  CHECK(a.case_id == 42);
  CHECK(a.reason == "d\xC3\xA9m\xC3\xA9nagement");
  CHECK(parse_as<DropoutCmd>("dropout 42 moving").reason == "moving");
  CHECK(parse_as<DropoutCmd>("ABANDON 42").reason.empty());
  check_error("abandon", "usage.dropout", "error.missing_case");
  check_error("dropout moving", "usage.dropout", "error.bad_case", "moving");
}

// ------------------------------------------------------------------ list

TEST_CASE("liste / list [mes|tous|retard]", "[domain][command][list]") {
  CHECK(parse_as<ListCmd>("liste").scope == ListScope::mine);
  CHECK(parse_as<ListCmd>("list").scope == ListScope::mine);
  CHECK(parse_as<ListCmd>("liste mes").scope == ListScope::mine);
  CHECK(parse_as<ListCmd>("list mine").scope == ListScope::mine);
  CHECK(parse_as<ListCmd>("liste tous").scope == ListScope::all);
  CHECK(parse_as<ListCmd>("list all").scope == ListScope::all);
  CHECK(parse_as<ListCmd>("LISTE TOUS").scope == ListScope::all);
  CHECK(parse_as<ListCmd>("liste retard").scope == ListScope::overdue);
  CHECK(parse_as<ListCmd>("list overdue").scope == ListScope::overdue);
  check_error("liste demain", "usage.list", "error.bad_scope", "demain");
  check_error("list all now", "usage.list", "error.too_many_args", "now");
}

// ------------------------------------------------------------------ show

TEST_CASE("dossier / show a case", "[domain][command][show]") {
  CHECK(parse_as<ShowCmd>("dossier 42").case_id == 42);
  CHECK(parse_as<ShowCmd>("show #42").case_id == 42);
  CHECK(parse_as<ShowCmd>("voir 42").case_id == 42);
  check_error("dossier", "usage.show", "error.missing_case");
  check_error("show abc", "usage.show", "error.bad_case", "abc");
  check_error("dossier 42 43", "usage.show", "error.too_many_args", "43");
}

// ------------------------------------------------------------------ stats

TEST_CASE("stats [YYYY-MM]", "[domain][command][stats]") {
  CHECK_FALSE(parse_as<StatsCmd>("stats").month.has_value());
  CHECK(parse_as<StatsCmd>("stats 2026-11").month == chr::year{2026} / chr::November);
  CHECK(parse_as<StatsCmd>("statistiques 11/2026").month == chr::year{2026} / chr::November);
  check_error("stats 2026-13", "usage.stats", "error.bad_month", "2026-13");
  check_error("stats novembre", "usage.stats", "error.bad_month", "novembre");
  check_error("stats 2026-1", "usage.stats", "error.bad_month", "2026-1");
  check_error("stats 2026-11 2026-12", "usage.stats", "error.too_many_args", "2026-12");
}

// ------------------------------------------------------------------ export

TEST_CASE("export [xlsx|csv] [YYYY-MM]", "[domain][command][export]") {
  const ExportCmd plain = parse_as<ExportCmd>("export");
  CHECK(plain.format == ExportFormat::xlsx);
  CHECK_FALSE(plain.month.has_value());
  CHECK(parse_as<ExportCmd>("export csv").format == ExportFormat::csv);
  CHECK(parse_as<ExportCmd>("export xlsx").format == ExportFormat::xlsx);
  CHECK(parse_as<ExportCmd>("exporter Excel").format == ExportFormat::xlsx);
  const ExportCmd both = parse_as<ExportCmd>("export CSV 2026-11");
  CHECK(both.format == ExportFormat::csv);
  CHECK(both.month == chr::year{2026} / chr::November);
  const ExportCmd month_first = parse_as<ExportCmd>("export 2026-10 csv");
  CHECK(month_first.format == ExportFormat::csv);
  CHECK(month_first.month == chr::year{2026} / chr::October);
  check_error("export pdf", "usage.export", "error.bad_format", "pdf");
  check_error("export csv 2026-13", "usage.export", "error.bad_format", "2026-13");
}

// ------------------------------------------------------------------ help

TEST_CASE("aide / help, with an optional topic", "[domain][command][help]") {
  CHECK(parse_as<HelpCmd>("aide").topic.empty());
  CHECK(parse_as<HelpCmd>("help").topic.empty());
  CHECK(parse_as<HelpCmd>("?").topic.empty());
  CHECK(parse_as<HelpCmd>("aide RELANCE").topic == "relance");
  CHECK(parse_as<HelpCmd>("help log").topic == "log");
}

// ------------------------------------------------------------------ sign of life

TEST_CASE("vu / seen: a sign of life staff vouch for", "[domain][command][sign]") {
  const SignCmd v = parse_as<SignCmd>("vu 42 visite \"pass\xC3\xA9 \xC3\xA0 l'accueil\"");
  CHECK(v.case_id == 42);
  CHECK(v.source == Source::visit);
  CHECK(v.comment == "pass\xC3\xA9 \xC3\xA0 l'accueil");
  CHECK(parse_as<SignCmd>("seen 42 call").source == Source::call);
  CHECK(parse_as<SignCmd>("vu 42 appel").source == Source::call);
  CHECK(parse_as<SignCmd>("vu 42 Le\xC3\xA7on").source == Source::lesson);
  CHECK(parse_as<SignCmd>("vu 42 r\xC3\xA9servation").source == Source::booking);
  CHECK(parse_as<SignCmd>("seen 42 email wrote back").comment == "wrote back");
  check_error("vu", "usage.sign", "error.missing_case");
  check_error("vu abc visite", "usage.sign", "error.bad_case", "abc");
  check_error("vu 42", "usage.sign", "error.missing_source");
  check_error("seen 42 pigeon", "usage.sign", "error.bad_source", "pigeon");
}

// ------------------------------------------------------------------ unknown

TEST_CASE("an unknown verb or an empty line gets a usage answer", "[domain][command][errors]") {
  check_error("bonjour 42", "usage.unknown", "error.unknown_verb", "bonjour");
  check_error("r\xC3\xA9" "clamer", "usage.unknown", "error.unknown_verb", "r\xC3\xA9" "clamer");
  check_error("", "usage.help", "error.empty");
  check_error("   ", "usage.help", "error.empty");
}

TEST_CASE("the case a command acts on is read from the command, not from its text again", "[command]") {
  auto cmd = [](std::string_view line) { return std::get<Command>(parse_command(line)); };
  CHECK(case_of(cmd("prendre 42")) == 42);
  CHECK(case_of(cmd("relance 7 tel joint \"ok\"")) == 7);
  CHECK(case_of(cmd("vu 3 visite")) == 3);
  CHECK_FALSE(case_of(cmd("liste")));
  CHECK_FALSE(case_of(cmd("aide")));
}

TEST_CASE("a command written back as a line reads as the same command", "[domain][command][line]") {
  // What a button, a menu option or a reaction did is logged and shown as
  // this line; staff typing it get the same effect.
  CHECK(command_line(ClaimCmd{42}) == "prendre 42");
  CHECK(command_line(LogCmd{42, Means::phone, Result::reached, ""}) == "relance 42 tel joint");
  CHECK(command_line(LogCmd{7, Means::sms, Result::message_left, "laissé à l'accueil"}) ==
        "relance 7 sms message laissé à l'accueil");
  CHECK(command_line(ResumedCmd{42, ""}) == "repris 42");
  CHECK(command_line(DropoutCmd{42, "déménagement"}) == "abandon 42 déménagement");
  CHECK(command_line(SignCmd{3, Source::visit, ""}) == "vu 3 visite");
  CHECK(command_line(ExportCmd{ExportFormat::csv, chr::year(2026) / chr::month(3)}) == "export csv 2026-03");

  std::vector<Command> all = {ClaimCmd{1}, ResumedCmd{2, "revenu lundi"}, DropoutCmd{3, ""}, ShowCmd{4},
                              ListCmd{ListScope::mine}, ListCmd{ListScope::all}, ListCmd{ListScope::overdue},
                              StatsCmd{}, StatsCmd{chr::year(2027) / chr::month(11)}, ExportCmd{}, HelpCmd{},
                              HelpCmd{"relance"}};
  for (auto m : {Means::sms, Means::email, Means::phone, Means::matrix, Means::letter, Means::visit, Means::voicemail,
                 Means::prescriber_email, Means::other})
    for (auto r : {Result::no_answer, Result::reached, Result::message_left, Result::resumed, Result::dropped_out,
                   Result::other})
      all.push_back(LogCmd{9, m, r, "rappeler demain"});
  for (std::size_t s = 0; s < source_count; ++s) all.push_back(SignCmd{5, Source(s), "à l'accueil"});
  for (const auto& c : all) {
    const std::string line = command_line(c);
    INFO("line: " << line);
    const ParsedCommand back = parse_command(line);
    REQUIRE(std::holds_alternative<Command>(back));
    CHECK(std::get<Command>(back).index() == c.index());
    CHECK(command_line(std::get<Command>(back)) == line);
    CHECK(case_of(std::get<Command>(back)) == case_of(c));
  }
  // The fields themselves, for the ones a button produces.
  const auto log = std::get<LogCmd>(std::get<Command>(parse_command(command_line(LogCmd{9, Means::voicemail,
                                                                                         Result::no_answer, "x"}))));
  CHECK(log.means == Means::voicemail);
  CHECK(log.result == Result::no_answer);
  CHECK(log.comment == "x");
}
