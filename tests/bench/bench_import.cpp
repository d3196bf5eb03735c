// Importing a 100,000-row CSV (target: under 3 s). Generates the files in a
// temporary folder, imports each into a fresh migrated SQLite database
// through the Engine, and prints rows/s. Prints figures; never fails on speed.
//
//   bench_import [rows]     (default 100000)
#include "bot/app/config.hpp"
#include "bot/app/engine.hpp"
#include "bot/app/import.hpp"
#include "bot/app/zone.hpp"
#include "messages/catalog.hpp"
#include "store/database.hpp"

#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace fs = std::filesystem;
using namespace relance;

namespace {

// Phone numbers as people type them, all valid (06 12 / 07 81 mobiles).
std::string phone(std::mt19937& rng, int i) {
  const int a = i % 2 ? 12 : 81, b = int(rng() % 100), c = int(rng() % 100), d = i % 100;
  char buf[40];
  switch (i % 4) {
    case 0: std::snprintf(buf, sizeof buf, "06 %02d %02d %02d %02d", 12, b, c, d); break;
    case 1: std::snprintf(buf, sizeof buf, "07.%02d.%02d.%02d.%02d", 81, b, c, d); break;
    case 2: std::snprintf(buf, sizeof buf, "+33 7 %02d %02d %02d %02d", 81, b, c, d); break;
    default: std::snprintf(buf, sizeof buf, "06%02d%02d%02d%02d", a, b, c, d); break;
  }
  return buf;
}

void write_generic(const fs::path& p, int rows) {
  std::mt19937 rng(42);
  static const char* first[] = {"Élodie", "Jean", "Zoé", "Louis", "Léa", "Hugo", "Chloé", "Noé"};
  static const char* last[] = {"Martin", "Dupont", "Bernard", "Petit", "Roux", "Lefèvre", "Girard", "Faure"};
  static const char* sources[] = {"lms", "leçon", "réservation", "plateforme"};
  std::ofstream out(p, std::ios::binary);
  out << "N° dossier;Prénom;Nom;Courriel;Téléphone;Formation;Début;Dernière activité;Source\n";
  char date[32];
  for (int i = 0; i < rows; ++i) {
    std::snprintf(date, sizeof date, "%02d/%02d/2026 %02d:%02d", 1 + i % 28, 1 + i % 10, 8 + i % 10, i % 60);
    out << "D-" << i << ';' << first[i % 8] << ';' << last[(i / 8) % 8] << ";eleve" << i << "@exemple.fr;"
        << phone(rng, i) << ";cohorte-" << (i % 50) << ";2026-0" << (1 + i % 9) << "-01;" << date << ';'
        << sources[i % 4] << '\n';
  }
}

void write_moodle(const fs::path& p, int rows) {
  static const char* access[] = {"23 jours", "5 min 1 s", "1 an 2 jours", "Jamais", "2 heures 3 min", "1 jour 4 heures"};
  std::ofstream out(p, std::ios::binary);
  out << "Prénom / Nom,Adresse de courriel,Ville,Pays,Dernier accès au cours\n";
  for (int i = 0; i < rows; ++i)
    out << "Élodie Martin" << i << ",participant" << i << "@exemple.fr,Poitiers,France," << access[i % 6] << '\n';
}

constexpr std::string_view mapping = R"(
[import.generic]
default_cohort = "bench"
[import.generic.columns]
id = "N° dossier"
first_name = "Prénom"
last_name = "Nom"
email = "Courriel"
phone = "Téléphone"
cohort = "Formation"
start_date = "Début"
last_activity = "Dernière activité"
source = "Source"
)";

void run(const char* label, const fs::path& dir, const fs::path& csv) {
  const fs::path db_file = dir / (std::string(label) + ".db");
  app::Config config = app::parse_config(mapping, "bench.toml");
  config.database = db_file;
  auto zone = app::make_zone(config.timezone);
  auto catalog = messages::Catalog::load(messages::Catalog::default_dir());
  store::Database db(db_file);
  db.migrate();
  app::Engine engine(config, db, *zone, catalog);

  const Timestamp now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto timed = [&](const char* what, Timestamp as_of) {
    app::ImportOptions opts;
    opts.as_of = as_of;
    // CPU time beside wall time: on a shared 2-core machine the wall clock
    // also measures the neighbours.
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    const auto rep = app::import_csv(engine, csv, opts, now);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
    std::printf("%-8s %-28s %d rows (%.1f MB, %s, '%c'): %.3f s (cpu %.3f s), %.0f rows/s; %d new, %d updated, %d unchanged, %d activity%s\n",
                label, what, rep.rows, double(fs::file_size(csv)) / 1e6, rep.encoding.c_str(),
                rep.separator == '\t' ? 'T' : rep.separator, s, cpu, rep.rows / s, rep.inserted, rep.updated, rep.unchanged, rep.activity,
                rep.already_imported ? " (already imported)" : "");
  };
  // First import into an empty store (the target), then the next day's
  // export of the same people: every relative time now lands one day later,
  // so each activity moves forward through Engine::record_activity. Then the
  // same file again, which the import log turns into a no-op.
  timed("first import:", now - std::chrono::days(1));
  timed("next day's export:", now);
  timed("same file again:", now);
}

}  // namespace

int main(int argc, char** argv) {
  const int rows = argc > 1 ? std::stoi(argv[1]) : 100000;
  const fs::path dir = fs::temp_directory_path() / ("relance-bench-import-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  int rc = 0;
  try {
    write_generic(dir / "generic.csv", rows);
    write_moodle(dir / "moodle.csv", rows);
    std::printf("bench_import: %d rows per file (target: 100,000 rows under 3 s)\n", rows);
    run("generic", dir, dir / "generic.csv");
    run("moodle", dir, dir / "moodle.csv");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_import: %s\n", e.what());
    rc = 1;
  }
  fs::remove_all(dir);
  return rc;
}
