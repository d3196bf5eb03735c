// The tracking register (procedure 001) written as XLSX and CSV, and read back:
// the XLSX is unzipped and its cells compared; the CSV is compared byte-wise
// where French Excel is picky (BOM, ';', quoting, CRLF).
#include "bot/app/export.hpp"
#include "store/repositories.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

using namespace relance;
using relance::test::utc;

namespace {

namespace chr = std::chrono;

// --- reading an .xlsx back (unzip -p, then the few XML shapes libxlsxwriter writes) ---

std::string run(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  REQUIRE(p);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
  return out;
}

std::string unzip(const std::filesystem::path& xlsx, const std::string& member) {
  return run("unzip -p '" + xlsx.string() + "' " + member);
}

std::string xml_unescape(std::string s) {
  static const std::pair<std::string, std::string> entities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities)
    for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}

std::vector<std::string> shared_strings(const std::string& xml) {
  std::vector<std::string> out;
  for (std::size_t at = 0; (at = xml.find("<si>", at)) != std::string::npos;) {
    const std::size_t end = xml.find("</si>", at);
    const std::string si = xml.substr(at, end - at);
    std::string text;
    for (std::size_t t = 0; (t = si.find("<t", t)) != std::string::npos;) {
      const std::size_t open_end = si.find('>', t);
      const std::size_t close = si.find("</t>", open_end);
      text += si.substr(open_end + 1, close - open_end - 1);
      t = close;
    }
    out.push_back(xml_unescape(text));
    at = end;
  }
  return out;
}

struct Sheet {
  std::map<std::string, std::string> cells;  // "A3" -> text (shared strings resolved) or number
  std::map<std::string, std::string> styles; // "A3" -> style index
  std::string xml;
  std::string at(const std::string& ref) const {
    auto it = cells.find(ref);
    return it == cells.end() ? std::string() : it->second;
  }
  // The row number (1-based) whose column A holds `text`.
  int row_of(const std::string& text) const {
    for (const auto& [ref, v] : cells)
      if (ref[0] == 'A' && std::isdigit(static_cast<unsigned char>(ref[1])) && v == text) return std::stoi(ref.substr(1));
    return 0;
  }
};

Sheet read_sheet(const std::filesystem::path& xlsx) {
  Sheet s;
  const auto strings = shared_strings(unzip(xlsx, "xl/sharedStrings.xml"));
  s.xml = unzip(xlsx, "xl/worksheets/sheet1.xml");
  static const std::regex cell(R"re(<c r="([A-Z]+[0-9]+)"((?: [a-z]+="[^"]*")*)(?:/>|>(?:<f>[^<]*</f>)?<v>([^<]*)</v></c>))re");
  static const std::regex attr(R"re( ([a-z]+)="([^"]*)")re");
  for (std::sregex_iterator it(s.xml.begin(), s.xml.end(), cell), end; it != end; ++it) {
    const std::string ref = (*it)[1];
    const std::string attrs = (*it)[2];
    std::string value = (*it)[3];
    bool shared = false;
    for (std::sregex_iterator a(attrs.begin(), attrs.end(), attr); a != end; ++a) {
      if ((*a)[1] == "t" && (*a)[2] == "s") shared = true;
      if ((*a)[1] == "s") s.styles[ref] = (*a)[2];
    }
    if (shared) value = strings.at(std::stoul(value));
    s.cells[ref] = value;
  }
  return s;
}

// Excel's serial day number (1900 date system): days since 1899-12-30.
std::string excel_serial(chr::year_month_day d) {
  return std::to_string((chr::sys_days{d} - chr::sys_days{chr::year{1899} / 12 / 30}).count());
}

// --- the seeded register (Paris time; March 2026 holds the spring DST change) ---

Step step(std::string name, StepAction action, Means means, std::string role, int after_days) {
  Step s;
  s.name = std::move(name);
  s.action = action;
  s.means = means;
  s.role = std::move(role);
  s.after_previous = chr::days{after_days};
  return s;
}

// Procedure 001's ladder.
Plan plan_001() {
  Plan p;
  p.id = "001";
  p.steps = {step("relance 1", StepAction::message_learner, Means::sms, "secretariat", 0),
             step("relance 2", StepAction::message_learner, Means::email, "pedagogie", 7),
             step("relance 3", StepAction::staff_task, Means::phone, "direction", 14)};
  p.steps.back().optional = true;
  p.on_exhausted = OnExhausted::declare_dropout;
  return p;
}

struct Seeded {
  std::int64_t resumed = 0, dropout = 0, in_progress = 0, before = 0, after = 0, staff_resumed = 0;
};

std::int64_t add_learner(store::LearnerRepo& repo, std::string id, std::string first, std::string last, std::string cohort,
                         std::optional<Timestamp> lesson) {
  Learner l;
  l.id = std::move(id);
  l.first_name = std::move(first);
  l.last_name = std::move(last);
  l.cohort = std::move(cohort);
  repo.upsert(l, utc("2025-09-01T08:00:00Z"));
  if (lesson) repo.observe(l.key, Source::lesson, *lesson, *lesson);
  return l.key;
}

std::int64_t add_case(store::CaseRepo& repo, std::int64_t learner, std::string_view opened, std::string_view ref,
                      CaseState state, std::optional<std::string_view> closed = {}, std::string note = {},
                      std::string assignee = {}, int relaunches = 0) {
  Case c;
  c.learner_key = learner;
  c.policy_id = "001-auto-ecole";
  c.plan = plan_001();
  c.state = state;
  c.opened_at = utc(opened);
  c.activity_ref = utc(ref);
  if (closed) c.closed_at = utc(*closed);
  c.outcome_note = std::move(note);
  c.assignee = std::move(assignee);
  c.relaunches = relaunches;
  repo.insert(c);
  return c.id;
}

void add_relaunch(store::RelaunchRepo& repo, std::int64_t case_id, std::string_view at, int step, Means means, Result result,
                  std::string comment = {}, std::string actor = "relance") {
  Relaunch r;
  r.case_id = case_id;
  r.at = utc(at);
  r.step = step;
  r.means = means;
  r.result = result;
  r.comment = std::move(comment);
  r.automatic = actor == "relance";
  r.actor = std::move(actor);
  repo.insert(r);
}

Seeded seed(store::Database& db) {
  store::WriteTransaction tx(db);
  store::LearnerRepo learners(db);
  store::CaseRepo cases(db);
  store::RelaunchRepo relaunches(db);
  store::TaskRepo tasks(db);
  Seeded s;

  // Resumed: SMS by the bot, a call logged by staff, then a lesson closes it.
  const auto elodie = add_learner(learners, "E001", "Élodie", "Lefèvre", "Permis B — mars", utc("2026-03-09T08:00:00Z"));
  s.resumed = add_case(cases, elodie, "2026-03-02T09:00:00Z", "2025-12-01T10:00:00Z", CaseState::resumed,
                       "2026-03-09T08:00:00Z", "activity:lesson", "alice", 2);
  add_relaunch(relaunches, s.resumed, "2026-03-02T09:00:00Z", 0, Means::sms, Result::sent);
  add_relaunch(relaunches, s.resumed, "2026-03-05T14:00:00Z", 0, Means::phone, Result::reached,
               "reprend lundi; a dit \"merci\"", "alice");

  // Dropout declared after 3 relaunches without answer. Closed on 28 Feb at
  // 23:30 UTC, which is 1 March 00:30 in Paris: inside March.
  const auto jerome = add_learner(learners, "E002", "Jérôme", "Dupré-Noël", "Permis B — janvier", utc("2025-11-01T10:00:00Z"));
  s.dropout = add_case(cases, jerome, "2026-02-01T09:00:00Z", "2025-11-01T10:00:00Z", CaseState::dropped_out,
                       "2026-02-28T23:30:00Z", "dropout_declared", "", 3);
  add_relaunch(relaunches, s.dropout, "2026-02-01T09:00:00Z", 0, Means::sms, Result::sent);
  add_relaunch(relaunches, s.dropout, "2026-02-08T09:00:00Z", 1, Means::email, Result::sent);
  add_relaunch(relaunches, s.dropout, "2026-02-22T10:00:00Z", 2, Means::phone, Result::no_answer, "messagerie pleine", "bruno");

  // In progress, claimed; its last call, 31 March 22:30 UTC, is 1 April in Paris.
  const auto zoe = add_learner(learners, "E003", "Zoé", "Martin", "Code — mars", utc("2025-12-20T10:00:00Z"));
  s.in_progress = add_case(cases, zoe, "2026-03-20T09:00:00Z", "2025-12-20T10:00:00Z", CaseState::claimed, {}, "", "alice", 2);
  add_relaunch(relaunches, s.in_progress, "2026-03-20T09:00:00Z", 0, Means::sms, Result::sent);
  add_relaunch(relaunches, s.in_progress, "2026-03-31T22:30:00Z", 0, Means::phone, Result::no_answer, "", "alice");
  store::Task overdue;
  overdue.case_id = s.in_progress;
  overdue.step = 1;
  overdue.role = "pedagogie";
  overdue.means = Means::email;
  overdue.template_key = "task.email";
  overdue.created_at = utc("2026-03-30T09:00:00Z");
  overdue.due = utc("2026-04-01T09:00:00Z");
  tasks.insert(overdue);
  // A task done in time (on another case) is not overdue.
  store::Task done = overdue;
  done.case_id = s.resumed;
  done.due = utc("2026-03-07T09:00:00Z");
  tasks.insert(done);
  tasks.complete_for_case(s.resumed, "alice", utc("2026-03-05T14:00:00Z"));

  // Resumed by staff in March after a February relaunch.
  const auto samir = add_learner(learners, "E006", "Samir", "Benali", "Permis B — janvier", utc("2026-03-03T10:00:00Z"));
  s.staff_resumed = add_case(cases, samir, "2026-02-20T09:00:00Z", "2025-11-15T10:00:00Z", CaseState::resumed,
                             "2026-03-03T10:00:00Z", "a repris ses leçons", "bruno", 1);
  add_relaunch(relaunches, s.staff_resumed, "2026-02-20T09:00:00Z", 0, Means::sms, Result::sent);

  // Outside March: closed in February, and opened in April (never active).
  const auto lucas = add_learner(learners, "E004", "Lucas", "Petit", "Code — janvier", utc("2026-02-10T10:00:00Z"));
  s.before = add_case(cases, lucas, "2026-01-05T09:00:00Z", "2025-10-01T10:00:00Z", CaseState::resumed,
                      "2026-02-10T10:00:00Z", "activity:lms", "", 1);
  add_relaunch(relaunches, s.before, "2026-01-05T09:00:00Z", 0, Means::sms, Result::sent);
  const auto ines = add_learner(learners, "E005", "Inès", "Moreau", "Code — avril", std::nullopt);
  s.after = add_case(cases, ines, "2026-04-02T09:00:00Z", "2026-03-01T00:00:00Z", CaseState::open);

  tx.commit();
  return s;
}

const Timestamp export_time = utc("2026-04-05T12:00:00Z");

}  // namespace

TEST_CASE("register: XLSX for a month, read back from the file") {
  test::Fixture fx;
  const Seeded s = seed(*fx.db);
  const auto out = fx.dir / "suivi-2026-03.xlsx";
  const int rows = app::export_register(*fx.engine, out, {app::RegisterFormat::xlsx, chr::year{2026} / chr::March},
                                        export_time);
  // Resumed, dropout (closed 1 March local time), in progress, resumed by staff.
  CHECK(rows == 4);
  REQUIRE(std::filesystem::exists(out));
  CHECK_FALSE(std::filesystem::exists(fx.dir / "suivi-2026-03.xlsx.tmp"));

  const Sheet sheet = read_sheet(out);
  // Title row with the month, then the header row (row 3) in French.
  CHECK(sheet.at("A1") == "Tableau de suivi des apprenants inactifs / abandons — mars 2026");
  CHECK(sheet.at("A2").find("période : mars 2026") != std::string::npos);
  CHECK(sheet.at("A3") == "Apprenant");
  CHECK(sheet.at("B3") == "Identifiant");
  CHECK(sheet.at("C3") == "Formation/cohorte");
  CHECK(sheet.at("D3") == "Date de dernière activité");
  CHECK(sheet.at("E3") == "Dates de relances");
  CHECK(sheet.at("F3") == "Moyens utilisés");
  CHECK(sheet.at("G3") == "Résultat (reprise / abandon)");
  CHECK(sheet.at("H3") == "Commentaire");
  CHECK(sheet.at("I3") == "Dossier");
  CHECK(sheet.at("J3") == "Politique");
  CHECK(sheet.at("K3") == "Responsable");
  CHECK(sheet.at("L3") == "Ouvert le");
  CHECK(sheet.at("M3") == "Clos le");

  // Rows in opening order: dropout (Feb 1), staff-resumed (Feb 20), resumed (Mar 2), in progress (Mar 20).
  CHECK(sheet.row_of("Jérôme Dupré-Noël") == 4);
  CHECK(sheet.row_of("Samir Benali") == 5);
  CHECK(sheet.row_of("Zoé Martin") == 7);
  CHECK(sheet.row_of("Lucas Petit") == 0);
  CHECK(sheet.row_of("Inès Moreau") == 0);

  const int r = sheet.row_of("Élodie Lefèvre");
  REQUIRE(r == 6);
  const auto cell = [&](char col) { return sheet.at(col + std::to_string(r)); };
  CHECK(cell('B') == "E001");
  CHECK(cell('C') == "Permis B — mars");
  CHECK(cell('D') == excel_serial(chr::year{2025} / 12 / 1));
  CHECK(cell('E') == "02/03/2026; 05/03/2026");
  CHECK(cell('F') == "SMS automatique (envoyé); téléphone");  // what became of the bot's message, then staff's call
  CHECK(cell('G') == "reprise");
  CHECK(cell('H') == "05/03/2026 : reprend lundi; a dit \"merci\"; reprise constatée : leçon suivie le 09/03/2026");
  CHECK(cell('I') == std::to_string(s.resumed));
  CHECK(cell('J') == "001-auto-ecole");
  CHECK(cell('K') == "alice");
  CHECK(cell('L') == excel_serial(chr::year{2026} / 3 / 2));
  CHECK(cell('M') == excel_serial(chr::year{2026} / 3 / 9));

  // Procedure 001's closing: the mention in the register.
  CHECK(sheet.at("E4") == "01/02/2026; 08/02/2026; 22/02/2026");
  CHECK(sheet.at("F4") == "SMS automatique (envoyé); email automatique (envoyé); téléphone");
  CHECK(sheet.at("G4") == "abandon");
  CHECK(sheet.at("H4") == "22/02/2026 : messagerie pleine; abandon déclaré après 3 relances sans réponse");
  CHECK(sheet.at("M4") == excel_serial(chr::year{2026} / 3 / 1));  // local date, not UTC's 28 Feb

  CHECK(sheet.at("G5") == "reprise");
  CHECK(sheet.at("H5") == "reprise : a repris ses leçons");

  // In progress: no closing date; the call at 22:30 UTC shows as 1 April.
  CHECK(sheet.at("E7") == "20/03/2026; 01/04/2026");
  CHECK(sheet.at("G7") == "en cours");
  CHECK(sheet.at("M7").empty());

  // Dates are date cells with a dd/mm/yyyy format.
  const std::string styles = unzip(out, "xl/styles.xml");
  CHECK(styles.find("formatCode=\"dd/mm/yyyy\"") != std::string::npos);
  CHECK(sheet.styles.at("L6") == sheet.styles.at("D6"));
  // Header row bold, frozen with the first column, filtered.
  CHECK(sheet.xml.find("<pane xSplit=\"1\" ySplit=\"3\" topLeftCell=\"B4\" activePane=\"bottomRight\" state=\"frozen\"/>") !=
        std::string::npos);
  CHECK(sheet.xml.find("<autoFilter ref=\"A3:M7\"/>") != std::string::npos);
  CHECK(sheet.xml.find("<col ") != std::string::npos);
  CHECK(styles.find("<b/>") != std::string::npos);
  // The sheet is named after the month.
  CHECK(unzip(out, "xl/workbook.xml").find("name=\"Suivi mars 2026\"") != std::string::npos);
}

TEST_CASE("register: without a month every case is listed, and a learner never seen active reads Jamais") {
  test::Fixture fx;
  const Seeded s = seed(*fx.db);
  const auto out = fx.dir / "suivi.xlsx";
  CHECK(app::export_register(*fx.engine, out, {app::RegisterFormat::xlsx, std::nullopt}, export_time) == 6);
  const Sheet sheet = read_sheet(out);
  CHECK(sheet.at("A1") == "Tableau de suivi des apprenants inactifs / abandons");
  CHECK(unzip(out, "xl/workbook.xml").find("name=\"Suivi\"") != std::string::npos);
  const int lucas = sheet.row_of("Lucas Petit");
  REQUIRE(lucas == 4);
  CHECK(sheet.at("H4") == "reprise constatée : connexion à la plateforme le 10/02/2026");
  const int ines = sheet.row_of("Inès Moreau");
  REQUIRE(ines == 9);
  CHECK(sheet.at("D9") == "Jamais");
  CHECK(sheet.at("E9").empty());
  CHECK(sheet.at("G9") == "en cours");
  CHECK(sheet.at("I9") == std::to_string(s.after));
}

TEST_CASE("register: CSV for French Excel (BOM, semicolon separator, RFC 4180 quoting, CRLF)") {
  test::Fixture fx;
  seed(*fx.db);
  const auto out = fx.dir / "suivi.csv";
  CHECK(app::export_register(*fx.engine, out, {app::RegisterFormat::csv, chr::year{2026} / chr::March}, export_time) == 4);
  const std::string csv = test::read_file(out);
  REQUIRE(csv.size() > 3);
  CHECK(csv.substr(0, 3) == "\xEF\xBB\xBF");
  const std::string header =
      "Apprenant;Identifiant;Formation/cohorte;Date de dernière activité;Dates de relances;Moyens utilisés;"
      "Résultat (reprise / abandon);Commentaire;Dossier;Politique;Responsable;Ouvert le;Clos le\r\n";
  CHECK(csv.substr(3, header.size()) == header);
  // Every line ends in CRLF, and there is no bare LF.
  std::size_t lines = 0;
  for (std::size_t i = 0; i < csv.size(); ++i)
    if (csv[i] == '\n') {
      CHECK(csv[i - 1] == '\r');
      ++lines;
    }
  CHECK(lines == 5);
  // The comment holding ';' and '"' is quoted, quotes doubled.
  CHECK(csv.find("Élodie Lefèvre;E001;Permis B — mars;01/12/2025;02/03/2026; 05/03/2026;") == std::string::npos);
  CHECK(csv.find("Élodie Lefèvre;E001;Permis B — mars;01/12/2025;\"02/03/2026; 05/03/2026\";\"SMS automatique (envoyé); téléphone\";reprise;"
                 "\"05/03/2026 : reprend lundi; a dit \"\"merci\"\"; reprise constatée : leçon suivie le 09/03/2026\";") !=
        std::string::npos);
  CHECK(csv.find(";abandon;\"22/02/2026 : messagerie pleine; abandon déclaré après 3 relances sans réponse\";") !=
        std::string::npos);
  CHECK(csv.find("Zoé Martin;E003;Code — mars;20/12/2025;\"20/03/2026; 01/04/2026\";\"SMS automatique (envoyé); téléphone\";en cours;;") !=
        std::string::npos);
  CHECK(csv.find("Lucas Petit") == std::string::npos);
}

TEST_CASE("register: a CSV cell that Excel would run as a formula is defused") {
  test::Fixture fx;
  {
    store::WriteTransaction tx(*fx.db);
    store::LearnerRepo learners(*fx.db);
    store::CaseRepo cases(*fx.db);
    const auto key = add_learner(learners, "E9", "=HYPERLINK(\"http://x\")", "", "c", utc("2026-01-01T00:00:00Z"));
    add_case(cases, key, "2026-03-02T09:00:00Z", "2026-01-01T00:00:00Z", CaseState::open);
    tx.commit();
  }
  const auto out = fx.dir / "suivi.csv";
  CHECK(app::export_register(*fx.engine, out, {app::RegisterFormat::csv, std::nullopt}, export_time) == 1);
  CHECK(test::read_file(out).find("\r\n\"'=HYPERLINK(\"\"http://x\"\")\";E9;") != std::string::npos);
}

TEST_CASE("register: a file that cannot be written is a clear error, and nothing is left behind") {
  test::Fixture fx;
  seed(*fx.db);
  const auto out = fx.dir / "no-such-folder" / "suivi.xlsx";
  for (auto format : {app::RegisterFormat::xlsx, app::RegisterFormat::csv}) {
    try {
      app::export_register(*fx.engine, out, {format, std::nullopt}, export_time);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("cannot write " + out.string()) != std::string::npos);
    }
  }
  CHECK_FALSE(std::filesystem::exists(fx.dir / "no-such-folder"));
}

TEST_CASE("stats: open cases, overdue tasks and the return rate for a month") {
  test::Fixture fx;
  seed(*fx.db);
  const std::string text = app::render_stats(*fx.engine, chr::year{2026} / chr::March, export_time);
  INFO(text);
  CHECK(text.find("Statistiques — mars 2026\n") == 0);
  CHECK(text.find("Dossiers en cours : 2\n") != std::string::npos);
  CHECK(text.find("  ouverts : 1\n") != std::string::npos);
  CHECK(text.find("  pris en charge : 1\n") != std::string::npos);
  CHECK(text.find("Tâches en retard : 1\n") != std::string::npos);
  CHECK(text.find("Sur la période : 2 dossier(s) ouvert(s), 2 reprise(s), 1 abandon(s)\n") != std::string::npos);
  // March's relaunches: Élodie's SMS and call (the call gets the return),
  // Zoé's SMS (her call on 1 April local time is not March's). Samir came
  // back in March after a February SMS: that return is February's.
  CHECK(text.find("Taux de retour après relance (dans les 14 jours) : 33 % (1/3)\n") != std::string::npos);
  CHECK(text.find("Par étape :\n  étape 1 (relance 1) : 33 % (1/3)\n") != std::string::npos);
  CHECK(text.find("Par moyen :\n") != std::string::npos);
  CHECK(text.find("  SMS : 0 % (0/2)\n") != std::string::npos);
  CHECK(text.find("  téléphone : 100 % (1/1)\n") != std::string::npos);
}

TEST_CASE("stats: overall return rate, by step and by means") {
  test::Fixture fx;
  seed(*fx.db);
  const std::string text = app::render_stats(*fx.engine, std::nullopt, export_time);
  INFO(text);
  CHECK(text.find("Statistiques — toutes périodes\n") == 0);
  // 9 relaunches; returns credited to Élodie's call and Samir's SMS. Lucas
  // came back 36 days after his SMS: outside the 14-day window.
  CHECK(text.find("Taux de retour après relance (dans les 14 jours) : 22 % (2/9)\n") != std::string::npos);
  CHECK(text.find("  étape 1 (relance 1) : 29 % (2/7)\n") != std::string::npos);
  CHECK(text.find("  étape 2 (relance 2) : 0 % (0/1)\n") != std::string::npos);
  CHECK(text.find("  étape 3 (relance 3) : 0 % (0/1)\n") != std::string::npos);
  CHECK(text.find("  SMS : 20 % (1/5)\n") != std::string::npos);
  CHECK(text.find("  email : 0 % (0/1)\n") != std::string::npos);
  CHECK(text.find("  téléphone : 33 % (1/3)\n") != std::string::npos);
}

TEST_CASE("stats: an empty database says there was no relaunch") {
  test::Fixture fx;
  const std::string text = app::render_stats(*fx.engine, chr::year{2026} / chr::March, export_time);
  CHECK(text.find("Dossiers en cours : 0\n") != std::string::npos);
  CHECK(text.find("Tâches en retard : 0\n") != std::string::npos);
  CHECK(text.find("Taux de retour après relance : aucune relance sur la période.\n") != std::string::npos);
}

TEST_CASE("register: an English-speaking organisation gets English headers and results") {
  test::Fixture fx("default_language = \"en\"\n");
  seed(*fx.db);
  const auto out = fx.dir / "register.csv";
  CHECK(app::export_register(*fx.engine, out, {app::RegisterFormat::csv, chr::year{2026} / chr::March}, export_time) == 4);
  const std::string csv = test::read_file(out);
  CHECK(csv.find("\xEF\xBB\xBFLearner;Identifier;Training/cohort;Date of last activity;Relaunch dates;Means used;") == 0);
  CHECK(csv.find(";\"automatic SMS (sent); phone\";resumed;\"05/03/2026: reprend lundi; a dit \"\"merci\"\"; resumed: lesson attended on "
                 "09/03/2026\";") != std::string::npos);
  CHECK(csv.find("messagerie pleine; dropout declared after 3 relaunches without answer") != std::string::npos);
  const std::string stats = app::render_stats(*fx.engine, chr::year{2026} / chr::March, export_time);
  CHECK(stats.find("Statistics — March 2026\n") == 0);
  CHECK(stats.find("Return rate after relaunch (within 14 days): 33 % (1/3)\n") != std::string::npos);
}
