// `relance export register`: the tracking table of procedure 001 (learner,
// last activity, relaunch dates, means, result, comment) as XLSX or CSV.
#pragma once

#include "bot/app/config.hpp"
#include "bot/domain/time.hpp"
#include "messages/catalog.hpp"
#include "store/database.hpp"

#include <chrono>
#include <concepts>
#include <filesystem>
#include <optional>
#include <string>

namespace relance::app {

// What the register and the stats read: the store, the configuration, the
// texts and the zone. The Engine answers `export` and `stats` with the
// functions below, so they take these and not the Engine (which would make
// the two include each other); an Engine, or anything else with the same
// four accessors, converts.
struct ReportSource {
  store::Database& db;
  const Config& config;
  const messages::Catalog& catalog;
  const ZoneRules& zone;

  ReportSource(store::Database& d, const Config& c, const messages::Catalog& m, const ZoneRules& z)
      : db(d), config(c), catalog(m), zone(z) {}
  template <class Source>
    requires requires(Source& s) {
      { s.db() } -> std::convertible_to<store::Database&>;
      { s.config() } -> std::convertible_to<const Config&>;
      { s.catalog() } -> std::convertible_to<const messages::Catalog&>;
      { s.zone() } -> std::convertible_to<const ZoneRules&>;
    }
  ReportSource(Source& s) : db(s.db()), config(s.config()), catalog(s.catalog()), zone(s.zone()) {}
};

enum class RegisterFormat { xlsx, csv };

struct RegisterOptions {
  RegisterFormat format = RegisterFormat::xlsx;
  std::optional<std::chrono::year_month> month;  // cases active during that month; none: all
};

// Writes the register; returns the number of rows (cases) written.
int export_register(const ReportSource& src, const std::filesystem::path& out, const RegisterOptions& opts,
                    Timestamp now);

// The `stats` answer: open cases, overdue tasks, return rate by step and means.
std::string render_stats(const ReportSource& src, std::optional<std::chrono::year_month> month, Timestamp now);

}  // namespace relance::app
