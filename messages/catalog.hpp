// Every text a person reads comes from messages/<lang>/*.toml. Templates use
// {name} placeholders filled from the core's Params. French is the reference
// language: a key missing in another language falls back to French.
#pragma once

#include "bot/domain/effects.hpp"
#include "messages/marked.hpp"

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace relance::messages {

class CatalogError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// How values are put in a template (see marked.hpp).
struct FillStyle {
  // Each value between value_begin and value_end: for staff chats, which
  // escape the values and nothing else.
  bool mark_values = false;
  // Placeholders filled as given, never cleaned, marked or escaped: {cmd}
  // and {asker} (marked.hpp). Absent, those two are empty (the console's form).
  Params literals;
};

class Catalog {
public:
  // Loads every <dir>/<lang>/*.toml. Nested tables flatten to dotted keys
  // ([alert] step = "..." -> "alert.step"). Throws CatalogError naming the
  // file, line and column of a syntax error.
  static Catalog load(const std::filesystem::path& dir);
  // The texts shipped with relance (source tree, or installed share dir).
  static std::filesystem::path default_dir();

  bool has(std::string_view lang, std::string_view key) const;
  // Renders `key` in `lang` (falling back to "fr"); unknown placeholders are
  // left visible as {name} so a mistake shows instead of vanishing.
  std::string render(std::string_view lang, std::string_view key, const Params& params = {}) const;
  std::string render(std::string_view lang, std::string_view key, const Params& params, const FillStyle& style) const;
  // Keys present in fr but missing elsewhere, and placeholders used in a
  // translation but not in French: problems an administrator should fix.
  std::vector<std::string> check() const;
  // Every French key starting with `prefix`.
  std::vector<std::string> keys(std::string_view prefix = "") const;

private:
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> texts_;  // lang -> key -> text
};

// Fills {name} placeholders; control characters in values become spaces and
// the span marks of marked.hpp are dropped from them.
std::string fill(std::string_view text, const Params& params, const FillStyle& style = {});
// The text without its span marks (marked.hpp).
std::string strip_marks(std::string_view text);

}  // namespace relance::messages
