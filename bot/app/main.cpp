// relance — command line. Exit codes: 0 ok, 1 runtime error, 2 usage or
// configuration error (documented in the README and `relance --help`).
#include "adapters/common/log_privacy.hpp"
#include "bot/app/config.hpp"
#include "bot/app/engine.hpp"
#include "bot/app/export.hpp"
#include "bot/app/import.hpp"
#include "bot/app/logging.hpp"
#include "bot/app/phone.hpp"
#include "bot/app/preview.hpp"
#include "bot/app/runtime.hpp"
#include "bot/app/zone.hpp"
#include "messages/catalog.hpp"
#include "store/database.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <unistd.h>

using namespace relance;
using namespace relance::app;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_runtime = 1;
constexpr int exit_usage = 2;

// A usage or configuration problem: exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string default_config_path() {
  if (const char* e = std::getenv("RELANCE_CONFIG"); e && *e) return e;
  return "/etc/relance/relance.toml";
}

struct Loaded {
  Config config;
  std::unique_ptr<ZoneRules> zone;
  messages::Catalog catalog;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<Engine> engine;
};

// Loads the config, the messages and the database. `migrate` creates or
// upgrades the schema; otherwise an out-of-date schema is a clear error.
std::unique_ptr<Loaded> load(const std::string& config_path, bool migrate, std::optional<std::string> config_text = {},
                             std::optional<std::filesystem::path> database = {}) {
  auto l = std::make_unique<Loaded>();
  try {
    l->config = config_text ? parse_config(*config_text, config_path) : load_config(config_path);
  } catch (const ConfigError& e) {
    throw UsageError(e.what());
  }
  if (database) l->config.database = *database;
  l->zone = make_zone(l->config.timezone);
  try {
    l->catalog = messages::Catalog::load(l->config.messages_dir.empty() ? messages::Catalog::default_dir() : l->config.messages_dir);
  } catch (const messages::CatalogError& e) {
    throw UsageError(e.what());
  }
  l->db = std::make_unique<store::Database>(l->config.database);
  if (migrate) l->db->migrate();
  else if (const auto applied = l->db->ensure_schema(); !applied.empty())
    spdlog::info("{}: database schema created or upgraded to version {}", l->config.database.string(), applied.back());
  l->engine = std::make_unique<Engine>(l->config, *l->db, *l->zone, l->catalog);
  return l;
}

Timestamp parse_now(const std::string& s, const ZoneRules& zone) {
  if (s.empty() || s == "now" || s == "maintenant") return system_now();
  auto t = parse_iso_time(s, zone);
  if (!t) throw UsageError("'" + s + "' is not a time (ISO 8601, e.g. 2026-11-23T09:00 or 2026-11-23T08:00:00Z)");
  return *t;
}

std::optional<std::chrono::year_month> parse_month_opt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  auto d = parse_iso_date(s + "-01");
  if (!d) throw UsageError("'" + s + "' is not a month YYYY-MM");
  const std::chrono::year_month_day ymd{*d};
  return ymd.year() / ymd.month();
}

nlohmann::json report_json(const ScanReport& r, const ZoneRules& zone) {
  using nlohmann::json;
  json j{{"now", format_utc(r.now)}, {"dry_run", r.dry_run}, {"learners_examined", r.learners_examined}};
  j["opened"] = json::array();
  for (const auto& o : r.opened)
    j["opened"].push_back({{"learner", o.learner_id}, {"name", o.learner_name}, {"policy", o.policy_id},
                           {"inactive_since", format_utc(o.inactive_since)}});
  j["steps"] = json::array();
  for (const auto& s : r.steps)
    j["steps"].push_back({{"case", s.case_id}, {"learner", s.learner_id}, {"step", s.step + 1}, {"name", s.step_name},
                          {"action", s.action}, {"means", s.means}, {"role", s.role}, {"at", format_utc(s.send_at)},
                          {"at_local", format_local(s.send_at, zone)}});
  j["closed"] = json::array();
  for (const auto& c : r.closed) j["closed"].push_back({{"case", c.case_id}, {"learner", c.learner_id}, {"state", c.state}});
  j["next_wake"] = r.next_wake ? json(format_utc(*r.next_wake)) : json(nullptr);
  return j;
}

void print_report_text(const ScanReport& r, const ZoneRules& zone, std::ostream& out) {
  out << (r.dry_run ? "[dry run] " : "") << "scan at " << format_local(r.now, zone) << " (" << zone.name() << "): "
      << r.learners_examined << " learners examined\n";
  for (const auto& o : r.opened)
    out << "  open case: " << o.learner_name << " (" << o.learner_id << "), policy " << o.policy_id << ", inactive since "
        << format_local(o.inactive_since, zone, false) << "\n";
  for (const auto& s : r.steps)
    out << "  step " << s.step + 1 << " \"" << s.step_name << "\" for " << s.learner_id << ": " << s.action << " by "
        << s.means << " (" << s.role << ") at " << format_local(s.send_at, zone) << "\n";
  for (const auto& c : r.closed) out << "  case " << c.case_id << " (" << c.learner_id << ") closed: " << c.state << "\n";
  out << "  next wake: " << (r.next_wake ? format_local(*r.next_wake, zone) : std::string("none")) << "\n";
}

// ---------------------------------------------------------------- messages preview

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : std::string(sep)) + x;
  return s;
}

// `relance messages preview <key> --learner <id> --channel sms|email|matrix`:
// the text exactly as the outbox would render it for this learner.
void preview_message(Loaded& l, const std::string& key_arg, const std::string& learner_id, const std::string& channel,
                     std::ostream& out) {
  const auto key = resolve_learner_template(l.catalog, key_arg);
  if (!key)
    throw UsageError("modèle inconnu / unknown template '" + key_arg + "'; modèles / templates: " +
                     join(learner_templates(l.catalog)));
  if (channel != "sms" && channel != "email" && channel != "matrix")
    throw UsageError("canal inconnu / unknown channel '" + channel + "'; canaux / channels: sms, email, matrix");
  store::LearnerRepo learners(*l.db);
  const auto learner = learners.find(learner_id);
  if (!learner) {
    std::vector<std::string> some;
    learners.for_each_active([&](const Learner& x) {
      if (some.size() < 10) some.push_back(x.id);
    });
    const auto total = learners.count();
    throw UsageError("apprenant inconnu / unknown learner '" + learner_id + "'; " + std::to_string(total) +
                     " apprenant(s) / learner(s) en base / stored" +
                     (some.empty() ? std::string()
                                   : ", par exemple / for example: " + join(some) +
                                         (total > std::int64_t(some.size()) ? ", …" : "")));
  }
  const std::string lang = learner->language.empty() ? l.config.default_language : learner->language;
  const Params params = learner_message_params(l.config, *learner);
  const LearnerText t = l.engine->render_learner(*key, params, lang);

  const std::string address = channel == "sms" ? learner->phone : channel == "matrix" ? learner->matrix_id : learner->email;
  out << "modèle / template: " << *key << " (" << lang << ")\n"
      << "apprenant / learner: " << learner->id << " (" << learner->display_name() << ")\n"
      << "canal / channel: " << channel << " -> " << (address.empty() ? "(aucune adresse / no address)" : address) << "\n";
  if (address.empty())
    out << "attention / warning: cet apprenant n'a pas d'adresse pour ce canal : rien ne serait envoyé / "
           "this learner has no address on this channel: nothing would be sent\n";
  if (channel == "sms" && learner->sms_opt_out)
    out << "attention / warning: cet apprenant a répondu STOP : aucun SMS ne lui est envoyé / "
           "this learner replied STOP: no SMS is sent to them\n";
  if (channel == "sms" && !l.config.sms.enabled())
    out << "note: aucune passerelle SMS configurée ([sms]) / no SMS gateway configured ([sms])\n";
  if (channel == "email" && !l.config.email.enabled)
    out << "note: courriel non configuré ([email]) / email not configured ([email])\n";
  if (channel == "matrix" && (!l.config.matrix.enabled || !l.config.matrix.learners))
    out << "note: Matrix non activé pour les apprenants ([matrix] learners) / Matrix not enabled for learners\n";
  out << "---\n";
  if (channel == "sms") {
    // What the dispatcher sends: as written, or folded to GSM-7 to fit max_parts.
    const std::string sms = fit_sms(t.sms, l.config.sms.max_parts);
    out << sms << "\n---\n";
    if (sms != t.sms)
      out << "note: accents simplifiés pour tenir en " << l.config.sms.max_parts
          << " partie(s) / accents folded to GSM-7 to fit the parts limit\n";
    const SmsReport r = measure_sms(sms);
    out << "longueur / length: " << describe_sms(r) << "\n";
    const int max_parts = l.config.sms.max_parts;
    out << "[sms] max_parts = " << max_parts << ": "
        << (r.length.parts <= max_parts ? "OK"
                                        : "TROP LONG, serait refusé à l'envoi / TOO LONG, would be refused when sent")
        << "\n";
  } else if (channel == "email") {
    out << "Objet / Subject: " << t.subject << "\n\n" << t.body << "\n---\n"
        << "+ partie HTML incluse / HTML part included (" << t.html.size() << " octets / bytes, text/html)\n";
  } else {
    out << t.body << "\n---\n"
        << "+ version HTML (formatted_body) incluse / HTML version (formatted_body) included\n";
  }
}

// ---------------------------------------------------------------- check-config: templates

// Every template a plan names must exist, in French at least: a missing one
// would reach learners as "[learner.x.sms]".
// A configuration that does not say who the organisation is: refused by
// check-config, with every missing key (an empty file used to pass as
// "configuration OK").
void check_organisation(const Config& c, const std::string& config_path) {
  std::string all;
  for (const auto& m : missing_organisation(c)) all += (all.empty() ? "" : "\n") + config_path + ": " + m;
  if (!all.empty()) throw UsageError(all);
}

void check_plan_templates(const Config& c, const messages::Catalog& cat, const std::string& config_path) {
  for (const auto& p : c.policies)
    for (const auto& s : p.plan.steps) {
      const std::string key = s.action == StepAction::message_learner
                                  ? "learner." + s.template_key + (s.means == Means::sms ? ".sms" : ".email_body")
                                  : "task." + s.template_key + ".script";
      if (!cat.has("fr", key))
        throw UsageError(config_path + ": policy '" + p.id + "', step '" + s.name + "': no message '" + key +
                         "' in messages/fr");
    }
}

// ---------------------------------------------------------------- check-config: SMS lengths

// Refuses an SMS template that could need more parts than [sms] max_parts
// (the dispatcher would refuse every such message at send time).
void check_sms_lengths(const Config& c, const messages::Catalog& cat, std::ostream& out) {
  const auto dir = c.messages_dir.empty() ? messages::Catalog::default_dir() : c.messages_dir;
  const auto checks = check_sms_templates(c, cat, catalog_languages(dir));
  const WorstCase w = sms_worst_case(c);
  out << "\n# SMS : longueur des modèles au pire / SMS templates' worst-case length ([sms] max_parts = "
      << c.sms.max_parts << ")\n# hypothèses / assumptions: " << join(w.assumptions, "; ") << "\n";
  std::vector<std::string> refused, ucs2_over;
  for (const auto& k : checks) {
    out << "#   " << k.key << ".sms (" << k.language << "): " << describe_sms(k.worst) << "\n";
    if (k.exceeds(c.sms.max_parts))
      refused.push_back("SMS template '" + k.key + ".sms' (" + k.language + ") can reach " +
                        std::to_string(k.worst.length.parts) + " parts, [sms] max_parts = " +
                        std::to_string(c.sms.max_parts) + " / le modèle SMS « " + k.key + ".sms » (" + k.language +
                        ") peut atteindre " + std::to_string(k.worst.length.parts) + " parties, au-delà de [sms] max_parts = " +
                        std::to_string(c.sms.max_parts) + " (" + describe_sms(k.worst) + "; " +
                        join(w.assumptions, "; ") + ")");
    else if (k.ucs2_name.length.parts > c.sms.max_parts)
      ucs2_over.push_back(k.key + " (" + k.language + ", " + std::to_string(k.ucs2_name.length.parts) + ")");
  }
  // Not refused: the template is fine, a learner's name is what turns the
  // text into UCS-2 (70 characters a part instead of 160). Said once.
  if (!ucs2_over.empty())
    std::cerr << "warning: sms: avec un prénom hors GSM-7 sans équivalent (đ, ł, ő, écriture non latine… : « " << with_ucs2_first_name({}).at("first_name")
              << " »), le SMS passe en UCS-2 et dépasse max_parts = " << c.sms.max_parts
              << " ; un tel message serait refusé à l'envoi / with a first name outside GSM-7 the SMS is UCS-2 and "
                 "exceeds max_parts; such a message would be refused when sent: "
              << join(ucs2_over) << "\n";
  if (!refused.empty()) throw UsageError(join(refused, "\n"));
}

// The gateway's own checks, and Kannel's sms-service block to paste.
void check_sms_gateway(const Config& c, std::ostream& out) {
  if (c.sms.gateway == "http") {
    try {
      sms::http::validate(c.sms.http);
    } catch (const std::exception& e) {
      throw UsageError(c.source_file.string() + ": [sms.http]: " + e.what());
    }
  } else if (c.sms.gateway == "twilio") {
    if (auto problems = sms::twilio::config_problems(c.sms.twilio); !problems.empty()) {
      for (auto& p : problems) p = c.source_file.string() + ": [sms.twilio]: " + p;
      throw UsageError(join(problems, "\n"));
    }
  } else if (c.sms.gateway == "kannel") {
    // The real secret stays out of the output (check-config masks secrets):
    // the administrator puts it in place of the marker.
    constexpr std::string_view marker = "RELANCE_KANNEL_SECRET";
    sms::kannel::KannelConfig shown = c.sms.kannel;
    shown.secret = marker;
    out << "\n# Kannel : ajoutez ce groupe à kannel.conf (SMS reçus -> relance), en remplaçant " << marker
        << " par la valeur du secret\n# Kannel: add this group to kannel.conf (incoming SMS -> relance), with the secret's "
           "value in place of "
        << marker << "\n";
    std::istringstream block(sms::kannel::recommended_sms_service(shown));
    for (std::string line; std::getline(block, line);) out << "#   " << line << "\n";
    out << "# et un groupe sendsms-user dont max-messages >= " << c.sms.max_parts
        << " / and a sendsms-user group with max-messages >= " << c.sms.max_parts << "\n";
  }
}

// RELANCE_LANG, else LANG/LC_ALL starting with "en": English; else French.
std::string help_language() {
  for (const char* var : {"RELANCE_LANG", "LC_ALL", "LANG"}) {
    const char* v = std::getenv(var);
    if (v && *v) return std::string(v).rfind("en", 0) == 0 ? "en" : "fr";
  }
  return "fr";
}

}  // namespace

int main(int argc, char** argv) {
  // Help texts come from messages/ like every text people read: French,
  // unless the environment asks for English. Without a catalog (a broken
  // install) the keys show, and the verbs still work.
  std::optional<messages::Catalog> help_texts;
  try {
    help_texts = messages::Catalog::load(messages::Catalog::default_dir());
  } catch (const std::exception&) {
  }
  const std::string help_lang = help_language();
  auto T = [&](const char* key) {
    return help_texts ? help_texts->render(help_lang, std::string("cli.") + key) : std::string(key);
  };
  CLI::App app{T("about")};
  app.set_version_flag("--version", std::string("relance ") + RELANCE_VERSION);
  app.require_subcommand(1);

  std::string config_path = default_config_path();
  std::string log_format = "text";
  std::string log_level = "info";
  app.add_option("-c,--config", config_path, T("config"));
  app.add_option("--log-format", log_format, T("log_format"))->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, T("log_level"))
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  bool log_personal_data = false;
  app.add_flag("--log-personal-data", log_personal_data, T("log_personal_data"));

  auto* serve = app.add_subcommand("serve", T("serve"));
  bool serve_console = false;
  serve->add_flag("--console", serve_console, T("serve_console"));

  auto* demo = app.add_subcommand("demo", T("demo"));
  std::string demo_dir;
  demo->add_option("--data-dir", demo_dir, T("demo_dir"));

  auto* imp = app.add_subcommand("import", T("import"));
  std::vector<std::string> imp_files;
  std::string imp_format = "auto", imp_as_of, imp_cohort;
  bool imp_skip = false, imp_dry = false;
  imp->add_option("files", imp_files, T("import_files"))->required();
  imp->add_option("--format", imp_format, T("import_format"))
      ->check(CLI::IsMember({"auto", "moodle", "generic"}));
  imp->add_option("--as-of", imp_as_of, T("import_as_of"));
  imp->add_option("--cohort", imp_cohort, T("import_cohort"));
  imp->add_flag("--skip-bad-rows", imp_skip, T("import_skip"));
  imp->add_flag("--dry-run", imp_dry, T("import_dry"));

  auto* scan = app.add_subcommand("scan", T("scan"));
  bool scan_dry = false;
  std::string scan_now, scan_format = "text";
  scan->add_flag("--dry-run", scan_dry, T("scan_dry"));
  scan->add_option("--now", scan_now, T("scan_now"));
  scan->add_option("--format", scan_format, T("scan_format"))->check(CLI::IsMember({"text", "json"}));

  auto* exp = app.add_subcommand("export", T("export"));
  auto* exp_reg = exp->add_subcommand("register", T("export_register"));
  exp->require_subcommand(1);
  std::string exp_format = "xlsx", exp_month, exp_out;
  exp_reg->add_option("--format", exp_format, T("export_format"))->check(CLI::IsMember({"xlsx", "csv"}));
  exp_reg->add_option("--month", exp_month, T("export_month"));
  exp_reg->add_option("-o,--output", exp_out, T("export_output"));

  auto* check = app.add_subcommand("check-config", T("check_config"));
  std::string check_file;
  check->add_option("file", check_file, T("check_config_file"));

  auto* msgs = app.add_subcommand("messages", T("messages"));
  msgs->require_subcommand(1);
  auto* preview = msgs->add_subcommand("preview", T("messages_preview"));
  std::string pv_key, pv_learner, pv_channel;
  preview->add_option("key", pv_key, T("preview_key"))->required();
  preview->add_option("--learner", pv_learner, T("preview_learner"))->required();
  preview->add_option("--channel", pv_channel, T("preview_channel"))->required();
  preview->add_option("-c,--config", config_path, T("config"));
  auto* migrate = app.add_subcommand("migrate", T("migrate"));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_usage;
  }

  try {
    setup_logging(log_format == "json" ? LogFormat::json : LogFormat::text, log_level);
    logs::show_personal_data(log_personal_data);
  } catch (const std::exception& e) {
    std::cerr << "relance: " << e.what() << "\n";
    return exit_usage;
  }

  try {
    if (*migrate) {
      Config c;
      try {
        c = load_config(config_path);
      } catch (const ConfigError& e) {
        throw UsageError(e.what());
      }
      store::Database db(c.database);
      const int before = db.schema_version();
      auto applied = db.migrate();
      std::cout << c.database.string() << ": schema " << before << " -> " << db.schema_version() << " ("
                << applied.size() << " migration(s) applied)\n";
      return exit_ok;
    }
    if (*check) {
      if (!check_file.empty()) config_path = check_file;
      Config c;
      try {
        c = load_config(config_path);
      } catch (const ConfigError& e) {
        throw UsageError(e.what());
      }
      messages::Catalog cat;
      try {
        cat = messages::Catalog::load(c.messages_dir.empty() ? messages::Catalog::default_dir() : c.messages_dir);
      } catch (const messages::CatalogError& e) {
        throw UsageError(e.what());
      }
      check_plan_templates(c, cat, config_path);
      check_organisation(c, config_path);
      std::cout << describe(c);
      for (const auto& w : cat.check()) std::cerr << "warning: messages: " << w << "\n";
      for (const auto& w : unconfigured_channel_warnings(c)) std::cerr << "warning: " << w << "\n";
      if (auto missing = missing_secrets(c); !missing.empty()) {
        std::string all;
        for (const auto& m : missing) all += (all.empty() ? "" : "\n") + config_path + ": " + m;
        throw UsageError(all);
      }
      if (c.sms.enabled()) {
        check_sms_gateway(c, std::cout);
        check_sms_lengths(c, cat, std::cout);
      }
      std::cerr << "configuration OK\n";
      return exit_ok;
    }
    if (*demo) {
      namespace fs = std::filesystem;
      bool temporary = demo_dir.empty();
      if (temporary) {
        char tmpl[] = "/tmp/relance-demo-XXXXXX";
        if (!mkdtemp(tmpl)) throw std::runtime_error("cannot create a temporary folder");
        demo_dir = tmpl;
      }
      fs::create_directories(demo_dir);
      std::string text(demo_config_text());
      auto l = load("demo.toml", true, text, fs::path(demo_dir) / "relance.db");
      const Timestamp now = system_now();
      if (store::LearnerRepo(*l->db).count() == 0) {
        const int n = load_demo_cohort(*l->engine, now);
        std::cout << "relance demo: " << n << " apprenants fictifs importés / fictional learners imported; données / data: "
                  << demo_dir << "\n";
      } else {
        std::cout << "relance demo: données reprises / data reused: " << demo_dir << "\n";
      }
      RunOptions opts;
      opts.console = true;
      const int rc = run_service(*l->engine, opts, std::cin, std::cout);
      l.reset();
      if (temporary) fs::remove_all(demo_dir);
      return rc;
    }

    auto l = load(config_path, false);
    if (*serve || *imp || *scan) {
      // What check-config refuses, the verbs that act refuse too: a missing
      // template or an SMS that would be refused must not reach a learner.
      check_plan_templates(l->config, l->catalog, config_path);
      if (l->config.sms.enabled()) {
        std::ostringstream ignored;  // check-config prints the details; here only the verdict matters
        check_sms_gateway(l->config, ignored);
        check_sms_lengths(l->config, l->catalog, ignored);
      }
      for (const auto& w : unconfigured_channel_warnings(l->config)) spdlog::warn("{}: {}", config_path, w);
      if (const auto problem = phone_module_problem(); !problem.empty()) throw std::runtime_error(problem);
    }
    if (*preview) {
      preview_message(*l, pv_key, pv_learner, pv_channel, std::cout);
      return exit_ok;
    }
    if (*serve) {
      if (serve_console && l->config.console_staff.empty())
        throw UsageError(config_path + ": --console needs [console] staff = \"<a [[staff]] id>\" (who the terminal acts as)");
      if (auto missing = missing_secrets(l->config); !missing.empty()) throw UsageError(config_path + ": " + missing.front());
      RunOptions opts;
      opts.console = serve_console;
      return run_service(*l->engine, opts, std::cin, std::cout);
    }
    if (*imp) {
      ImportOptions opts;
      opts.format = imp_format == "moodle" ? CsvFormat::moodle_participants
                    : imp_format == "generic" ? CsvFormat::generic
                                              : CsvFormat::automatic;
      if (!imp_as_of.empty()) opts.as_of = parse_now(imp_as_of, *l->zone);
      opts.cohort = imp_cohort;
      opts.skip_bad_rows = imp_skip;
      opts.dry_run = imp_dry;
      for (const auto& f : imp_files) {
        ImportReport r;
        try {
          r = import_csv(*l->engine, f, opts, system_now());
        } catch (const ImportError& e) {
          std::cerr << "relance import: " << e.what() << "\nnothing was imported from " << f << "\n";
          return exit_runtime;
        }
        const std::string sep = r.separator == '\t' ? std::string("tab") : "'" + std::string(1, r.separator) + "'";
        std::cout << f << ": " << r.format << ", " << r.encoding << ", " << sep << ", " << r.rows << " rows";
        if (r.already_imported) std::cout << " — already imported with this configuration, nothing changed";
        else
          std::cout << " — " << r.inserted << " new, " << r.updated << " updated, " << r.unchanged << " unchanged, "
                    << r.activity << " activity, " << r.skipped << " skipped";
        if (r.format == "moodle_participants") {
          // Which roles were left out, so that a site that renamed its
          // student role ([import.moodle] student_roles) sees it at once.
          std::cout << ", " << r.skipped_staff << " skipped as staff";
          std::string roles;
          for (const auto& [role, n] : r.staff_roles) roles += (roles.empty() ? "" : ", ") + role + ": " + std::to_string(n);
          if (!roles.empty()) std::cout << " (" << roles << ")";
        }
        if (!r.warnings.empty()) std::cout << ", " << r.warnings.size() << (r.warnings.size() > 1 ? " warnings" : " warning");
        if (opts.dry_run && !r.already_imported) std::cout << " (dry run)";
        std::cout << "\n";
        for (const auto& e : r.row_errors) std::cerr << "  skipped: " << e << "\n";
        for (const auto& w : r.warnings) std::cerr << "  warning: " << w << "\n";
      }
      return exit_ok;
    }
    if (*scan) {
      const Timestamp now = parse_now(scan_now, *l->zone);
      ScanReport r = l->engine->scan(now, scan_dry);
      if (scan_format == "json") std::cout << report_json(r, *l->zone).dump(2) << "\n";
      else print_report_text(r, *l->zone, std::cout);
      return exit_ok;
    }
    if (*exp_reg) {
      RegisterOptions opts;
      opts.format = exp_format == "csv" ? RegisterFormat::csv : RegisterFormat::xlsx;
      opts.month = parse_month_opt(exp_month);
      if (exp_out.empty()) exp_out = "tableau-de-suivi" + (exp_month.empty() ? "" : "-" + exp_month) + "." + exp_format;
      const int rows = export_register(*l->engine, exp_out, opts, system_now());
      std::cout << exp_out << ": " << rows << " cases\n";
      return exit_ok;
    }
  } catch (const UsageError& e) {
    std::cerr << "relance: " << e.what() << "\n";
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "relance: " << e.what() << "\n";
    return exit_runtime;
  }
  return exit_usage;
}
