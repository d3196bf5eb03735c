#include "bot/domain/command.hpp"

#include <charconv>

namespace relance {

std::string fold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : char(c);
      continue;
    }
    if (i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xC3) {  // U+00C0..U+00FF: Latin-1 letters
        const unsigned cp = 0xC0 + (d & 0x3F);
        const unsigned lower = (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ? cp + 0x20 : cp;
        const char* map = nullptr;
        switch (lower) {
          case 0xE0: case 0xE1: case 0xE2: case 0xE3: case 0xE4: case 0xE5: map = "a"; break;
          case 0xE6: map = "ae"; break;
          case 0xE7: map = "c"; break;
          case 0xE8: case 0xE9: case 0xEA: case 0xEB: map = "e"; break;
          case 0xEC: case 0xED: case 0xEE: case 0xEF: map = "i"; break;
          case 0xF1: map = "n"; break;
          case 0xF2: case 0xF3: case 0xF4: case 0xF5: case 0xF6: map = "o"; break;
          case 0xF9: case 0xFA: case 0xFB: case 0xFC: map = "u"; break;
          case 0xFD: case 0xFF: map = "y"; break;
          default: break;
        }
        if (map) {
          out += map;
          ++i;
          continue;
        }
      } else if (c == 0xC5 && (d == 0x92 || d == 0x93)) {  // Œ œ
        out += "oe";
        ++i;
        continue;
      }
    }
    out += char(c);
  }
  return out;
}

std::optional<std::vector<std::string>> tokenize(std::string_view line) {
  // Opening quote -> closing quote. Phones and Mattermost's autocorrect turn
  // "..." into “...”; French keyboards type « ... ».
  struct Quote { std::string_view open, close; };
  static constexpr Quote quotes[] = {{"\"", "\""}, {"\xE2\x80\x9C", "\xE2\x80\x9D"}, {"\xC2\xAB", "\xC2\xBB"},
                                     {"'", "'"}};
  std::vector<std::string> out;
  std::size_t i = 0;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size()) break;
    const Quote* q = nullptr;
    for (const auto& cand : quotes)
      if (line.substr(i, cand.open.size()) == cand.open) q = &cand;
    // An apostrophe inside a word ("l'accueil") is not a quote.
    if (q && q->open == "'" && !(i == 0 || is_space(line[i - 1]))) q = nullptr;
    if (q) {
      i += q->open.size();
      auto end = line.find(q->close, i);
      // Likewise a closing apostrophe must end a word: 'n'a pas répondu'.
      if (q->close == "'")
        while (end != std::string_view::npos && end + 1 < line.size() && !is_space(line[end + 1]))
          end = line.find(q->close, end + 1);
      if (end == std::string_view::npos) return std::nullopt;
      std::string_view tok = line.substr(i, end - i);
      // « guillemets » are written with inner spaces: trim them. French
      // typography (and macOS/LibreOffice autocorrect) makes them no-break
      // spaces, U+00A0 or the narrow U+202F.
      static constexpr std::string_view nbsp[] = {"\xC2\xA0", "\xE2\x80\xAF"};
      for (bool trimmed = true; trimmed;) {
        trimmed = false;
        while (!tok.empty() && is_space(tok.front())) tok.remove_prefix(1), trimmed = true;
        while (!tok.empty() && is_space(tok.back())) tok.remove_suffix(1), trimmed = true;
        for (auto sp : nbsp) {
          if (tok.starts_with(sp)) tok.remove_prefix(sp.size()), trimmed = true;
          if (tok.ends_with(sp)) tok.remove_suffix(sp.size()), trimmed = true;
        }
      }
      out.emplace_back(tok);
      i = end + q->close.size();
    } else {
      const std::size_t start = i;
      while (i < line.size() && !is_space(line[i])) ++i;
      out.emplace_back(line.substr(start, i - start));
    }
  }
  return out;
}

namespace {

std::optional<std::int64_t> parse_case_id(std::string_view s) {
  if (!s.empty() && s.front() == '#') s.remove_prefix(1);
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

std::optional<std::chrono::year_month> parse_month(std::string_view s) {
  int y = 0, m = 0;
  auto num = [](std::string_view t, int& out) {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc{} && p == t.data() + t.size();
  };
  if (s.size() == 7 && s[4] == '-') {  // 2026-11
    if (!num(s.substr(0, 4), y) || !num(s.substr(5, 2), m)) return std::nullopt;
  } else if (s.size() == 7 && s[2] == '/') {  // 11/2026
    if (!num(s.substr(3, 4), y) || !num(s.substr(0, 2), m)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (m < 1 || m > 12 || y < 2000 || y > 2200) return std::nullopt;
  return std::chrono::year(y) / std::chrono::month(unsigned(m));
}

std::string join(const std::vector<std::string>& toks, std::size_t from) {
  std::string s;
  for (std::size_t i = from; i < toks.size(); ++i) {
    if (!s.empty()) s += ' ';
    s += toks[i];
  }
  return s;
}

enum class Verb { claim, log, resumed, dropout, list, show, stats, export_, help, sign, unknown };

Verb verb_of(const std::string& v) {
  struct Alias { std::string_view name; Verb verb; };
  static constexpr Alias aliases[] = {
      {"prendre", Verb::claim}, {"claim", Verb::claim}, {"take", Verb::claim}, {"je_prends", Verb::claim},
      {"relance", Verb::log}, {"relancer", Verb::log}, {"log", Verb::log}, {"noter", Verb::log},
      {"repris", Verb::resumed}, {"reprise", Verb::resumed}, {"resumed", Verb::resumed}, {"resume", Verb::resumed},
      {"abandon", Verb::dropout}, {"dropout", Verb::dropout},
      {"liste", Verb::list}, {"list", Verb::list}, {"ls", Verb::list},
      {"dossier", Verb::show}, {"show", Verb::show}, {"voir", Verb::show},
      {"stats", Verb::stats}, {"statistiques", Verb::stats},
      {"export", Verb::export_}, {"exporter", Verb::export_},
      {"aide", Verb::help}, {"help", Verb::help}, {"?", Verb::help},
      {"vu", Verb::sign}, {"signe", Verb::sign}, {"seen", Verb::sign}, {"contact", Verb::sign},
  };
  for (const auto& a : aliases)
    if (v == a.name) return a.verb;
  return Verb::unknown;
}

CommandError err(std::string usage, std::string reason, std::string detail = {}) {
  return CommandError{std::move(usage), std::move(reason), std::move(detail)};
}

}  // namespace

ParsedCommand parse_command(std::string_view line) {
  auto toks_opt = tokenize(line);
  if (!toks_opt) return err("usage.help", "error.unterminated_quote");
  auto& t = *toks_opt;
  if (t.empty()) return err("usage.help", "error.empty");
  const std::string verb_text = fold(t[0]);
  const Verb verb = verb_of(verb_text);

  auto need_case = [&](const char* usage) -> std::variant<std::int64_t, CommandError> {
    if (t.size() < 2) return err(usage, "error.missing_case");
    auto id = parse_case_id(t[1]);
    if (!id) return err(usage, "error.bad_case", t[1]);
    return *id;
  };

  switch (verb) {
    case Verb::claim: {
      auto id = need_case("usage.claim");
      if (auto* e = std::get_if<CommandError>(&id)) return *e;
      if (t.size() > 2) return err("usage.claim", "error.too_many_args", t[2]);
      return Command{ClaimCmd{std::get<std::int64_t>(id)}};
    }
    case Verb::log: {
      auto id = need_case("usage.log");
      if (auto* e = std::get_if<CommandError>(&id)) return *e;
      if (t.size() < 3) return err("usage.log", "error.missing_means");
      auto means = parse_means(t[2]);
      if (!means) return err("usage.log", "error.bad_means", t[2]);
      if (t.size() < 4) return err("usage.log", "error.missing_result");
      auto result = parse_result(t[3]);
      // sent, queued, delivered...: the bot's own delivery states, not staff's.
      if (!result || *result > Result::other) return err("usage.log", "error.bad_result", t[3]);
      return Command{LogCmd{std::get<std::int64_t>(id), *means, *result, join(t, 4)}};
    }
    case Verb::resumed: {
      auto id = need_case("usage.resumed");
      if (auto* e = std::get_if<CommandError>(&id)) return *e;
      return Command{ResumedCmd{std::get<std::int64_t>(id), join(t, 2)}};
    }
    case Verb::dropout: {
      auto id = need_case("usage.dropout");
      if (auto* e = std::get_if<CommandError>(&id)) return *e;
      return Command{DropoutCmd{std::get<std::int64_t>(id), join(t, 2)}};
    }
    case Verb::list: {
      if (t.size() > 2) return err("usage.list", "error.too_many_args", t[2]);
      if (t.size() == 1) return Command{ListCmd{ListScope::mine}};
      const std::string s = fold(t[1]);
      if (s == "mes" || s == "mine" || s == "moi") return Command{ListCmd{ListScope::mine}};
      if (s == "tous" || s == "all" || s == "tout") return Command{ListCmd{ListScope::all}};
      if (s == "retard" || s == "overdue" || s == "en_retard") return Command{ListCmd{ListScope::overdue}};
      return err("usage.list", "error.bad_scope", t[1]);
    }
    case Verb::show: {
      auto id = need_case("usage.show");
      if (auto* e = std::get_if<CommandError>(&id)) return *e;
      if (t.size() > 2) return err("usage.show", "error.too_many_args", t[2]);
      return Command{ShowCmd{std::get<std::int64_t>(id)}};
    }
    case Verb::stats: {
      if (t.size() > 2) return err("usage.stats", "error.too_many_args", t[2]);
      if (t.size() == 1) return Command{StatsCmd{}};
      auto m = parse_month(t[1]);
      if (!m) return err("usage.stats", "error.bad_month", t[1]);
      return Command{StatsCmd{m}};
    }
    case Verb::export_: {
      ExportCmd c;
      for (std::size_t i = 1; i < t.size(); ++i) {
        const std::string s = fold(t[i]);
        if (s == "xlsx" || s == "excel") c.format = ExportFormat::xlsx;
        else if (s == "csv") c.format = ExportFormat::csv;
        else if (auto m = parse_month(t[i])) c.month = m;
        else return err("usage.export", "error.bad_format", t[i]);
      }
      return Command{c};
    }
    case Verb::help:
      return Command{HelpCmd{t.size() > 1 ? fold(t[1]) : std::string()}};
    case Verb::sign: {
      auto id = need_case("usage.sign");
      if (auto* e = std::get_if<CommandError>(&id)) return *e;
      if (t.size() < 3) return err("usage.sign", "error.missing_source");
      auto src = parse_source(t[2]);
      if (!src) return err("usage.sign", "error.bad_source", t[2]);
      return Command{SignCmd{std::get<std::int64_t>(id), *src, join(t, 3)}};
    }
    case Verb::unknown: break;
  }
  return err("usage.unknown", "error.unknown_verb", t[0]);
}

std::optional<std::int64_t> case_of(const Command& cmd) {
  return std::visit(
      [](const auto& k) -> std::optional<std::int64_t> {
        if constexpr (requires { k.case_id; }) return k.case_id;
        else return std::nullopt;
      },
      cmd);
}

namespace {

// The French word of each value, one the parser reads back as that value.
std::string_view french(Means m) {
  switch (m) {
    case Means::sms: return "sms";
    case Means::email: return "email";
    case Means::phone: return "tel";
    case Means::matrix: return "matrix";
    case Means::letter: return "courrier";
    case Means::visit: return "visite";
    case Means::voicemail: return "vocal";
    case Means::prescriber_email: return "prescripteur";
    case Means::other: return "autre";
  }
  return "autre";
}

std::string_view french(Result r) {
  switch (r) {
    case Result::no_answer: return "sans_reponse";
    case Result::reached: return "joint";
    case Result::message_left: return "message";
    case Result::resumed: return "repris";
    case Result::dropped_out: return "abandon";
    default: return "autre";  // the bot's delivery states are not staff's to log
  }
}

std::string_view french(Source s) {
  switch (s) {
    case Source::lms: return "plateforme";
    case Source::lesson: return "lecon";
    case Source::booking: return "reservation";
    case Source::visit: return "visite";
    case Source::call: return "appel";
    case Source::message: return "reponse";
    case Source::email: return "courriel";
    case Source::staff: return "equipe";
  }
  return "equipe";
}

std::string month_text(const std::chrono::year_month& m) {
  const int y = int(m.year());
  const unsigned mo = unsigned(m.month());
  std::string s = std::to_string(y) + "-";
  if (mo < 10) s += '0';
  return s + std::to_string(mo);
}

struct LineOf {
  static std::string with(std::string line, std::string_view rest) {
    if (!rest.empty()) (line += ' ') += rest;
    return line;
  }
  static std::string id(std::int64_t case_id) { return std::to_string(case_id); }

  std::string operator()(const ClaimCmd& c) const { return "prendre " + id(c.case_id); }
  std::string operator()(const LogCmd& c) const {
    return with("relance " + id(c.case_id) + " " + std::string(french(c.means)) + " " + std::string(french(c.result)),
                c.comment);
  }
  std::string operator()(const ResumedCmd& c) const { return with("repris " + id(c.case_id), c.comment); }
  std::string operator()(const DropoutCmd& c) const { return with("abandon " + id(c.case_id), c.reason); }
  std::string operator()(const ListCmd& c) const {
    switch (c.scope) {
      case ListScope::mine: return "liste";
      case ListScope::all: return "liste tous";
      case ListScope::overdue: return "liste retard";
    }
    return "liste";
  }
  std::string operator()(const ShowCmd& c) const { return "dossier " + id(c.case_id); }
  std::string operator()(const StatsCmd& c) const { return c.month ? "stats " + month_text(*c.month) : "stats"; }
  std::string operator()(const ExportCmd& c) const {
    std::string s = c.format == ExportFormat::csv ? "export csv" : "export xlsx";
    return c.month ? s + " " + month_text(*c.month) : s;
  }
  std::string operator()(const HelpCmd& c) const { return with("aide", c.topic); }
  std::string operator()(const SignCmd& c) const {
    return with("vu " + id(c.case_id) + " " + std::string(french(c.source)), c.comment);
  }
};

}  // namespace

std::string command_line(const Command& cmd) { return std::visit(LineOf{}, cmd); }

}  // namespace relance
