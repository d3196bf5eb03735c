// `relance export register`: the tracking table of procedure 001 (learner,
// last activity, relaunch dates, means, result, comment) as XLSX or CSV.
#pragma once

#include "bot/app/engine.hpp"

#include <chrono>
#include <filesystem>
#include <optional>

namespace relance::app {

enum class RegisterFormat { xlsx, csv };

struct RegisterOptions {
  RegisterFormat format = RegisterFormat::xlsx;
  std::optional<std::chrono::year_month> month;  // cases active during that month; none: all
};

// Writes the register; returns the number of rows (cases) written.
int export_register(Engine& engine, const std::filesystem::path& out, const RegisterOptions& opts, Timestamp now);

// The `stats` answer: open cases, overdue tasks, return rate by step and means.
std::string render_stats(Engine& engine, std::optional<std::chrono::year_month> month, Timestamp now);

}  // namespace relance::app
