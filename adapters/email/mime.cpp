// The message text: RFC 5322 headers, RFC 2047 encoded-words, RFC 2045
// quoted-printable, multipart/alternative (RFC 2046 §5.1.4). Pure code.
#include "adapters/email/email.hpp"

#include <cstdio>

namespace relance::email {
namespace {

constexpr std::string_view crlf = "\r\n";
constexpr std::size_t line_soft_limit = 78;  // RFC 5322 §2.1.1 SHOULD; 998 is the MUST

bool is_ascii_text(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// Header values never carry a raw line break (header injection through a
// learner's name or address read from an LMS export).
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split_spaces(std::string_view s) {
  std::vector<std::string> words;
  std::size_t start = 0;
  for (;;) {
    const auto sp = s.find(' ', start);
    words.emplace_back(s.substr(start, sp == std::string_view::npos ? std::string_view::npos : sp - start));
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  return words;
}

// Plain ASCII a reader sees as-is: printable, no "=?" that a decoder would
// take for an encoded-word, and no word too long to fold.
bool needs_no_encoding(std::string_view s) {
  if (!is_ascii_text(s) || s.find("=?") != std::string_view::npos) return false;
  for (const auto& w : split_spaces(s))
    if (w.size() > line_soft_limit - 1) return false;
  return true;
}

// RFC 2047 §5 (3): the characters safe in a Q word anywhere, phrases included.
bool q_literal(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '!' || c == '*' ||
         c == '+' || c == '-' || c == '/';
}

std::string hex_byte(unsigned char c) {
  static constexpr char digits[] = "0123456789ABCDEF";
  return {'=', digits[c >> 4], digits[c & 0xf]};
}

// A display name as RFC 5322 phrase words: atoms, one quoted-string, or encoded-words.
std::vector<std::string> phrase_words(std::string_view name, std::size_t first_max) {
  const std::string n = trim(one_line(name));
  if (n.empty()) return {};
  if (needs_no_encoding(n)) {
    if (n.find_first_of("()<>[]:;@\\,.\"") == std::string::npos) return split_spaces(n);
    std::string q = "\"";
    for (char c : n) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    q += '"';
    if (q.size() <= line_soft_limit - 4) return {q};
  }
  return encode_words(n, first_max);
}

std::string address_only(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '\r' && c != '\n' && c != '<' && c != '>' && c != ' ') out += c;
  return out;
}

std::string domain_of(std::string_view address) {
  const auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string{} : std::string(address.substr(at + 1));
}

std::string message_id_domain(const SmtpConfig& config) {
  std::string d = config.message_id_domain.empty() ? domain_of(parse_mailbox(config.from).address)
                                                   : config.message_id_domain;
  std::string clean;
  for (char c : d)
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-')
      clean += c;
  return clean.empty() ? "relance.invalid" : clean;
}

std::string mailbox_header(std::string_view header, std::string_view name, std::string_view address) {
  auto words = phrase_words(name, line_soft_limit - header.size() - 2);
  words.push_back("<" + address_only(address) + ">");
  return fold_header(header, words);
}

std::string part_headers(std::string_view subtype) {
  std::string h = "Content-Type: text/";
  h += subtype;
  h += "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";
  return h;
}

}  // namespace

Mailbox parse_mailbox(std::string_view s) {
  const auto lt = s.rfind('<');
  const auto gt = lt == std::string_view::npos ? std::string_view::npos : s.find('>', lt);
  if (gt == std::string_view::npos) return {"", trim(s)};
  std::string name = trim(s.substr(0, lt));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    std::string unq;
    for (std::size_t i = 1; i + 1 < name.size(); ++i) {
      if (name[i] == '\\' && i + 2 < name.size()) ++i;
      unq += name[i];
    }
    name = unq;
  }
  return {name, trim(s.substr(lt + 1, gt - lt - 1))};
}

std::vector<std::string> encode_words(std::string_view text, std::size_t first_max, std::size_t max_word) {
  if (needs_no_encoding(text)) return split_spaces(text);
  constexpr std::string_view open = "=?UTF-8?Q?", close = "?=";
  // Each word must hold at least one whole character (4 bytes as =XX: 12 chars).
  const std::size_t min_word = open.size() + close.size() + 12;
  std::vector<std::string> words;
  std::string payload;
  auto limit = [&] { return std::max(min_word, words.empty() ? std::min(first_max, max_word) : max_word); };
  std::size_t i = 0;
  while (i < text.size()) {
    // One UTF-8 character: the lead byte and its continuation bytes (§5: an
    // encoded-word holds whole characters only).
    std::size_t j = i + 1;
    while (j < text.size() && (static_cast<unsigned char>(text[j]) & 0xC0) == 0x80 && j - i < 4) ++j;
    std::string enc;
    for (std::size_t k = i; k < j; ++k) {
      const auto c = static_cast<unsigned char>(text[k]);
      if (c == ' ')
        enc += '_';
      else if (q_literal(c))
        enc += static_cast<char>(c);
      else
        enc += hex_byte(c);
    }
    if (!payload.empty() && open.size() + payload.size() + enc.size() + close.size() > limit()) {
      words.push_back(std::string(open) + payload + std::string(close));
      payload.clear();
    }
    payload += enc;
    i = j;
  }
  if (!payload.empty() || words.empty()) words.push_back(std::string(open) + payload + std::string(close));
  return words;
}

std::string fold_header(std::string_view name, const std::vector<std::string>& words) {
  std::string out(name);
  out += ':';
  std::size_t line_len = out.size();
  for (const auto& w : words) {
    // Fold (CRLF + the space that separates words) only before a non-empty
    // word: a line of only white space is not allowed (RFC 5322 §3.2.2).
    if (!w.empty() && line_len + 1 + w.size() > line_soft_limit && line_len > name.size() + 1) {
      out += "\r\n";
      line_len = 0;
    }
    out += ' ';
    out += w;
    line_len += 1 + w.size();
  }
  out += crlf;
  return out;
}

std::string quoted_printable(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  std::size_t i = 0;
  for (;;) {
    // One input line, whatever its ending.
    std::size_t e = i;
    while (e < s.size() && s[e] != '\r' && s[e] != '\n') ++e;
    std::size_t line_len = 0;
    for (std::size_t k = i; k < e; ++k) {
      const auto c = static_cast<unsigned char>(s[k]);
      const bool last = k + 1 == e;
      std::string enc;
      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last))
        enc = std::string(1, static_cast<char>(c));
      else
        enc = hex_byte(c);  // '=', 8-bit, controls, and white space before a line break (§6.7 (3))
      // Soft break "=" CRLF keeps every encoded line <= 76 (§6.7 (5)); an
      // =XX triplet is never split.
      if (line_len + enc.size() > (last ? 76 : 75)) {
        out += "=\r\n";
        line_len = 0;
      }
      out += enc;
      line_len += enc.size();
    }
    if (e >= s.size()) break;
    out += crlf;
    i = e + ((s[e] == '\r' && e + 1 < s.size() && s[e + 1] == '\n') ? 2 : 1);
  }
  return out;
}

std::string rfc5322_date(Timestamp t) {
  using namespace std::chrono;
  static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto day = floor<std::chrono::days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d +0000", day_names[weekday{day}.c_encoding()],
                static_cast<unsigned>(ymd.day()), month_names[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

std::string build_mime(const Email& mail, const SmtpConfig& config, Timestamp now) {
  const Mailbox from = parse_mailbox(config.from);
  const std::string id = std::to_string(mail.outbox_id);
  std::string m;
  m += mailbox_header("From", from.name, from.address);
  m += mailbox_header("To", mail.to_name, mail.to);
  if (!mail.reply_to.empty()) m += "Reply-To: <" + address_only(mail.reply_to) + ">\r\n";
  m += fold_header("Subject", encode_words(one_line(mail.subject), line_soft_limit - 9));
  m += "Date: " + rfc5322_date(now) + "\r\n";
  // Stable: the same outbox row always gets the same Message-ID, so a resend
  // after a crash is recognisable (and deduplicated by some servers).
  m += "Message-ID: <relance." + id + "@" + message_id_domain(config) + ">\r\n";
  m += "MIME-Version: 1.0\r\n";
  if (mail.html.empty()) {
    m += part_headers("plain");
    m += crlf;
    m += quoted_printable(mail.text);
    m += crlf;
    return m;
  }
  // "=_" never occurs in quoted-printable output ('=' is always followed by a
  // hex digit or a line break), so this boundary cannot collide with a body.
  const std::string boundary = "=_relance_" + id;
  m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n";
  m += crlf;
  m += "--" + boundary + "\r\n" + part_headers("plain") + "\r\n" + quoted_printable(mail.text) + "\r\n";
  m += "--" + boundary + "\r\n" + part_headers("html") + "\r\n" + quoted_printable(mail.html) + "\r\n";
  m += "--" + boundary + "--\r\n";
  return m;
}

}  // namespace relance::email
