#include "bot/app/config.hpp"

#include "messages/text/ascii.hpp"
#include "adapters/lms/csv/moodle_participants.hpp"
#include "adapters/lms/csv/text.hpp"
#include "bot/app/zone.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace relance::app {

ConfigError::ConfigError(std::string file, int line, int column, std::string reason)
    : std::runtime_error(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + reason),
      file_(std::move(file)), line_(line), column_(column), reason_(std::move(reason)) {}

const StaffMember* Config::find_staff(std::string_view id) const {
  for (const auto& s : staff)
    if (s.id == id) return &s;
  return nullptr;
}

const StaffMember* Config::find_staff_by_chat(std::string_view network, std::string_view user) const {
  if (user.empty()) return nullptr;
  // Mattermost usernames are case-insensitive and may come with their '@'.
  auto same = [](std::string_view a, std::string_view b) {
    if (!a.empty() && a.front() == '@') a.remove_prefix(1);
    if (!b.empty() && b.front() == '@') b.remove_prefix(1);
    return text::iequals(a, b);
  };
  for (const auto& s : staff) {
    if (network == "mattermost" && !s.mattermost.empty() && same(s.mattermost, user)) return &s;
    if (network == "matrix" && !s.matrix.empty() && s.matrix == user) return &s;
  }
  return nullptr;
}

namespace {

// Reads typed values out of toml++ nodes, turning every mistake into a
// ConfigError at the offending node's position.
class Reader {
public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const toml::node& n, const std::string& reason) const {
    const auto& s = n.source();
    throw ConfigError(file_, int(s.begin.line), int(s.begin.column), reason);
  }

  const toml::node* get(const toml::table& t, std::string_view key) const { return t.get(key); }

  std::string str(const toml::table& t, std::string_view key, const std::string& def, bool required = false) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) fail(t, "missing required key '" + std::string(key) + "'");
      return def;
    }
    if (!n->is_string()) fail(*n, "'" + std::string(key) + "' must be a string");
    return n->as_string()->get();
  }

  std::int64_t integer(const toml::table& t, std::string_view key, std::int64_t def, std::int64_t lo, std::int64_t hi) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_integer()) fail(*n, "'" + std::string(key) + "' must be an integer");
    const auto v = n->as_integer()->get();
    if (v < lo || v > hi)
      fail(*n, "'" + std::string(key) + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return v;
  }

  bool boolean(const toml::table& t, std::string_view key, bool def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_boolean()) fail(*n, "'" + std::string(key) + "' must be true or false");
    return n->as_boolean()->get();
  }

  std::vector<std::string> strings(const toml::table& t, std::string_view key) const {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) fail(*n, "'" + std::string(key) + "' must be an array of strings");
    for (const auto& e : *a) {
      if (!e.is_string()) fail(e, "'" + std::string(key) + "' must contain only strings");
      out.push_back(e.as_string()->get());
    }
    return out;
  }

  const toml::table* table(const toml::table& t, std::string_view key) const {
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(*n, "'" + std::string(key) + "' must be a table");
    return n->as_table();
  }

  std::vector<const toml::table*> tables(const toml::table& t, std::string_view key) const {
    std::vector<const toml::table*> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a || !a->is_array_of_tables()) fail(*n, "'" + std::string(key) + "' must be written [[" + std::string(key) + "]]");
    for (const auto& e : *a) out.push_back(e.as_table());
    return out;
  }

  // "20:00" -> minutes since midnight
  std::chrono::minutes clock_time(const toml::table& t, std::string_view key, std::chrono::minutes def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_string()) fail(*n, "'" + std::string(key) + "' must be a time like \"20:00\"");
    const std::string s = n->as_string()->get();
    int h = -1, m = -1;
    char colon = 0;
    std::istringstream in(s);
    if (!(in >> h >> colon >> m) || colon != ':' || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0))
      fail(*n, "'" + std::string(key) + "' must be a time like \"20:00\", not \"" + s + "\"");
    return std::chrono::hours(h) + std::chrono::minutes(m);
  }

  // Warns about keys nobody reads: a typo in a config must not pass silently.
  void known_keys(const toml::table& t, std::initializer_list<std::string_view> keys, const std::string& where) const {
    for (const auto& [k, v] : t) {
      if (std::find(keys.begin(), keys.end(), k.str()) == keys.end())
        fail(v, "unknown key '" + std::string(k.str()) + "' in " + where);
    }
  }

private:
  std::string file_;
};

std::optional<std::chrono::weekday> parse_weekday(const std::string& s) {
  static const std::pair<std::string_view, unsigned> days[] = {
      {"sunday", 0}, {"monday", 1}, {"tuesday", 2}, {"wednesday", 3}, {"thursday", 4}, {"friday", 5}, {"saturday", 6},
      {"dimanche", 0}, {"lundi", 1}, {"mardi", 2}, {"mercredi", 3}, {"jeudi", 4}, {"vendredi", 5}, {"samedi", 6}};
  for (const auto& [name, n] : days)
    if (s == name) return std::chrono::weekday{n};
  return std::nullopt;
}

// Levenshtein distance, to suggest the role a typo meant.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Checked where the role is written (the step's `role` line), not where a
// policy uses the plan: that is the line to correct.
std::string unknown_role(const std::string& role, const std::map<std::string, std::string>& known) {
  std::string reason = "role \"" + role + "\" is not a role of any [[staff]] member nor named in [roles]";
  std::string closest;
  std::size_t best = 3;  // at most two edits away
  for (const auto& [name, label] : known)
    if (const auto d = edit_distance(role, name); d < best) {
      best = d;
      closest = name;
    }
  if (!closest.empty()) reason += "; did you mean \"" + closest + "\"?";
  return reason;
}

Plan read_plan(const Reader& r, const toml::table& t, const std::map<std::string, std::string>& roles) {
  r.known_keys(t, {"id", "on_exhausted", "dropout_after_days", "step"}, "[[plan]]");
  Plan p;
  p.id = r.str(t, "id", "", true);
  const std::string ex = r.str(t, "on_exhausted", "keep_open");
  if (ex == "dropout") p.on_exhausted = OnExhausted::declare_dropout;
  else if (ex == "keep_open") p.on_exhausted = OnExhausted::keep_open;
  else r.fail(*t.get("on_exhausted"), "on_exhausted must be \"dropout\" or \"keep_open\"");
  p.dropout_after = std::chrono::days(r.integer(t, "dropout_after_days", 7, 0, 3650));
  for (const toml::table* st : r.tables(t, "step")) {
    r.known_keys(*st, {"name", "action", "means", "role", "template", "after_days", "at_inactive_days", "optional", "priority"},
                 "[[plan.step]]");
    Step s;
    s.name = r.str(*st, "name", "");
    const std::string action = r.str(*st, "action", "", true);
    if (action == "message") s.action = StepAction::message_learner;
    else if (action == "task") s.action = StepAction::staff_task;
    else r.fail(*st->get("action"), "action must be \"message\" (the bot writes to the learner) or \"task\" (a person acts)");
    const std::string means = r.str(*st, "means", "", true);
    auto m = parse_means(means);
    if (!m) r.fail(*st->get("means"), "unknown means \"" + means + "\" (sms, email, phone, matrix, letter, visit, voicemail, other)");
    s.means = *m;
    if (s.action == StepAction::message_learner && !is_learner_channel(s.means))
      r.fail(*st->get("means"), "a \"message\" step needs a channel the bot can send on: sms, email or matrix");
    s.role = r.str(*st, "role", "", true);
    if (!roles.count(s.role)) r.fail(*st->get("role"), unknown_role(s.role, roles));
    s.template_key = r.str(*st, "template", "", true);
    s.after_previous = std::chrono::days(r.integer(*st, "after_days", 0, 0, 3650));
    if (st->get("at_inactive_days")) s.at_inactive_days = std::chrono::days(r.integer(*st, "at_inactive_days", 0, 0, 3650));
    s.optional = r.boolean(*st, "optional", false);
    s.priority = r.boolean(*st, "priority", false);
    if (s.name.empty()) s.name = "étape " + std::to_string(p.steps.size() + 1);
    p.steps.push_back(std::move(s));
  }
  if (p.steps.empty()) r.fail(t, "plan '" + p.id + "' has no [[plan.step]]");
  return p;
}

double rate(const Reader& r, const toml::table& t, std::string_view key, double def) {
  const toml::node* n = t.get(key);
  if (!n) return def;
  double v = 0;
  if (n->is_integer()) v = double(n->as_integer()->get());
  else if (n->is_floating_point()) v = n->as_floating_point()->get();
  else r.fail(*n, "'" + std::string(key) + "' must be a number of messages per second");
  if (v < 0 || v > 1000) r.fail(*n, "'" + std::string(key) + "' must be between 0 (no limit) and 1000");
  return v;
}

// [sms] with its gateway's table, and [email].
template <class HttpUrl>
void read_learner_channels(const Reader& r, const toml::table& root, Config& c, HttpUrl&& http_url) {
  if (const auto* t = r.table(root, "sms")) {
    r.known_keys(*t, {"gateway", "max_parts", "rate_per_second", "region", "kannel", "twilio", "http"}, "[sms]");
    auto& s = c.sms;
    s.gateway = r.str(*t, "gateway", "", true);
    if (s.gateway != "kannel" && s.gateway != "twilio" && s.gateway != "http")
      r.fail(*t->get("gateway"), "'gateway' must be \"kannel\", \"twilio\" or \"http\", not \"" + s.gateway + "\"");
    s.max_parts = int(r.integer(*t, "max_parts", 3, 1, 10));
    s.rate_per_second = rate(r, *t, "rate_per_second", 5);
    s.region = r.str(*t, "region", "FR");
    const toml::table* g = r.table(*t, s.gateway);
    if (!g) r.fail(*t, "[sms] gateway = \"" + s.gateway + "\" needs an [sms." + s.gateway + "] table");
    if (s.gateway == "kannel") {
      r.known_keys(*g, {"sendsms_url", "username", "password", "from", "smsc", "public_url", "secret", "delivery_reports",
                        "timeout_seconds"},
                   "[sms.kannel]");
      auto& k = s.kannel;
      k.sendsms_url = http_url(*g, "sendsms_url", true);
      k.username = r.str(*g, "username", "", true);
      k.password = r.str(*g, "password", "");
      k.from = r.str(*g, "from", "", true);
      k.smsc = r.str(*g, "smsc", "");
      k.public_url = http_url(*g, "public_url", true);
      k.secret = r.str(*g, "secret", "");
      k.delivery_reports = r.boolean(*g, "delivery_reports", true);
      k.timeout = std::chrono::seconds(r.integer(*g, "timeout_seconds", 15, 1, 300));
      k.max_parts = s.max_parts;
    } else if (s.gateway == "twilio") {
      r.known_keys(*g, {"api_url", "account_sid", "auth_token", "from", "messaging_service_sid", "webhook_url",
                        "status_callback_url", "timeout_seconds"},
                   "[sms.twilio]");
      auto& w = s.twilio;
      w.api_url = http_url(*g, "api_url", false);
      if (w.api_url.empty()) w.api_url = "https://api.twilio.com";
      w.account_sid = r.str(*g, "account_sid", "", true);
      w.auth_token = r.str(*g, "auth_token", "");
      w.from = r.str(*g, "from", "");
      w.messaging_service_sid = r.str(*g, "messaging_service_sid", "");
      if (w.from.empty() == w.messaging_service_sid.empty())
        r.fail(*g, "[sms.twilio] needs exactly one of 'from' (a number) or 'messaging_service_sid'");
      w.webhook_url = http_url(*g, "webhook_url", true);
      w.status_callback_url = http_url(*g, "status_callback_url", false);
      w.timeout = std::chrono::seconds(r.integer(*g, "timeout_seconds", 15, 1, 300));
    } else {
      r.known_keys(*g, {"url", "method", "content_type", "body", "headers", "auth", "username", "secret", "from",
                        "id_pointer", "success_pointer", "success_values", "timeout_seconds", "inbound_secret",
                        "inbound_from_field", "inbound_text_field", "inbound_id_field", "inbound_to_field"},
                   "[sms.http]");
      auto& h = s.http;
      h.url = r.str(*g, "url", "", true);
      h.method = r.str(*g, "method", h.method);
      h.content_type = r.str(*g, "content_type", h.content_type);
      h.body = r.str(*g, "body", "");
      if (const auto* hs = r.table(*g, "headers"))
        for (const auto& [k, v] : *hs) {
          if (!v.is_string()) r.fail(v, "[sms.http] headers: the value of '" + std::string(k.str()) + "' must be a string");
          h.headers.emplace_back(std::string(k.str()), v.as_string()->get());
        }
      h.auth = r.str(*g, "auth", "");
      if (!h.auth.empty() && h.auth != "basic" && h.auth != "bearer")
        r.fail(*g->get("auth"), "'auth' must be \"basic\", \"bearer\" or absent");
      h.username = r.str(*g, "username", "");
      h.secret = r.str(*g, "secret", "");
      h.from = r.str(*g, "from", "");
      h.id_pointer = r.str(*g, "id_pointer", "");
      h.success_pointer = r.str(*g, "success_pointer", "");
      h.success_values = r.strings(*g, "success_values");
      h.timeout = std::chrono::seconds(r.integer(*g, "timeout_seconds", 15, 1, 300));
      h.inbound_secret = r.str(*g, "inbound_secret", "");
      h.inbound_from_field = r.str(*g, "inbound_from_field", h.inbound_from_field);
      h.inbound_text_field = r.str(*g, "inbound_text_field", h.inbound_text_field);
      h.inbound_id_field = r.str(*g, "inbound_id_field", h.inbound_id_field);
      h.inbound_to_field = r.str(*g, "inbound_to_field", h.inbound_to_field);
      try {
        sms::http::validate(h);
      } catch (const std::exception& e) {
        r.fail(*g, std::string("[sms.http]: ") + e.what());
      }
    }
  }
  if (const auto* t = r.table(root, "email")) {
    r.known_keys(*t, {"enabled", "smtp_url", "from", "username", "password", "require_tls", "reply_to", "ca_file",
                      "rate_per_second", "timeout_seconds", "message_id_domain", "imap"},
                 "[email]");
    auto& e = c.email;
    e.enabled = r.boolean(*t, "enabled", true);
    e.smtp.url = r.str(*t, "smtp_url", "", e.enabled);
    if (!e.smtp.url.empty() && e.smtp.url.rfind("smtp://", 0) != 0 && e.smtp.url.rfind("smtps://", 0) != 0)
      r.fail(*t->get("smtp_url"), "'smtp_url' must start with smtp:// (STARTTLS) or smtps:// (TLS)");
    e.smtp.from = r.str(*t, "from", "", e.enabled);
    if (!e.smtp.from.empty() && email::parse_mailbox(e.smtp.from).address.find('@') == std::string::npos)
      r.fail(*t->get("from"), "'from' must be an address: \"Organisme <relance@example.org>\" or \"relance@example.org\"");
    e.smtp.username = r.str(*t, "username", "");
    e.smtp.password = r.str(*t, "password", "");
    e.smtp.require_tls = r.boolean(*t, "require_tls", true);
    e.smtp.ca_file = r.str(*t, "ca_file", "");
    e.smtp.timeout = std::chrono::seconds(r.integer(*t, "timeout_seconds", 30, 1, 600));
    e.smtp.message_id_domain = r.str(*t, "message_id_domain", "");
    e.reply_to = r.str(*t, "reply_to", "");
    e.rate_per_second = rate(r, *t, "rate_per_second", 2);
    if (const auto* m = r.table(*t, "imap")) {
      r.known_keys(*m, {"url", "username", "password", "require_tls", "ca_file", "poll_seconds", "timeout_seconds",
                        "first_read_days"},
                   "[email.imap]");
      auto& i = e.imap;
      i.url = r.str(*m, "url", "", true);
      if (i.url.rfind("imap://", 0) != 0 && i.url.rfind("imaps://", 0) != 0)
        r.fail(*m->get("url"), "'url' must start with imaps:// (TLS) or imap:// (STARTTLS): imaps://imap.example.org/INBOX");
      i.username = r.str(*m, "username", "", true);
      i.password = r.str(*m, "password", "");
      i.require_tls = r.boolean(*m, "require_tls", true);
      i.ca_file = r.str(*m, "ca_file", "");
      i.poll_every = std::chrono::seconds(r.integer(*m, "poll_seconds", 60, 1, 3600));
      i.timeout = std::chrono::seconds(r.integer(*m, "timeout_seconds", 30, 1, 600));
      i.first_read_days = int(r.integer(*m, "first_read_days", 0, 0, 365));
      if (e.reply_to.empty())
        r.fail(*m, "[email.imap] reads the mailbox learners answer to: set [email] reply_to to its address, so "
                   "relaunch emails say where to answer");
    }
  }
}

// strptime formats of date columns: each must read a day of the month (a
// format like "%m/%Y" would date every row to the 1st, silently).
std::vector<std::string> date_formats(const Reader& r, const toml::table& t, std::string_view key) {
  const auto formats = r.strings(t, key);
  if (formats.empty()) r.fail(*t.get(key), "'" + std::string(key) + "' needs at least one format, e.g. \"%d/%m/%Y\"");
  for (const auto& f : formats)
    if (f.find("%d") == std::string::npos && f.find("%e") == std::string::npos && f.find("%F") == std::string::npos &&
        f.find("%D") == std::string::npos)
      r.fail(*t.get(key), "date format \"" + f + "\" reads no day (%d, %e, %F or %D): strptime formats such as "
                          "\"%d/%m/%Y\" or \"%Y-%m-%d %H:%M\"");
  return formats;
}

std::string source_choices() {
  std::string s;
  for (auto n : source_names) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

// [import.generic] (its columns and activity columns) and [import.moodle].
void read_import(const Reader& r, const toml::table& imp, Config& c) {
  r.known_keys(imp, {"generic", "moodle"}, "[import]");
  if (const auto* t = r.table(imp, "moodle")) {
    r.known_keys(*t, {"student_roles"}, "[import.moodle]");
    if (t->get("student_roles")) {
      c.moodle_export.student_roles = r.strings(*t, "student_roles");
      if (c.moodle_export.student_roles.empty())
        r.fail(*t->get("student_roles"), "'student_roles' is empty: every participant would be skipped as staff "
                                         "(the default is [\"Étudiant\", \"Student\"])");
    }
  }
  const auto* t = r.table(imp, "generic");
  if (!t) return;
  r.known_keys(*t, {"columns", "activity", "default_source", "default_cohort", "date_formats"}, "[import.generic]");
  auto& m = c.csv;
  m.default_source = r.str(*t, "default_source", m.default_source);
  if (!parse_source(m.default_source))
    r.fail(*t->get("default_source"), "unknown source \"" + m.default_source + "\" (" + source_choices() + ")");
  m.default_cohort = r.str(*t, "default_cohort", "");
  if (t->get("date_formats")) m.date_formats = date_formats(r, *t, "date_formats");
  const auto* cols = r.table(*t, "columns");
  if (cols) {
    r.known_keys(*cols, {"id", "first_name", "last_name", "full_name", "email", "phone", "matrix", "cohort",
                         "start_date", "last_activity", "source"},
                 "[import.generic.columns]");
    m.id = r.str(*cols, "id", "");
    m.first_name = r.str(*cols, "first_name", "");
    m.last_name = r.str(*cols, "last_name", "");
    m.full_name = r.str(*cols, "full_name", "");
    m.email = r.str(*cols, "email", "");
    m.phone = r.str(*cols, "phone", "");
    m.matrix = r.str(*cols, "matrix", "");
    m.cohort = r.str(*cols, "cohort", "");
    m.start_date = r.str(*cols, "start_date", "");
    m.last_activity = r.str(*cols, "last_activity", "");
    m.source = r.str(*cols, "source", "");
    if (m.id.empty() && m.email.empty()) r.fail(*cols, "the generic CSV mapping needs an 'id' or an 'email' column");
  }
  // "Date dernière leçon" = "lesson", or { source = "lesson", date_formats = [...] }.
  if (const auto* act = r.table(*t, "activity")) {
    if (!cols) r.fail(*act, "[import.generic.activity] needs [import.generic.columns] with an 'id' or an 'email' column");
    std::set<std::string> seen;
    if (!m.last_activity.empty()) seen.insert(csv::normalize_header(m.last_activity));
    for (const auto& [k, v] : *act) {
      ActivityColumn a;
      a.column = std::string(k.str());
      const std::string where = "[import.generic.activity] \"" + a.column + "\"";
      if (csv::trim(a.column).empty()) r.fail(v, where + ": the column name is empty");
      const toml::node* src = &v;
      if (const auto* detail = v.as_table()) {
        r.known_keys(*detail, {"source", "date_formats"}, where);
        src = detail->get("source");
        if (!src) r.fail(v, where + " needs a 'source' (" + source_choices() + ")");
        if (detail->get("date_formats")) a.date_formats = date_formats(r, *detail, "date_formats");
      }
      if (!src->is_string())
        r.fail(*src, where + " must name a source (\"lesson\") or be a table { source = \"lesson\", date_formats = [...] }");
      const std::string name = src->as_string()->get();
      const auto s = parse_source(name);
      if (!s) r.fail(*src, where + ": unknown source \"" + name + "\" (" + source_choices() + ")");
      a.source = *s;
      if (!seen.insert(csv::normalize_header(a.column)).second)
        r.fail(v, where + ": this column is already mapped (headers are compared without case or accents; "
                          "'last_activity' counts)");
      m.activity.push_back(std::move(a));
    }
  }
}

Config read(const toml::table& root, const std::string& name) {
  Reader r(name);
  Config c;
  c.source_file = name;
  r.known_keys(root, {"organisation", "store", "contact_window", "http", "moodle", "import", "staff", "roles", "plan",
                      "policy", "console", "stats", "messages_dir", "default_language", "mattermost", "matrix",
                      "escalation", "sms", "email"},
               "the top level");
  c.messages_dir = r.str(root, "messages_dir", "");
  c.default_language = r.str(root, "default_language", "fr");

  if (const auto* t = r.table(root, "organisation")) {
    r.known_keys(*t, {"name", "timezone", "platform_url"}, "[organisation]");
    c.organisation = r.str(*t, "name", c.organisation);
    c.organisation_named = t->get("name") && !c.organisation.empty();
    c.timezone = r.str(*t, "timezone", c.timezone);
    c.platform_url = r.str(*t, "platform_url", "");
    try {
      (void)make_zone(c.timezone);
    } catch (const std::exception&) {
      r.fail(*t->get("timezone"), "unknown time zone \"" + c.timezone + "\" (e.g. Europe/Paris)");
    }
  }
  if (const auto* t = r.table(root, "store")) {
    r.known_keys(*t, {"path"}, "[store]");
    c.database = r.str(*t, "path", c.database.string());
  }
  if (const auto* t = r.table(root, "contact_window")) {
    r.known_keys(*t, {"quiet_start", "quiet_end", "closed_days", "public_holidays", "alsace_moselle", "extra_closed_dates"},
                 "[contact_window]");
    auto& w = c.contact_window;
    w.quiet_start = r.clock_time(*t, "quiet_start", w.quiet_start);
    w.quiet_end = r.clock_time(*t, "quiet_end", w.quiet_end);
    if (t->get("closed_days")) {
      w.closed_days.clear();
      for (const auto& d : r.strings(*t, "closed_days")) {
        auto wd = parse_weekday(d);
        if (!wd) r.fail(*t->get("closed_days"), "unknown day \"" + d + "\" (sunday, monday, ... or dimanche, lundi, ...)");
        w.closed_days.push_back(*wd);
      }
    }
    w.public_holidays = r.boolean(*t, "public_holidays", true);
    w.alsace_moselle = r.boolean(*t, "alsace_moselle", false);
    for (const auto& d : r.strings(*t, "extra_closed_dates")) {
      auto day = parse_iso_date(d);
      if (!day) r.fail(*t->get("extra_closed_dates"), "\"" + d + "\" is not a date YYYY-MM-DD");
      w.extra_closed_dates.emplace_back(*day);
    }
  }
  if (const auto* t = r.table(root, "http")) {
    r.known_keys(*t, {"listen", "port", "max_body_bytes", "api_token", "max_connections", "max_connections_per_client",
                      "max_body_bytes_in_flight"},
                 "[http]");
    c.http.listen_address = r.str(*t, "listen", c.http.listen_address);
    c.http.port = std::uint16_t(r.integer(*t, "port", c.http.port, 0, 65535));
    c.http.max_body_bytes = std::size_t(r.integer(*t, "max_body_bytes", std::int64_t(c.http.max_body_bytes), 1024, 1 << 30));
    c.http.api_token = r.str(*t, "api_token", "");
    c.http.max_connections = std::size_t(r.integer(*t, "max_connections", std::int64_t(c.http.max_connections), 1, 1 << 20));
    c.http.max_connections_per_client = std::size_t(r.integer(
        *t, "max_connections_per_client", std::int64_t(c.http.max_connections_per_client), 1, 1 << 20));
    c.http.max_body_bytes_in_flight = std::size_t(r.integer(
        *t, "max_body_bytes_in_flight", std::int64_t(c.http.max_body_bytes_in_flight), 1024, std::int64_t(1) << 40));
  }
  if (const auto* t = r.table(root, "moodle")) {
    r.known_keys(*t, {"enabled", "url", "token", "courses", "roles", "course_cohorts", "interval_minutes", "ca_file"}, "[moodle]");
    auto& m = c.moodle;
    m.enabled = r.boolean(*t, "enabled", true);
    m.url = r.str(*t, "url", "", m.enabled);
    m.token = r.str(*t, "token", "");
    if (const toml::node* n = t->get("courses")) {
      const toml::array* a = n->as_array();
      if (!a) r.fail(*n, "'courses' must be an array of course ids");
      for (const auto& e : *a) {
        if (!e.is_integer()) r.fail(e, "course ids are integers");
        m.courses.push_back(e.as_integer()->get());
      }
    }
    if (t->get("roles")) m.roles = r.strings(*t, "roles");
    if (const auto* cc = r.table(*t, "course_cohorts")) {
      for (const auto& [k, v] : *cc) {
        std::int64_t id = 0;
        try {
          id = std::stoll(std::string(k.str()));
        } catch (const std::exception&) {
          r.fail(v, "course_cohorts keys are course ids");
        }
        if (!v.is_string()) r.fail(v, "a cohort name must be a string");
        m.course_cohorts[id] = v.as_string()->get();
      }
    }
    m.interval = std::chrono::minutes(r.integer(*t, "interval_minutes", 60, 1, 7 * 24 * 60));
    m.ca_file = r.str(*t, "ca_file", "");
    if (m.enabled && m.courses.empty()) r.fail(*t, "[moodle] needs at least one course id in 'courses'");
  }
  if (const auto* imp = r.table(root, "import")) read_import(r, *imp, c);
  if (const auto* t = r.table(root, "roles")) {
    for (const auto& [k, v] : *t) {
      if (!v.is_string()) r.fail(v, "a role's label must be a string, e.g. secretariat = \"Secrétariat\"");
      c.role_labels[std::string(k.str())] = v.as_string()->get();
    }
  }
  std::set<std::string> staff_ids;
  for (const toml::table* t : r.tables(root, "staff")) {
    r.known_keys(*t, {"id", "name", "roles", "mattermost", "matrix"}, "[[staff]]");
    StaffMember s;
    s.id = r.str(*t, "id", "", true);
    s.name = r.str(*t, "name", s.id);
    s.roles = r.strings(*t, "roles");
    s.mattermost = r.str(*t, "mattermost", "");
    s.matrix = r.str(*t, "matrix", "");
    if (!staff_ids.insert(s.id).second) r.fail(*t->get("id"), "staff id \"" + s.id + "\" is used twice");
    for (const auto& role : s.roles)
      if (!c.role_labels.count(role)) c.role_labels[role] = role;
    c.staff.push_back(std::move(s));
  }
  std::map<std::string, Plan> plans;
  for (const toml::table* t : r.tables(root, "plan")) {
    Plan p = read_plan(r, *t, c.role_labels);
    if (plans.count(p.id)) r.fail(*t->get("id"), "plan id \"" + p.id + "\" is used twice");
    plans[p.id] = std::move(p);
  }
  std::set<std::string> policy_ids;
  for (const toml::table* t : r.tables(root, "policy")) {
    r.known_keys(*t, {"id", "label", "cohorts", "sources", "condition", "days", "session_start", "plan", "priority"}, "[[policy]]");
    Policy p;
    p.id = r.str(*t, "id", "", true);
    if (!policy_ids.insert(p.id).second) r.fail(*t->get("id"), "policy id \"" + p.id + "\" is used twice");
    p.label = r.str(*t, "label", p.id);
    p.cohorts = r.strings(*t, "cohorts");
    if (t->get("sources")) {
      p.sources = SourceSet{};
      for (const auto& s : r.strings(*t, "sources")) {
        auto src = parse_source(s);
        if (!src) r.fail(*t->get("sources"), "unknown source \"" + s + "\" (lms, lesson, booking, visit, call, message, email, staff)");
        p.sources.add(*src);
      }
      if (p.sources.empty()) r.fail(*t->get("sources"), "a policy needs at least one source");
    }
    const std::string cond = r.str(*t, "condition", "inactive_for");
    if (cond == "inactive_for") p.condition = Condition::inactive_for;
    else if (cond == "never_accessed") p.condition = Condition::never_accessed;
    else r.fail(*t->get("condition"), "condition must be \"inactive_for\" or \"never_accessed\"");
    p.days = std::chrono::days(r.integer(*t, "days", 0, 0, 3650));
    if (!t->get("days")) r.fail(*t, "policy '" + p.id + "' needs 'days'");
    if (t->get("session_start")) {
      const std::string s = r.str(*t, "session_start", "");
      p.session_start = parse_iso_date(s);
      if (!p.session_start) r.fail(*t->get("session_start"), "\"" + s + "\" is not a date YYYY-MM-DD");
    }
    const std::string plan = r.str(*t, "plan", "", true);
    auto it = plans.find(plan);
    if (it == plans.end()) r.fail(*t->get("plan"), "no [[plan]] with id \"" + plan + "\"");
    p.plan = it->second;
    p.priority = int(r.integer(*t, "priority", 0, -1000, 1000));
    c.policies.push_back(std::move(p));
  }
  // ----- staff chat -----
  auto read_routes = [&](const toml::table& t, const char* key, const char* target_key, const std::string& where) {
    std::vector<ChatRoute> routes;
    for (const toml::table* rt : r.tables(t, key)) {
      r.known_keys(*rt, {"policy", "role", target_key}, where);
      ChatRoute route;
      route.policy = r.str(*rt, "policy", "");
      route.role = r.str(*rt, "role", "");
      route.target = r.str(*rt, target_key, "", true);
      if (!route.policy.empty() && !policy_ids.count(route.policy))
        r.fail(*rt->get("policy"), "no [[policy]] with id \"" + route.policy + "\"");
      if (!route.role.empty() && !c.role_labels.count(route.role))
        r.fail(*rt->get("role"), "role \"" + route.role + "\" is not a role of any [[staff]] member nor named in [roles]");
      if (route.policy.empty() && route.role.empty())
        r.fail(*rt, "a route needs a 'policy', a 'role' or both (use '" + std::string(target_key == std::string("channel") ? "default_channel" : "default_room") + "' for the rest)");
      routes.push_back(std::move(route));
    }
    return routes;
  };
  auto http_url = [&](const toml::table& t, const char* key, bool required) {
    std::string u = r.str(t, key, "", required);
    if (!u.empty() && u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0)
      r.fail(*t.get(key), "'" + std::string(key) + "' must start with https:// (or http://)");
    while (!u.empty() && u.back() == '/') u.pop_back();
    return u;
  };
  if (const auto* t = r.table(root, "mattermost")) {
    r.known_keys(*t, {"enabled", "url", "bot_token", "command_token", "action_secret", "public_url", "default_channel",
                      "route", "ca_file", "ping_seconds"},
                 "[mattermost]");
    auto& m = c.mattermost;
    m.enabled = r.boolean(*t, "enabled", true);
    m.url = http_url(*t, "url", m.enabled);
    m.bot_token = r.str(*t, "bot_token", "");
    m.command_token = r.str(*t, "command_token", "");
    m.action_secret = r.str(*t, "action_secret", "");
    m.public_url = http_url(*t, "public_url", false);
    m.default_channel = r.str(*t, "default_channel", "");
    m.routes = read_routes(*t, "route", "channel", "[[mattermost.route]]");
    m.ca_file = r.str(*t, "ca_file", "");
    m.ping_interval = std::chrono::seconds(r.integer(*t, "ping_seconds", 30, 5, 300));
    if (m.enabled && m.default_channel.empty() && m.routes.empty())
      r.fail(*t, "[mattermost] needs a 'default_channel' (a channel id) or [[mattermost.route]] entries");
  }
  if (const auto* t = r.table(root, "matrix")) {
    r.known_keys(*t, {"enabled", "homeserver", "user_id", "access_token", "password", "device_id", "default_room", "route",
                      "allowed_inviters", "allowed_rooms", "command_prefix", "ca_file", "learners"},
                 "[matrix]");
    auto& m = c.matrix;
    m.enabled = r.boolean(*t, "enabled", true);
    m.homeserver = http_url(*t, "homeserver", m.enabled);
    m.user_id = r.str(*t, "user_id", "", m.enabled);
    if (!m.user_id.empty() && (m.user_id.front() != '@' || m.user_id.find(':') == std::string::npos))
      r.fail(*t->get("user_id"), "'user_id' must be a full Matrix id like \"@relance:example.org\"");
    m.access_token = r.str(*t, "access_token", "");
    m.password = r.str(*t, "password", "");
    m.device_id = r.str(*t, "device_id", m.device_id);
    m.default_room = r.str(*t, "default_room", "");
    m.routes = read_routes(*t, "route", "room", "[[matrix.route]]");
    m.allowed_inviters = r.strings(*t, "allowed_inviters");
    m.allowed_rooms = r.strings(*t, "allowed_rooms");
    m.command_prefix = r.str(*t, "command_prefix", m.command_prefix);
    m.ca_file = r.str(*t, "ca_file", "");
    m.learners = r.boolean(*t, "learners", true);
    if (m.enabled && m.default_room.empty() && m.routes.empty())
      r.fail(*t, "[matrix] needs a 'default_room' (a room id like \"!abc:example.org\") or [[matrix.route]] entries");
  }
  read_learner_channels(r, root, c, http_url);
  if (c.matrix.allowed_inviters.empty())
    for (const auto& s : c.staff)
      if (!s.matrix.empty()) c.matrix.allowed_inviters.push_back(s.matrix);
  if (const auto* t = r.table(root, "escalation")) {
    r.known_keys(*t, {"enabled", "chain", "claim_within_hours", "day_start", "day_end", "days", "digest_at"}, "[escalation]");
    auto& e = c.escalation;
    e.enabled = r.boolean(*t, "enabled", true);
    e.chain = r.strings(*t, "chain");
    for (const auto& role : e.chain)
      if (!c.role_labels.count(role))
        r.fail(*t->get("chain"), "role \"" + role + "\" is not a role of any [[staff]] member nor named in [roles]");
    if (const toml::node* n = t->get("claim_within_hours")) {
      double h = 0;
      if (n->is_integer()) h = double(n->as_integer()->get());
      else if (n->is_floating_point()) h = n->as_floating_point()->get();
      else r.fail(*n, "'claim_within_hours' must be a number of business hours");
      if (h <= 0 || h > 24 * 30) r.fail(*n, "'claim_within_hours' must be between 0 and 720");
      e.claim_within = std::chrono::minutes(std::int64_t(h * 60 + 0.5));
    }
    e.hours.day_start = r.clock_time(*t, "day_start", e.hours.day_start);
    e.hours.day_end = r.clock_time(*t, "day_end", e.hours.day_end);
    if (e.hours.day_end <= e.hours.day_start) r.fail(*t, "[escalation] 'day_end' must be after 'day_start'");
    if (t->get("days")) {
      e.hours.open_days.clear();
      for (const auto& d : r.strings(*t, "days")) {
        auto wd = parse_weekday(d);
        if (!wd) r.fail(*t->get("days"), "unknown day \"" + d + "\" (monday, ... or lundi, ...)");
        e.hours.open_days.push_back(*wd);
      }
    }
    if (t->get("digest_at")) e.digest_at = r.clock_time(*t, "digest_at", std::chrono::minutes(0));
    if (e.enabled && e.chain.size() < 2 && !e.digest_at)
      r.fail(*t, "[escalation] needs a 'chain' of at least two roles (who escalates to whom) or a 'digest_at' time");
  }
  c.escalation.hours.public_holidays = c.contact_window.public_holidays;
  c.escalation.hours.alsace_moselle = c.contact_window.alsace_moselle;

  if (const auto* t = r.table(root, "console")) {
    r.known_keys(*t, {"staff"}, "[console]");
    c.console_staff = r.str(*t, "staff", "");
    if (!c.console_staff.empty() && !c.find_staff(c.console_staff))
      r.fail(*t->get("staff"), "console staff \"" + c.console_staff + "\" is not a [[staff]] id");
  }
  if (const auto* t = r.table(root, "stats")) {
    r.known_keys(*t, {"return_window_days", "task_due_days"}, "[stats]");
    c.return_window = std::chrono::days(r.integer(*t, "return_window_days", 14, 1, 365));
    c.task_due = std::chrono::days(r.integer(*t, "task_due_days", 2, 0, 365));
  }
  return c;
}

}  // namespace

Config parse_config(std::string_view text, const std::string& name) {
  try {
    toml::table root = toml::parse(text, name);
    Config c = read(root, name);
    apply_env_overrides(c);
    return c;
  } catch (const toml::parse_error& e) {
    throw ConfigError(name, int(e.source().begin.line), int(e.source().begin.column), std::string(e.description()));
  }
}

Config load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(file.string(), 0, 0, "cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  Config c = parse_config(ss.str(), file.string());
  // Relative paths in the config are relative to the config file.
  const auto base = file.parent_path();
  if (c.database.is_relative() && !base.empty()) c.database = base / c.database;
  if (!c.messages_dir.empty() && c.messages_dir.is_relative() && !base.empty()) c.messages_dir = base / c.messages_dir;
  return c;
}

void apply_env_overrides(Config& c) {
  auto env = [](const char* n) -> const char* {
    const char* v = std::getenv(n);
    return v && *v ? v : nullptr;
  };
  if (auto v = env("RELANCE_API_TOKEN")) c.http.api_token = v;
  if (auto v = env("RELANCE_MOODLE_TOKEN")) c.moodle.token = v;
  if (auto v = env("RELANCE_DATABASE")) c.database = v;
  if (auto v = env("RELANCE_MESSAGES_DIR")) c.messages_dir = v;
  if (auto v = env("RELANCE_HTTP_PORT")) c.http.port = std::uint16_t(std::atoi(v));
  if (auto v = env("RELANCE_MATTERMOST_TOKEN")) c.mattermost.bot_token = v;
  if (auto v = env("RELANCE_MATTERMOST_COMMAND_TOKEN")) c.mattermost.command_token = v;
  if (auto v = env("RELANCE_MATTERMOST_ACTION_SECRET")) c.mattermost.action_secret = v;
  if (auto v = env("RELANCE_MATRIX_TOKEN")) c.matrix.access_token = v;
  if (auto v = env("RELANCE_MATRIX_PASSWORD")) c.matrix.password = v;
  if (auto v = env("RELANCE_KANNEL_PASSWORD")) c.sms.kannel.password = v;
  if (auto v = env("RELANCE_KANNEL_SECRET")) c.sms.kannel.secret = v;
  if (auto v = env("RELANCE_TWILIO_AUTH_TOKEN")) c.sms.twilio.auth_token = v;
  if (auto v = env("RELANCE_TWILIO_PREVIOUS_AUTH_TOKEN")) c.sms.twilio.previous_auth_tokens = {v};
  if (auto v = env("RELANCE_SMS_HTTP_SECRET")) c.sms.http.secret = v;
  if (auto v = env("RELANCE_SMS_HTTP_INBOUND_SECRET")) c.sms.http.inbound_secret = v;
  if (auto v = env("RELANCE_SMTP_PASSWORD")) c.email.smtp.password = v;
  if (auto v = env("RELANCE_IMAP_PASSWORD")) c.email.imap.password = v;
}

ChannelSet learner_channels(const Config& c) {
  ChannelSet set;
  set.sms = c.sms.enabled();
  set.email = c.email.enabled;
  set.matrix = c.matrix.enabled && c.matrix.learners;
  return set;
}

std::vector<std::string> unconfigured_channel_warnings(const Config& c) {
  const ChannelSet on = learner_channels(c);
  std::vector<std::string> out;
  std::set<std::string> plans;
  for (const auto& p : c.policies) {
    if (!plans.insert(p.plan.id).second) continue;  // a plan shared by policies: said once
    for (std::size_t i = 0; i < p.plan.steps.size(); ++i) {
      const Step& s = p.plan.steps[i];
      if (s.action != StepAction::message_learner || on.has(s.means)) continue;
      const std::string means(to_string(s.means));
      const std::string section = s.means == Means::matrix ? "[matrix] (with learners = true)" : "[" + means + "]";
      out.push_back("plan '" + p.plan.id + "' step " + std::to_string(i + 1) + (s.name.empty() ? "" : " ('" + s.name + "')") +
                    " sends " + means + " to learners, but " + section +
                    " is not configured: nothing will be sent; staff get a task to do it by hand instead");
    }
  }
  return out;
}

std::vector<std::string> missing_organisation(const Config& c) {
  std::vector<std::string> out;
  if (!c.organisation_named)
    out.push_back("[organisation] has no 'name': the training organisation's name, in texts to learners and on the "
                  "attendance register (e.g. name = \"Organisme de formation Exemple\")");
  if (c.platform_url.empty())
    out.push_back("[organisation] has no 'platform_url': the link to the learning platform given to learners "
                  "(e.g. platform_url = \"https://moodle.exemple.fr\")");
  return out;
}

std::vector<std::string> missing_secrets(const Config& c) {
  std::vector<std::string> out;
  if (c.mattermost.enabled) {
    if (c.mattermost.bot_token.empty()) out.push_back("mattermost: no bot token (bot_token or RELANCE_MATTERMOST_TOKEN)");
    if (!c.mattermost.public_url.empty() && c.mattermost.action_secret.empty())
      out.push_back("mattermost: buttons need an action_secret to sign them (action_secret or RELANCE_MATTERMOST_ACTION_SECRET)");
  }
  if (c.matrix.enabled && c.matrix.access_token.empty() && c.matrix.password.empty())
    out.push_back("matrix: no credentials (access_token or RELANCE_MATRIX_TOKEN, or password or RELANCE_MATRIX_PASSWORD)");
  if (c.sms.gateway == "kannel") {
    if (c.sms.kannel.password.empty()) out.push_back("sms: Kannel's sendsms password is missing (password or RELANCE_KANNEL_PASSWORD)");
    if (c.sms.kannel.secret.size() < 16)
      out.push_back("sms: Kannel's webhook secret is missing or shorter than 16 characters (secret or RELANCE_KANNEL_SECRET)");
  } else if (c.sms.gateway == "twilio") {
    if (c.sms.twilio.auth_token.empty()) out.push_back("sms: Twilio's auth token is missing (auth_token or RELANCE_TWILIO_AUTH_TOKEN)");
  } else if (c.sms.gateway == "http") {
    const auto& h = c.sms.http;
    const bool uses_secret = !h.auth.empty() || h.url.find("{secret}") != std::string::npos ||
                             h.body.find("{secret}") != std::string::npos ||
                             std::any_of(h.headers.begin(), h.headers.end(),
                                         [](const auto& kv) { return kv.second.find("{secret}") != std::string::npos; });
    if (uses_secret && h.secret.empty()) out.push_back("sms: the HTTP gateway's secret is missing (secret or RELANCE_SMS_HTTP_SECRET)");
    if (h.inbound_secret.size() < 16)
      out.push_back("sms: the inbound webhook secret is missing or shorter than 16 characters (inbound_secret or RELANCE_SMS_HTTP_INBOUND_SECRET)");
  }
  if (c.email.enabled && !c.email.smtp.username.empty() && c.email.smtp.password.empty())
    out.push_back("email: SMTP user '" + c.email.smtp.username + "' has no password (password or RELANCE_SMTP_PASSWORD)");
  if (c.email.reads_replies() && c.email.imap.password.empty())
    out.push_back("email: IMAP user '" + c.email.imap.username + "' has no password ([email.imap] password or RELANCE_IMAP_PASSWORD)");
  return out;
}

namespace {

std::string mask(const std::string& secret) {
  if (secret.empty()) return "\"\"";
  return "\"****" + (secret.size() > 8 ? secret.substr(secret.size() - 2) : std::string()) + "\"  # set";
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + quote(v[i]);
  return out + "]";
}

std::string hhmm(std::chrono::minutes m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", int(m.count() / 60), int(m.count() % 60));
  return buf;
}

}  // namespace

std::string describe(const Config& c) {
  std::ostringstream o;
  o << "# effective configuration (" << (c.source_file.empty() ? "defaults" : c.source_file.string())
    << "), secrets masked\n";
  o << "default_language = " << quote(c.default_language) << "\n";
  if (!c.messages_dir.empty()) o << "messages_dir = " << quote(c.messages_dir.string()) << "\n";
  o << "\n[organisation]\nname = " << quote(c.organisation) << "\ntimezone = " << quote(c.timezone)
    << "\nplatform_url = " << quote(c.platform_url) << "\n";
  o << "\n[store]\npath = " << quote(c.database.string()) << "\n";
  o << "\n[contact_window]\nquiet_start = " << quote(hhmm(c.contact_window.quiet_start))
    << "\nquiet_end = " << quote(hhmm(c.contact_window.quiet_end)) << "\nclosed_days = [";
  static const char* names[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
  for (std::size_t i = 0; i < c.contact_window.closed_days.size(); ++i)
    o << (i ? ", " : "") << quote(names[c.contact_window.closed_days[i].c_encoding()]);
  o << "]\npublic_holidays = " << (c.contact_window.public_holidays ? "true" : "false")
    << "\nalsace_moselle = " << (c.contact_window.alsace_moselle ? "true" : "false") << "\n";
  o << "\n[http]\nlisten = " << quote(c.http.listen_address) << "\nport = " << c.http.port
    << "\nmax_body_bytes = " << c.http.max_body_bytes << "\napi_token = " << mask(c.http.api_token)
    << "\nmax_connections = " << c.http.max_connections << "\nmax_connections_per_client = " << c.http.max_connections_per_client
    << "\nmax_body_bytes_in_flight = " << c.http.max_body_bytes_in_flight << "\n";
  if (c.moodle.enabled) {
    o << "\n[moodle]\nurl = " << quote(c.moodle.url) << "\ntoken = " << mask(c.moodle.token) << "\ncourses = [";
    for (std::size_t i = 0; i < c.moodle.courses.size(); ++i) o << (i ? ", " : "") << c.moodle.courses[i];
    o << "]\nroles = " << list(c.moodle.roles) << "\ninterval_minutes = " << c.moodle.interval.count() << "\n";
  }
  o << "\n[import.moodle]\nstudent_roles = " << list(c.moodle_export.student_roles) << "\n";
  if (!c.csv.id.empty() || !c.csv.email.empty()) {
    const auto& m = c.csv;
    o << "\n[import.generic]\ndefault_source = " << quote(m.default_source) << "\ndefault_cohort = "
      << quote(m.default_cohort) << "\ndate_formats = " << list(m.date_formats) << "\n[import.generic.columns]\n";
    const std::pair<const char*, const std::string*> cols[] = {
        {"id", &m.id},         {"first_name", &m.first_name}, {"last_name", &m.last_name},
        {"full_name", &m.full_name}, {"email", &m.email},     {"phone", &m.phone},
        {"matrix", &m.matrix}, {"cohort", &m.cohort},         {"start_date", &m.start_date},
        {"last_activity", &m.last_activity}, {"source", &m.source}};
    for (const auto& [key, value] : cols)
      if (!value->empty()) o << key << " = " << quote(*value) << "\n";
    if (!m.activity.empty()) o << "[import.generic.activity]\n";
    for (const auto& a : m.activity) {
      o << quote(a.column) << " = { source = " << quote(std::string(to_string(a.source)));
      o << ", date_formats = " << list(a.date_formats.empty() ? m.date_formats : a.date_formats) << " }\n";
    }
  }
  o << "\n[stats]\nreturn_window_days = " << c.return_window.count() << "\ntask_due_days = " << c.task_due.count() << "\n";
  if (!c.role_labels.empty()) {
    o << "\n[roles]\n";
    for (const auto& [k, v] : c.role_labels) o << k << " = " << quote(v) << "\n";
  }
  for (const auto& s : c.staff)
    o << "\n[[staff]]\nid = " << quote(s.id) << "\nname = " << quote(s.name) << "\nroles = " << list(s.roles) << "\n";
  for (const auto& p : c.policies) {
    o << "\n[[policy]]\nid = " << quote(p.id) << "\nlabel = " << quote(p.label) << "\ncohorts = " << list(p.cohorts)
      << "\nsources = [";
    bool first = true;
    for (std::size_t i = 0; i < source_count; ++i)
      if (p.sources.has(Source(i))) {
        o << (first ? "" : ", ") << quote(std::string(source_names[i]));
        first = false;
      }
    o << "]\ncondition = " << quote(std::string(to_string(p.condition))) << "\ndays = " << p.days.count()
      << "\nplan = " << quote(p.plan.id) << "\npriority = " << p.priority << "\n";
    o << "# plan " << p.plan.id << ": "
      << (p.plan.on_exhausted == OnExhausted::declare_dropout
              ? "dropout " + std::to_string(p.plan.dropout_after.count()) + " days after the last step"
              : std::string("stays open after the last step"))
      << "\n";
    for (const auto& s : p.plan.steps)
      o << "#   " << s.name << ": " << to_string(s.action) << " by " << to_string(s.means) << ", role " << s.role
        << ", +" << s.after_previous.count() << " days"
        << (s.at_inactive_days ? ", not before " + std::to_string(s.at_inactive_days->count()) + " days inactive" : "")
        << (s.optional ? " (optional)" : "") << ", template " << s.template_key << "\n";
  }
  auto routes = [&](const std::vector<ChatRoute>& rs, const char* table, const char* key) {
    for (const auto& rt : rs) {
      o << "\n[[" << table << ".route]]\n";
      if (!rt.policy.empty()) o << "policy = " << quote(rt.policy) << "\n";
      if (!rt.role.empty()) o << "role = " << quote(rt.role) << "\n";
      o << key << " = " << quote(rt.target) << "\n";
    }
  };
  if (c.mattermost.enabled) {
    const auto& m = c.mattermost;
    o << "\n[mattermost]\nurl = " << quote(m.url) << "\nbot_token = " << mask(m.bot_token)
      << "\ncommand_token = " << mask(m.command_token) << "\naction_secret = " << mask(m.action_secret)
      << "\npublic_url = " << quote(m.public_url) << "\ndefault_channel = " << quote(m.default_channel)
      << "\nping_seconds = " << m.ping_interval.count() << "\n";
    routes(m.routes, "mattermost", "channel");
  }
  if (c.matrix.enabled) {
    const auto& m = c.matrix;
    o << "\n[matrix]\nhomeserver = " << quote(m.homeserver) << "\nuser_id = " << quote(m.user_id)
      << "\naccess_token = " << mask(m.access_token) << "\npassword = " << mask(m.password)
      << "\ndevice_id = " << quote(m.device_id) << "\ndefault_room = " << quote(m.default_room)
      << "\nallowed_inviters = " << list(m.allowed_inviters) << "\nallowed_rooms = " << list(m.allowed_rooms)
      << "\ncommand_prefix = " << quote(m.command_prefix) << "\n";
    routes(m.routes, "matrix", "room");
  }
  if (c.escalation.enabled) {
    const auto& e = c.escalation;
    o << "\n[escalation]\nchain = " << list(e.chain) << "\nclaim_within_hours = " << double(e.claim_within.count()) / 60
      << "\nday_start = " << quote(hhmm(e.hours.day_start)) << "\nday_end = " << quote(hhmm(e.hours.day_end)) << "\n";
    if (e.digest_at) o << "digest_at = " << quote(hhmm(*e.digest_at)) << "\n";
  }
  if (c.sms.enabled()) {
    const auto& s = c.sms;
    o << "\n[sms]\ngateway = " << quote(s.gateway) << "\nmax_parts = " << s.max_parts
      << "\nrate_per_second = " << s.rate_per_second << "\nregion = " << quote(s.region) << "\n";
    if (s.gateway == "kannel") {
      const auto& k = s.kannel;
      o << "\n[sms.kannel]\nsendsms_url = " << quote(k.sendsms_url) << "\nusername = " << quote(k.username)
        << "\npassword = " << mask(k.password) << "\nfrom = " << quote(k.from) << "\nsmsc = " << quote(k.smsc)
        << "\npublic_url = " << quote(k.public_url) << "\nsecret = " << mask(k.secret)
        << "\ndelivery_reports = " << (k.delivery_reports ? "true" : "false") << "\n";
    } else if (s.gateway == "twilio") {
      const auto& w = s.twilio;
      o << "\n[sms.twilio]\napi_url = " << quote(w.api_url) << "\naccount_sid = " << quote(w.account_sid)
        << "\nauth_token = " << mask(w.auth_token) << "\nfrom = " << quote(w.from)
        << "\nmessaging_service_sid = " << quote(w.messaging_service_sid) << "\nwebhook_url = " << quote(w.webhook_url)
        << "\nstatus_callback_url = " << quote(w.status_callback_url) << "\n";
    } else {
      const auto& h = s.http;
      o << "\n[sms.http]\nurl = " << quote(h.url) << "\nmethod = " << quote(h.method)
        << "\ncontent_type = " << quote(h.content_type) << "\nbody = " << quote(h.body) << "\nauth = " << quote(h.auth)
        << "\nusername = " << quote(h.username) << "\nsecret = " << mask(h.secret) << "\nfrom = " << quote(h.from)
        << "\nid_pointer = " << quote(h.id_pointer) << "\ninbound_secret = " << mask(h.inbound_secret) << "\n";
    }
  }
  if (c.email.enabled) {
    const auto& e = c.email;
    o << "\n[email]\nsmtp_url = " << quote(e.smtp.url) << "\nfrom = " << quote(e.smtp.from)
      << "\nusername = " << quote(e.smtp.username) << "\npassword = " << mask(e.smtp.password)
      << "\nrequire_tls = " << (e.smtp.require_tls ? "true" : "false") << "\nreply_to = " << quote(e.reply_to)
      << "\nrate_per_second = " << e.rate_per_second << "\n";
    if (e.reads_replies())
      o << "\n[email.imap]\nurl = " << quote(e.imap.url) << "\nusername = " << quote(e.imap.username)
        << "\npassword = " << mask(e.imap.password) << "\nrequire_tls = " << (e.imap.require_tls ? "true" : "false")
        << "\npoll_seconds = " << e.imap.poll_every.count() << "\nfirst_read_days = " << e.imap.first_read_days << "\n";
  }
  if (!c.console_staff.empty()) o << "\n[console]\nstaff = " << quote(c.console_staff) << "\n";
  return o.str();
}

}  // namespace relance::app
