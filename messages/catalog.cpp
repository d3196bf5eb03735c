#include "messages/catalog.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace relance::messages {

namespace {

void flatten(const toml::table& t, const std::string& prefix, std::map<std::string, std::string, std::less<>>& out,
             const std::string& file) {
  for (const auto& [k, v] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = v.as_table()) {
      flatten(*sub, key, out, file);
    } else if (const auto* s = v.as_string()) {
      out[key] = s->get();
    } else {
      const auto& src = v.source();
      throw CatalogError(file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column) +
                         ": '" + key + "' must be a string");
    }
  }
}

std::set<std::string> placeholders(std::string_view text) {
  std::set<std::string> out;
  for (std::size_t i = text.find('{'); i != std::string_view::npos; i = text.find('{', i + 1)) {
    const auto end = text.find('}', i);
    if (end == std::string_view::npos) break;
    out.emplace(text.substr(i + 1, end - i - 1));
  }
  return out;
}

}  // namespace

std::filesystem::path Catalog::default_dir() {
  if (const char* env = std::getenv("RELANCE_MESSAGES_DIR"); env && *env) return env;
  // Installed layout: <prefix>/bin/relance and <prefix>/share/relance/messages.
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share" / "relance" / "messages";
    if (std::filesystem::is_directory(installed / "fr", ec)) return installed;
  }
  return RELANCE_SOURCE_MESSAGES_DIR;
}

Catalog Catalog::load(const std::filesystem::path& dir) {
  Catalog c;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir / "fr", ec))
    throw CatalogError(dir.string() + ": no 'fr' folder of messages here (set messages_dir or RELANCE_MESSAGES_DIR)");
  for (const auto& lang_dir : std::filesystem::directory_iterator(dir)) {
    if (!lang_dir.is_directory()) continue;
    const std::string lang = lang_dir.path().filename().string();
    std::vector<std::filesystem::path> files;
    for (const auto& f : std::filesystem::directory_iterator(lang_dir.path()))
      if (f.path().extension() == ".toml") files.push_back(f.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        const toml::table t = toml::parse_file(f.string());
        flatten(t, "", c.texts_[lang], f.string());
      } catch (const toml::parse_error& e) {
        throw CatalogError(f.string() + ":" + std::to_string(e.source().begin.line) + ":" +
                           std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
      }
    }
  }
  return c;
}

bool Catalog::has(std::string_view lang, std::string_view key) const {
  auto l = texts_.find(lang);
  return l != texts_.end() && l->second.find(key) != l->second.end();
}

std::string Catalog::render(std::string_view lang, std::string_view key, const Params& params) const {
  return render(lang, key, params, FillStyle{});
}

std::string Catalog::render(std::string_view lang, std::string_view key, const Params& params,
                            const FillStyle& style) const {
  for (std::string_view l : {lang, std::string_view("fr")}) {
    auto li = texts_.find(l);
    if (li == texts_.end()) continue;
    auto ki = li->second.find(key);
    if (ki != li->second.end()) return fill(ki->second, params, style);
  }
  return "[" + std::string(key) + "]";
}

std::vector<std::string> Catalog::check() const {
  std::vector<std::string> problems;
  auto fr = texts_.find("fr");
  if (fr == texts_.end()) return {"no French messages"};
  for (const auto& [lang, texts] : texts_) {
    if (lang == "fr") continue;
    for (const auto& [key, text] : fr->second)
      if (!texts.count(key)) problems.push_back(lang + ": missing '" + key + "'");
    for (const auto& [key, text] : texts) {
      auto ref = fr->second.find(key);
      if (ref == fr->second.end()) continue;
      const auto known = placeholders(ref->second);
      for (const auto& p : placeholders(text))
        if (!known.count(p)) problems.push_back(lang + ": '" + key + "' uses {" + p + "}, unknown in French");
    }
  }
  return problems;
}

std::vector<std::string> Catalog::keys(std::string_view prefix) const {
  std::vector<std::string> out;
  auto fr = texts_.find("fr");
  if (fr == texts_.end()) return out;
  for (const auto& [key, text] : fr->second)
    if (key.compare(0, prefix.size(), prefix) == 0) out.push_back(key);
  return out;
}

namespace {

// Values come from outside (CSV names, learner replies, comments): control
// characters — C0, DEL and the C1 range, where a terminal's escape sequences
// live — become spaces, so no value can rewrite a staff terminal or forge
// lines. Channel markup (Markdown, HTML) is escaped by each channel adapter.
// The span marks (U+E000, U+E001) are dropped: only fill() may place them.
void append_clean(std::string& out, std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == 0xEE && i + 2 < v.size() && static_cast<unsigned char>(v[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(v[i + 2]) == 0x80 || static_cast<unsigned char>(v[i + 2]) == 0x81)) {
      i += 2;
    } else if (c < 0x20 || c == 0x7F) {
      out += ' ';
    } else if (c == 0xC2 && i + 1 < v.size() && static_cast<unsigned char>(v[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(v[i + 1]) <= 0x9F) {
      out += ' ';
      ++i;
    } else {
      out += char(c);
    }
  }
}

}  // namespace

std::string strip_marks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text.substr(i, value_begin.size()) == value_begin || text.substr(i, value_end.size()) == value_end) {
      i += value_begin.size();
      continue;
    }
    out += text[i++];
  }
  return out;
}

std::string fill(std::string_view text, const Params& params, const FillStyle& style) {
  std::string out;
  out.reserve(text.size() + 32);
  // An empty span first: the text is marked even when the template has no
  // value, so a chat escapes none of it.
  if (style.mark_values) {
    out.append(value_begin);
    out.append(value_end);
  }
  std::size_t i = 0;
  while (i < text.size()) {
    const auto open = text.find('{', i);
    if (open == std::string_view::npos) break;
    const auto close = text.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    const std::string name(text.substr(open + 1, close - open - 1));
    if (auto lit = style.literals.find(name); lit != style.literals.end()) {
      out.append(lit->second);
    } else if (auto p = params.find(name); p != params.end()) {
      if (style.mark_values) out.append(value_begin);
      append_clean(out, p->second);
      if (style.mark_values) out.append(value_end);
    } else if (name == command_prefix_param || name == asker_param) {
      // The console's form: nothing before the command, nobody to name.
    } else {
      out.append(text.substr(open, close - open + 1));
    }
    i = close + 1;
  }
  out.append(text.substr(i));
  return out;
}

}  // namespace relance::messages
