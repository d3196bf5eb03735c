// The tracking register of procedure 001 ("Tableau de suivi des élèves
// inactifs / abandons") and the return-rate statistics of procedure 000 §4.
//
// Both read the store only. The register is first built as a plain table of
// typed cells (text, local date, number), then written by one of two writers:
// XLSX through libxlsxwriter, or CSV the way French Excel opens it.
#include "bot/app/export.hpp"

#include "bot/domain/stats.hpp"
#include "store/repositories.hpp"

#include <xlsxwriter.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace relance::app {

namespace {

namespace chr = std::chrono;
using Date = chr::year_month_day;

// --- a table of typed cells, independent of the output format ---

struct Column {
  std::string header;
  double width = 12;  // in Excel character units
  bool wrap = false;  // long free text
};

using Cell = std::variant<std::monostate, std::string, Date, std::int64_t>;

struct Table {
  std::string title;
  std::string subtitle;
  std::string sheet_name;
  std::string organisation;
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;
};

Date local_date(Timestamp t, const ZoneRules& zone) {
  return Date{chr::sys_days{chr::floor<chr::days>(zone.to_local(t)).time_since_epoch()}};
}

std::string format_day(Date d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02u/%02u/%04d", unsigned(d.day()), unsigned(d.month()), int(d.year()));
  return buf;
}

// A text cell that Excel could read as a formula once it is a CSV field
// (CSV injection: "=HYPERLINK(...)" in a learner's name or a comment).
// XLSX cells are typed strings and need no such guard.
bool looks_like_formula(std::string_view s) {
  return !s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r');
}

std::string csv_field(const Cell& cell) {
  std::string s;
  if (const auto* text = std::get_if<std::string>(&cell)) {
    s = looks_like_formula(*text) ? "'" + *text : *text;
  } else if (const auto* d = std::get_if<Date>(&cell)) {
    s = format_day(*d);
  } else if (const auto* n = std::get_if<std::int64_t>(&cell)) {
    s = std::to_string(*n);
  }
  // RFC 4180: quote a field holding the separator, a quote or a line break,
  // doubling the quotes inside.
  if (s.find_first_of(";\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  q += '"';
  return q;
}

// The file appears whole or not at all: written next to its final name, then
// renamed over it.
std::filesystem::path temp_sibling(const std::filesystem::path& out) {
  std::filesystem::path tmp = out;
  tmp += ".tmp";
  return tmp;
}

void publish(const std::filesystem::path& tmp, const std::filesystem::path& out) {
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error("cannot write " + out.string() + ": " + ec.message());
  }
}

void write_csv(const Table& t, const std::filesystem::path& out) {
  const auto tmp = temp_sibling(out);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + out.string() + ": cannot create " + tmp.string());
    // UTF-8 with a byte order mark, so that Excel shows the accents right;
    // ';' because French Excel splits on it; CRLF as RFC 4180 says.
    f << "\xEF\xBB\xBF";
    for (std::size_t c = 0; c < t.columns.size(); ++c) f << (c ? ";" : "") << csv_field(t.columns[c].header);
    f << "\r\n";
    for (const auto& row : t.rows) {
      for (std::size_t c = 0; c < row.size(); ++c) f << (c ? ";" : "") << csv_field(row[c]);
      f << "\r\n";
    }
    f.flush();
    if (!f) {
      f.close();
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw std::runtime_error("cannot write " + out.string() + ": write failed");
    }
  }
  publish(tmp, out);
}

// Excel refuses longer strings in a cell; cut on a UTF-8 character boundary.
std::string fit_cell(std::string s) {
  constexpr std::size_t max_bytes = 32767;
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes - 3;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s + "...";
}

// Excel sheet names: at most 31 characters, none of : \ / ? * [ ].
std::string sheet_name(std::string s) {
  for (char& c : s)
    if (std::string_view(":\\/?*[]").find(c) != std::string_view::npos) c = '-';
  // 31 characters, counted as UTF-8 code points.
  std::size_t chars = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == 31) break;
      ++chars;
    }
  }
  s.resize(i);
  return s.empty() ? "Register" : s;
}

void write_xlsx(const Table& t, const std::filesystem::path& out, Timestamp now) {
  const auto tmp = temp_sibling(out);
  lxw_workbook* wb = workbook_new(tmp.c_str());
  if (!wb) throw std::runtime_error("cannot write " + out.string() + ": cannot create the workbook");
  // workbook_close() frees the workbook, whatever happens: the guard makes
  // sure it runs once, also when a cell write throws below.
  struct Closer {
    lxw_workbook* wb;
    ~Closer() {
      if (wb) workbook_close(wb);
    }
  } closer{wb};
  auto fail = [&](const std::string& why) {
    workbook_close(closer.wb);
    closer.wb = nullptr;
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error("cannot write " + out.string() + ": " + why);
  };
  auto check = [&](lxw_error err, const char* what) {
    if (err != LXW_NO_ERROR) fail(std::string(what) + ": " + lxw_strerror(err));
  };

  // Fixed creation time: the same register exported twice is the same file.
  std::string title = t.title, author = "relance", company = t.organisation;
  lxw_doc_properties props{};
  props.title = title.data();
  props.author = author.data();
  props.company = company.data();
  props.created = std::time_t(to_unix(now));
  check(workbook_set_properties(wb, &props), "properties");

  const std::string name = sheet_name(t.sheet_name);
  lxw_worksheet* ws = workbook_add_worksheet(wb, name.c_str());
  if (!ws) fail("cannot add the sheet \"" + name + "\"");

  lxw_format* title_fmt = workbook_add_format(wb);
  format_set_bold(title_fmt);
  format_set_font_size(title_fmt, 14);
  lxw_format* subtitle_fmt = workbook_add_format(wb);
  format_set_italic(subtitle_fmt);
  lxw_format* header_fmt = workbook_add_format(wb);
  format_set_bold(header_fmt);
  format_set_text_wrap(header_fmt);
  format_set_align(header_fmt, LXW_ALIGN_VERTICAL_TOP);
  format_set_bg_color(header_fmt, 0xDDEBF7);
  format_set_bottom(header_fmt, LXW_BORDER_THIN);
  lxw_format* text_fmt = workbook_add_format(wb);
  format_set_align(text_fmt, LXW_ALIGN_VERTICAL_TOP);
  lxw_format* wrap_fmt = workbook_add_format(wb);
  format_set_text_wrap(wrap_fmt);
  format_set_align(wrap_fmt, LXW_ALIGN_VERTICAL_TOP);
  lxw_format* date_fmt = workbook_add_format(wb);
  format_set_num_format(date_fmt, "dd/mm/yyyy");
  format_set_align(date_fmt, LXW_ALIGN_LEFT);
  format_set_align(date_fmt, LXW_ALIGN_VERTICAL_TOP);

  constexpr lxw_row_t title_row = 0, subtitle_row = 1, header_row = 2, first_data_row = 3;
  const auto ncols = lxw_col_t(t.columns.size());

  check(worksheet_write_string(ws, title_row, 0, fit_cell(t.title).c_str(), title_fmt), "title");
  check(worksheet_write_string(ws, subtitle_row, 0, fit_cell(t.subtitle).c_str(), subtitle_fmt), "subtitle");
  for (lxw_col_t c = 0; c < ncols; ++c) {
    const Column& col = t.columns[c];
    check(worksheet_set_column(ws, c, c, col.width, col.wrap ? wrap_fmt : text_fmt), "column width");
    check(worksheet_write_string(ws, header_row, c, col.header.c_str(), header_fmt), "header");
  }

  lxw_row_t r = first_data_row;
  for (const auto& row : t.rows) {
    for (lxw_col_t c = 0; c < ncols && c < row.size(); ++c) {
      lxw_format* fmt = t.columns[c].wrap ? wrap_fmt : text_fmt;
      const Cell& cell = row[c];
      lxw_error err = LXW_NO_ERROR;
      if (const auto* text = std::get_if<std::string>(&cell)) {
        if (!text->empty()) err = worksheet_write_string(ws, r, c, fit_cell(*text).c_str(), fmt);
      } else if (const auto* d = std::get_if<Date>(&cell)) {
        lxw_datetime dt{int(d->year()), int(unsigned(d->month())), int(unsigned(d->day())), 0, 0, 0};
        err = worksheet_write_datetime(ws, r, c, &dt, date_fmt);
      } else if (const auto* n = std::get_if<std::int64_t>(&cell)) {
        err = worksheet_write_number(ws, r, c, double(*n), fmt);
      }
      check(err, "cell");
    }
    ++r;
  }

  // Header stays in view and filters on every column; the learner's name
  // stays in view when scrolling right. Printed: landscape, one page wide,
  // header repeated on every page.
  worksheet_freeze_panes(ws, first_data_row, 1);
  check(worksheet_autofilter(ws, header_row, 0, lxw_row_t(header_row + t.rows.size()), lxw_col_t(ncols - 1)), "autofilter");
  worksheet_set_landscape(ws);
  worksheet_fit_to_pages(ws, 1, 0);
  check(worksheet_repeat_rows(ws, header_row, header_row), "print titles");

  // The file is written here only (G12): its error is the one that matters.
  const lxw_error err = workbook_close(closer.wb);
  closer.wb = nullptr;
  if (err != LXW_NO_ERROR) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error("cannot write " + out.string() + ": " + lxw_strerror(err));
  }
  publish(tmp, out);
}

// --- reading the store ---

struct Period {
  std::optional<chr::year_month> month;
  Timestamp from = from_unix(0);
  // Far enough for any case, small enough for every SQL comparison.
  Timestamp to = from_unix(253402300799);  // 9999-12-31T23:59:59Z
  bool contains(Timestamp t) const { return t >= from && t < to; }
};

Period period_of(std::optional<chr::year_month> month, const ZoneRules& zone) {
  Period p;
  if (!month) return p;
  p.month = month;
  const auto first = chr::local_days{month->year() / month->month() / 1};
  const auto next = *month + chr::months{1};
  p.from = zone.to_utc(LocalTime{first});
  p.to = zone.to_utc(LocalTime{chr::local_days{next.year() / next.month() / 1}});
  return p;
}

// Cases active during the period: opened before its end and not closed
// before its start. Ordered by opening time, as the register is read.
std::vector<Case> cases_in(const ReportSource& src, const Period& p) {
  store::CaseRepo repo(src.db);
  std::vector<Case> all = repo.in_period(p.from, p.to);
  std::vector<Case> kept;
  kept.reserve(all.size());
  for (auto& c : all)
    if (c.opened_at < p.to && (!c.closed_at || *c.closed_at >= p.from)) kept.push_back(std::move(c));
  std::sort(kept.begin(), kept.end(), [](const Case& a, const Case& b) {
    return a.opened_at != b.opened_at ? a.opened_at < b.opened_at : a.id < b.id;
  });
  return kept;
}

class Texts {
public:
  explicit Texts(const ReportSource& src) : catalog_(src.catalog), lang_(src.config.default_language) {}
  std::string operator()(std::string_view key, const Params& p = {}) const { return catalog_.render(lang_, key, p); }

private:
  const messages::Catalog& catalog_;
  std::string lang_;
};

std::string period_text(const Texts& text, const Period& p) {
  if (!p.month) return text("register.period_all");
  return text("register.period_month",
              {{"month_name", text("register.month." + std::to_string(unsigned(p.month->month())))},
               {"year", std::to_string(int(p.month->year()))}});
}

std::string means_text(const Texts& text, Means m) { return text("register.means." + std::string(to_string(m))); }

std::string result_text(const Texts& text, CaseState s) {
  switch (s) {
    case CaseState::resumed: return text("register.result.resumed");
    case CaseState::dropped_out: return text("register.result.dropped_out");
    case CaseState::closed: return text("register.result.closed");
    case CaseState::open:
    case CaseState::claimed:
    case CaseState::in_progress: break;
  }
  return text("register.result.in_progress");
}

std::string join(const std::vector<std::string>& parts, std::string_view sep = "; ") {
  std::string s;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!s.empty()) s += sep;
    s += p;
  }
  return s;
}

// The outcome note the core leaves on a closed case, as the register reads it:
// "dropout_declared" (procedure 001's closing after the ladder),
// "activity:<source>" (a sign of life), or the staff member's own words.
std::string outcome_text(const Texts& text, const Case& c, const ZoneRules& zone) {
  const std::string& note = c.outcome_note;
  if (c.state == CaseState::dropped_out && note == "dropout_declared")
    return text("register.dropout_declared", {{"count", std::to_string(c.relaunches)}});
  if (note.rfind("activity:", 0) == 0) {
    const auto source = parse_source(std::string_view(note).substr(9));
    return text("register.resumed_by_activity",
                {{"source", source ? text("register.source." + std::string(to_string(*source))) : note.substr(9)},
                 {"date", c.closed_at ? format_day(local_date(*c.closed_at, zone)) : std::string()}});
  }
  if (note.empty()) return {};
  switch (c.state) {
    case CaseState::resumed: return text("register.outcome_resumed", {{"note", note}});
    case CaseState::dropped_out: return text("register.outcome_dropout", {{"note", note}});
    case CaseState::closed: return text("register.outcome_closed", {{"note", note}});
    default: return note;
  }
}

const Policy* find_policy(const Config& config, std::string_view id) {
  for (const auto& p : config.policies)
    if (p.id == id) return &p;
  return nullptr;
}

Table build_register(const ReportSource& src, const Period& period, Timestamp now) {
  const Texts text(src);
  const ZoneRules& zone = src.zone;
  const Config& config = src.config;

  Table t;
  const std::string when = period_text(text, period);
  t.title = text("register.title") + (period.month ? " — " + when : std::string());
  t.subtitle = text("register.subtitle", {{"organisation", config.organisation},
                                          {"period", when},
                                          {"exported_at", format_local(now, zone)},
                                          {"zone", zone.name()}});
  t.sheet_name = period.month ? text("register.sheet", {{"period", when}}) : text("register.sheet_all");
  t.organisation = config.organisation;
  t.columns = {
      {text("register.column.learner"), 24},       {text("register.column.id"), 14},
      {text("register.column.cohort"), 18},        {text("register.column.last_activity"), 14},
      {text("register.column.relaunch_dates"), 26, true}, {text("register.column.means"), 22, true},
      {text("register.column.result"), 14},        {text("register.column.comment"), 50, true},
      {text("register.column.case"), 9},           {text("register.column.policy"), 18},
      {text("register.column.assignee"), 16},      {text("register.column.opened"), 12},
      {text("register.column.closed"), 12},
  };

  const auto learners = store::LearnerRepo(src.db).of_cases_in_period(period.from, period.to);
  const auto relaunches = store::RelaunchRepo(src.db).of_cases_in_period(period.from, period.to);
  static const std::vector<Relaunch> none;

  for (const Case& c : cases_in(src, period)) {
    const auto li = learners.find(c.learner_key);
    const Learner* l = li == learners.end() ? nullptr : &li->second;
    const Policy* policy = find_policy(config, c.policy_id);

    // Date of last activity: the inactivity reference the case opened on,
    // or "Jamais" for a learner with no activity at all over the policy's
    // sources (procedure 003's "never accessed").
    Cell last_activity = local_date(c.activity_ref, zone);
    if (l && !l->activity.last_over(policy ? policy->sources : SourceSet::all()))
      last_activity = text("register.never");

    std::vector<std::string> dates, means, comments;
    const auto ri = relaunches.find(c.id);
    for (const Relaunch& r : ri == relaunches.end() ? none : ri->second) {
      const std::string day = format_day(local_date(r.at, zone));
      dates.push_back(day);
      // A message relance sent says what became of it: sent (the date it
      // left), delivered, or never out (queued, failed, not sent).
      means.push_back(r.automatic ? text("register.bot_means", {{"means", means_text(text, r.means)},
                                                                {"status", text("register.delivery." + std::string(to_string(r.result)))}})
                                  : means_text(text, r.means));
      if (!r.comment.empty()) comments.push_back(text("register.comment_entry", {{"date", day}, {"comment", r.comment}}));
    }
    comments.push_back(outcome_text(text, c, zone));

    std::string assignee = c.assignee;
    if (const StaffMember* s = config.find_staff(c.assignee); s && !s->name.empty()) assignee = s->name;

    std::vector<Cell> row;
    row.reserve(t.columns.size());
    row.emplace_back(l ? l->display_name() : std::string());
    row.emplace_back(l ? l->id : std::string());
    row.emplace_back(l ? l->cohort : std::string());
    row.push_back(last_activity);
    row.emplace_back(join(dates));
    row.emplace_back(join(means));
    row.emplace_back(result_text(text, c.state));
    row.emplace_back(join(comments));
    row.emplace_back(std::int64_t(c.id));
    row.emplace_back(policy && !policy->label.empty() ? policy->label : c.policy_id);
    row.emplace_back(assignee);
    row.emplace_back(local_date(c.opened_at, zone));
    row.push_back(c.closed_at ? Cell{local_date(*c.closed_at, zone)} : Cell{});
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string percent(const RateCell& cell) {
  if (!cell.relaunches) return "0";
  return std::to_string((cell.returned * 200 + cell.relaunches) / (2 * cell.relaunches));  // rounded
}

Params rate_params(const RateCell& cell) {
  return {{"rate", percent(cell)},
          {"returned", std::to_string(cell.returned)},
          {"relaunches", std::to_string(cell.relaunches)}};
}

}  // namespace

int export_register(const ReportSource& src, const std::filesystem::path& out, const RegisterOptions& opts,
                    Timestamp now) {
  // Said here rather than by libxlsxwriter, which would print its own error
  // on stderr before failing.
  if (const auto dir = out.parent_path(); !dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      throw std::runtime_error("cannot write " + out.string() + ": no such folder " + dir.string());
  }
  const Table t = build_register(src, period_of(opts.month, src.zone), now);
  switch (opts.format) {
    case RegisterFormat::xlsx: write_xlsx(t, out, now); break;
    case RegisterFormat::csv: write_csv(t, out); break;
  }
  return int(t.rows.size());
}

std::string render_stats(const ReportSource& src, std::optional<chr::year_month> month, Timestamp now) {
  const Texts text(src);
  const Period period = period_of(month, src.zone);
  store::CaseRepo case_repo(src.db);
  store::TaskRepo task_repo(src.db);

  std::vector<std::string> lines;
  lines.push_back(text("stats.title", {{"period", period_text(text, period)}}));

  // Now: the cases still running and the tasks nobody has done in time.
  const std::vector<Case> active = case_repo.active();
  lines.push_back(text("stats.open_cases", {{"count", std::to_string(active.size())}}));
  for (CaseState s : {CaseState::open, CaseState::claimed, CaseState::in_progress}) {
    const auto n = std::count_if(active.begin(), active.end(), [s](const Case& c) { return c.state == s; });
    if (n) lines.push_back(text("stats.open_by_state", {{"state", text("stats.state." + std::string(to_string(s)))},
                                                        {"count", std::to_string(n)}}));
  }
  lines.push_back(text("stats.overdue_tasks", {{"count", std::to_string(task_repo.overdue(now).size())}}));

  // Over the period: what opened and how cases ended.
  const std::vector<Case> cases = cases_in(src, period);
  auto relaunches = store::RelaunchRepo(src.db).of_cases_in_period(period.from, period.to);
  int opened = 0, resumed = 0, dropped = 0;
  for (const Case& c : cases) {
    if (period.contains(c.opened_at)) ++opened;
    if (c.closed_at && period.contains(*c.closed_at)) {
      if (c.state == CaseState::resumed) ++resumed;
      if (c.state == CaseState::dropped_out) ++dropped;
    }
  }
  lines.push_back(text("stats.period_cases", {{"opened", std::to_string(opened)},
                                              {"resumed", std::to_string(resumed)},
                                              {"dropped_out", std::to_string(dropped)}}));

  // Return rate: relaunches made during the period (and already made: a
  // message queued for after the quiet hours is not a relaunch yet). A case
  // closed as resumed returned at its closing time; the core credits the last
  // relaunch before it. When that relaunch falls outside the period, the
  // period's relaunches get no credit, so the return is cleared here.
  std::vector<CaseHistory> histories;
  std::map<int, std::set<std::string>> step_names;
  histories.reserve(cases.size());
  for (const Case& c : cases) {
    std::vector<Relaunch> all = std::move(relaunches[c.id]);
    std::optional<Timestamp> returned_at;
    if (c.state == CaseState::resumed && c.closed_at) returned_at = c.closed_at;
    if (returned_at) {
      const Relaunch* credited = nullptr;
      for (const Relaunch& r : all)
        if (r.at <= *returned_at) credited = &r;
      if (credited && !period.contains(credited->at)) returned_at.reset();
    }
    std::vector<Relaunch> kept;
    for (Relaunch& r : all)
      if (period.contains(r.at) && r.at <= now) kept.push_back(std::move(r));
    for (const Relaunch& r : kept)
      if (r.step >= 0 && std::size_t(r.step) < c.plan.steps.size()) step_names[r.step].insert(c.plan.steps[std::size_t(r.step)].name);
    if (!kept.empty()) histories.push_back(CaseHistory{&c, std::move(kept), returned_at});
  }
  const ReturnStats stats = return_stats(histories, src.config.return_window);

  if (!stats.overall.relaunches) {
    lines.push_back(text("stats.no_relaunch"));
  } else {
    Params p = rate_params(stats.overall);
    p["window"] = std::to_string(src.config.return_window.count());
    lines.push_back(text("stats.return_rate", p));
    lines.push_back(text("stats.by_step"));
    // Plan steps in order, then the relaunches staff logged outside the plan.
    std::vector<std::pair<int, RateCell>> steps(stats.by_step.begin(), stats.by_step.end());
    std::stable_partition(steps.begin(), steps.end(), [](const auto& s) { return s.first >= 0; });
    for (const auto& [step, cell] : steps) {
      std::string label;
      if (step < 0) {
        label = text("stats.step_outside");
      } else {
        const auto& names = step_names[step];
        const std::string number = std::to_string(step + 1);
        // Policies may name the same index differently: name it only when
        // every case agrees.
        label = names.size() == 1 && !names.begin()->empty()
                    ? text("stats.step_name", {{"number", number}, {"name", *names.begin()}})
                    : text("stats.step_number", {{"number", number}});
      }
      Params sp = rate_params(cell);
      sp["step"] = label;
      lines.push_back(text("stats.step_line", sp));
    }
    lines.push_back(text("stats.by_means"));
    for (const auto& [name, cell] : stats.by_means) {
      Params mp = rate_params(cell);
      const auto m = parse_means(name);
      mp["means"] = m ? means_text(text, *m) : name;
      lines.push_back(text("stats.means_line", mp));
    }
  }

  std::string out;
  for (const auto& l : lines) {
    out += l;
    out += '\n';
  }
  return out;
}

}  // namespace relance::app
