// The staff command language, one parser for every staff channel (console,
// Mattermost slash command and messages, Matrix `!relance`). French verbs
// with English aliases; see README "Langage de commande".
#pragma once

#include "bot/domain/case.hpp"
#include "bot/domain/policy.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace relance {

struct ClaimCmd { std::int64_t case_id; };
struct LogCmd { std::int64_t case_id; Means means; Result result; std::string comment; };
struct ResumedCmd { std::int64_t case_id; std::string comment; };
struct DropoutCmd { std::int64_t case_id; std::string reason; };
enum class ListScope : std::uint8_t { mine, all, overdue };
struct ListCmd { ListScope scope = ListScope::mine; };
struct ShowCmd { std::int64_t case_id; };
struct StatsCmd { std::optional<std::chrono::year_month> month; };
enum class ExportFormat : std::uint8_t { xlsx, csv };
struct ExportCmd { ExportFormat format = ExportFormat::xlsx; std::optional<std::chrono::year_month> month; };
struct HelpCmd { std::string topic; };
// A sign of life a staff member logs: `vu 42 visite "passé à l'accueil"`.
struct SignCmd { std::int64_t case_id; Source source; std::string comment; };

using Command = std::variant<ClaimCmd, LogCmd, ResumedCmd, DropoutCmd, ListCmd, ShowCmd, StatsCmd, ExportCmd, HelpCmd, SignCmd>;

// A parse failure names the verb's usage (a message key: "usage.log") and
// what was wrong, so the answer is precise, never silence.
struct CommandError {
  std::string usage_key;  // "usage.log", or "usage.unknown" for an unknown verb
  std::string reason_key; // "error.missing_case", "error.bad_means", ...
  std::string detail;     // the offending token, if any
};

using ParsedCommand = std::variant<Command, CommandError>;

// Splits on blanks, keeping "double", “curly” and « French » quoted text
// together. An unterminated quote is an error (returned as nullopt).
std::optional<std::vector<std::string>> tokenize(std::string_view line);

// Parses one line, with or without a leading "/relance", "!relance" or "relance:"
// prefix already stripped by the adapter.
ParsedCommand parse_command(std::string_view line);

// The case a command acts on, if it acts on one.
std::optional<std::int64_t> case_of(const Command& cmd);

// The command as staff would type it, with the French verbs and words:
// "prendre 42", "relance 42 tel joint rappel demain", "vu 42 visite". For
// logs and for what a button or a reaction did; parsing it gives the command
// back (a comment is written as it is, so one that opens with a quote mark
// would read differently).
std::string command_line(const Command& cmd);

// Lower-cases ASCII and folds French accented letters (UTF-8) to ASCII, so
// "Réclamation", "reclamation" and "RECLAMATION" compare equal.
std::string fold(std::string_view s);

}  // namespace relance
