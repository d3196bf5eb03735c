// ImapSession: libcurl's IMAP client, blocking, one connection kept for a
// session (libcurl reuses it across performs on the same handle, and skips
// SELECT when the mailbox is already selected).
//
// libcurl does LOGIN/AUTHENTICATE, STARTTLS, SELECT and UID FETCH; STATUS and
// UID SEARCH go through CURLOPT_CUSTOMREQUEST, whose untagged answers ("*
// STATUS ...", "* SEARCH ...") libcurl hands to the write callback.
#include "adapters/email/imap.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <mutex>

namespace relance::email {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// Splits imap[s]://host[:port]/path into "imap[s]://host[:port]" and the
// percent-decoded mailbox ("INBOX" when there is no path).
struct SplitUrl {
  std::string base;
  std::string mailbox_path;  // as written (percent-encoded), without the leading '/'
};
SplitUrl split_url(std::string_view url) {
  SplitUrl s;
  const auto scheme = url.find("://");
  const auto slash = scheme == std::string_view::npos ? std::string_view::npos : url.find('/', scheme + 3);
  if (slash == std::string_view::npos) {
    s.base = std::string(url);
  } else {
    s.base = std::string(url.substr(0, slash));
    s.mailbox_path = std::string(url.substr(slash + 1));
  }
  while (!s.mailbox_path.empty() && s.mailbox_path.back() == '/') s.mailbox_path.pop_back();
  if (s.mailbox_path.empty()) s.mailbox_path = "INBOX";
  return s;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      const auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// An IMAP quoted string (RFC 3501 §4.3).
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

struct Sink {
  std::string data;
  std::size_t limit = 0;  // 0: none
  bool overflow = false;
};

std::size_t write_sink(char* ptr, std::size_t size, std::size_t nmemb, void* user) {
  auto* s = static_cast<Sink*>(user);
  const std::size_t n = size * nmemb;
  if (s->limit && s->data.size() + n > s->limit) {
    s->overflow = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  s->data.append(ptr, n);
  return n;
}

}  // namespace

std::string to_string(const ImapCursor& c) { return std::to_string(c.uidvalidity) + ":" + std::to_string(c.last_uid); }

std::optional<ImapCursor> parse_cursor(std::string_view s) {
  const auto colon = s.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  ImapCursor c;
  if (!parse_u64(s.substr(0, colon), c.uidvalidity) || !parse_u64(s.substr(colon + 1), c.last_uid)) return std::nullopt;
  return c;
}

std::optional<ImapSession::Status> parse_status_response(std::string_view untagged) {
  // The list after the mailbox name: the last "(...)" of the STATUS line.
  const std::string u = upper(untagged);
  const auto at = u.find("* STATUS ");
  if (at == std::string::npos) return std::nullopt;
  const auto open = u.rfind('(');
  const auto close = u.find(')', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos || open < at) return std::nullopt;
  std::string_view items(u.data() + open + 1, close - open - 1);
  ImapSession::Status st;
  bool have_validity = false, have_next = false;
  while (!items.empty()) {
    const auto sp = items.find(' ');
    const std::string_view name = items.substr(0, sp);
    if (sp == std::string_view::npos) break;
    items.remove_prefix(sp + 1);
    const auto sp2 = items.find(' ');
    const std::string_view value = items.substr(0, sp2);
    items.remove_prefix(sp2 == std::string_view::npos ? items.size() : sp2 + 1);
    if (name == "UIDVALIDITY") have_validity = parse_u64(value, st.uidvalidity);
    else if (name == "UIDNEXT") have_next = parse_u64(value, st.uidnext);
  }
  if (!have_validity || !have_next) return std::nullopt;
  return st;
}

std::vector<std::uint64_t> parse_search_response(std::string_view untagged) {
  std::vector<std::uint64_t> out;
  std::size_t pos = 0;
  while (pos < untagged.size()) {
    auto eol = untagged.find('\n', pos);
    if (eol == std::string_view::npos) eol = untagged.size();
    std::string_view line = untagged.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (upper(line.substr(0, 9)) != "* SEARCH" && upper(line.substr(0, 9)) != "* SEARCH ") continue;
    line.remove_prefix(std::min<std::size_t>(9, line.size()));
    while (!line.empty()) {
      const auto sp = line.find(' ');
      std::uint64_t v = 0;
      if (parse_u64(line.substr(0, sp), v)) out.push_back(v);
      if (sp == std::string_view::npos) break;
      line.remove_prefix(sp + 1);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

ImapError classify_imap_result(int curl_code, std::string_view detail) {
  auto with = [&](ImapError::Kind k, std::string why) {
    if (!detail.empty()) why += ": " + std::string(detail);
    return ImapError{k, std::move(why)};
  };
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_LOGIN_DENIED:
      // libcurl reports a failed SELECT with the same code as a refused
      // login; its error text tells them apart.
      if (detail.find("Select failed") != std::string_view::npos)
        return with(ImapError::config, "no such mailbox (check the path of [email.imap] url)");
      return with(ImapError::config, "IMAP login refused (check username and password; a server that refuses "
                                     "logins before STARTTLS answers the same)");
    case CURLE_USE_SSL_FAILED:
      return with(ImapError::config, "TLS required but the server does not offer STARTTLS (use imaps://, or "
                                     "require_tls = false for a loopback server)");
    case CURLE_PEER_FAILED_VERIFICATION:
      return with(ImapError::config, "the server's TLS certificate was not accepted (check ca_file and the host name)");
    case CURLE_SSL_CACERT_BADFILE:
      return with(ImapError::config, "cannot read ca_file");
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return with(ImapError::config, "bad IMAP URL (expected imaps://host/INBOX or imap://host/INBOX)");
    case CURLE_QUOTE_ERROR:
    case CURLE_REMOTE_ACCESS_DENIED:
      return with(ImapError::config, "the server refused the command (does the mailbox exist?)");
    default:
      return with(ImapError::transient, "IMAP " + std::string(curl_easy_strerror(static_cast<CURLcode>(curl_code))));
  }
}

struct ImapSession::Impl {
  CURL* curl = nullptr;
  SplitUrl url;
  char error[CURL_ERROR_SIZE] = {};

  ~Impl() { reset(); }
  // The next command opens a new connection.
  void reset() {
    if (curl) curl_easy_cleanup(curl);
    curl = nullptr;
  }

  // One command: the URL (base + path) and an optional custom request.
  // Returns the CURLcode; the data in `sink`.
  CURLcode perform(const ImapConfig& c, const std::string& path, const std::string& custom, Sink& sink) {
    if (!curl) {
      curl = curl_easy_init();
      if (!curl) return CURLE_FAILED_INIT;
    }
    CURL* h = curl;
    error[0] = '\0';
    const std::string full = url.base + "/" + path;
    curl_easy_setopt(h, CURLOPT_URL, full.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(h, CURLOPT_USERNAME, c.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, c.password.c_str());
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(c.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    if (!c.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, c.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(c.timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(c.timeout.count()));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &write_sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom.empty() ? nullptr : custom.c_str());
    const CURLcode rc = curl_easy_perform(h);
    // A failed command may leave the connection in a state libcurl does not
    // track (a half-read literal, a BYE): the next one starts afresh.
    if (rc != CURLE_OK) reset();
    return rc;
  }

  std::string detail() const { return error; }
};

ImapSession::ImapSession(ImapConfig config) : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  global_init_once();
  impl_->url = split_url(config_.url);
}

ImapSession::~ImapSession() = default;

std::string ImapSession::mailbox() const { return percent_decode(impl_->url.mailbox_path); }

std::optional<ImapSession::Status> ImapSession::status(ImapError& err) {
  impl_->reset();
  Sink sink;
  sink.limit = 64 * 1024;
  const CURLcode rc = impl_->perform(config_, "", "STATUS " + quoted(mailbox()) + " (UIDVALIDITY UIDNEXT)", sink);
  if (rc != CURLE_OK) {
    err = classify_imap_result(rc, impl_->detail());
    return std::nullopt;
  }
  auto st = parse_status_response(sink.data);
  if (!st) err = ImapError{ImapError::transient, "IMAP STATUS: unexpected answer \"" + sink.data.substr(0, 200) + "\""};
  return st;
}

std::optional<std::vector<std::uint64_t>> ImapSession::uids_after(std::uint64_t after, std::size_t limit, ImapError& err) {
  Sink sink;
  sink.limit = 16 * 1024 * 1024;
  // "n:*" always matches the highest UID, even below n (RFC 3501 §6.4.8):
  // filtered below.
  const CURLcode rc = impl_->perform(config_, impl_->url.mailbox_path, "UID SEARCH UID " + std::to_string(after + 1) + ":*", sink);
  if (rc != CURLE_OK) {
    err = classify_imap_result(rc, impl_->detail());
    return std::nullopt;
  }
  std::vector<std::uint64_t> uids = parse_search_response(sink.data);
  uids.erase(std::remove_if(uids.begin(), uids.end(), [after](std::uint64_t u) { return u <= after; }), uids.end());
  if (uids.size() > limit) uids.resize(limit);
  return uids;
}

std::optional<std::vector<std::uint64_t>> ImapSession::uids_since(std::chrono::sys_days day, ImapError& err) {
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::chrono::year_month_day ymd(day);
  const std::string date = std::to_string(unsigned(ymd.day())) + "-" + months[unsigned(ymd.month()) - 1] + "-" +
                           std::to_string(int(ymd.year()));
  Sink sink;
  sink.limit = 16 * 1024 * 1024;
  const CURLcode rc = impl_->perform(config_, impl_->url.mailbox_path, "UID SEARCH SINCE " + date, sink);
  if (rc != CURLE_OK) {
    err = classify_imap_result(rc, impl_->detail());
    return std::nullopt;
  }
  return parse_search_response(sink.data);
}

std::optional<FetchedMessage> ImapSession::fetch(std::uint64_t uid, std::uint64_t uidvalidity, ImapError& err) {
  FetchedMessage m;
  m.uid = uid;
  Sink sink;
  sink.limit = config_.max_message_bytes;
  // ";UIDVALIDITY=" (RFC 5092): libcurl checks it against the SELECT answer
  // and fails rather than fetch a UID of another mailbox generation.
  const std::string path =
      impl_->url.mailbox_path + ";UIDVALIDITY=" + std::to_string(uidvalidity) + "/;UID=" + std::to_string(uid);
  CURLcode rc = impl_->perform(config_, path, "", sink);
  if (rc == CURLE_WRITE_ERROR && sink.overflow) {
    // Too large to take whole (an attachment): the header still says who
    // wrote and what it answers.
    sink = Sink{};
    sink.limit = 1024 * 1024;
    m.truncated = true;
    rc = impl_->perform(config_, path + "/;SECTION=HEADER", "", sink);
  }
  if (rc == CURLE_REMOTE_FILE_NOT_FOUND) {
    const std::string why = impl_->detail();
    if (why.find("UIDVALIDITY") != std::string::npos) {
      err = ImapError{ImapError::transient, "the mailbox was recreated while it was read (" + why + ")"};
      return std::nullopt;
    }
    return m;  // expunged meanwhile: nothing to read
  }
  if (rc != CURLE_OK) {
    err = classify_imap_result(rc, impl_->detail());
    return std::nullopt;
  }
  m.raw = std::move(sink.data);
  return m;
}

}  // namespace relance::email
