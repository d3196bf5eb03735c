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
  bool keep_start = false;  // over the limit: keep the first `limit` bytes, read on (else abort)
};

std::size_t write_sink(char* ptr, std::size_t size, std::size_t nmemb, void* user) {
  auto* s = static_cast<Sink*>(user);
  const std::size_t n = size * nmemb;
  if (s->limit && s->data.size() + n > s->limit) {
    s->overflow = true;
    if (s->keep_start) {
      s->data.append(ptr, s->limit - s->data.size());
      return n;
    }
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  s->data.append(ptr, n);
  return n;
}

// What the server refused in a perform ("NO [NONEXISTENT] Mailbox doesn't
// exist: Nope", "NO [AUTHENTICATIONFAILED] ..."), or why it hung up (a BYE
// that is not the answer to libcurl's LOGOUT): libcurl's error buffer does
// not say. Of the client's lines (which carry the password) only LOGOUT is
// looked for, nothing is kept.
struct ServerSaid {
  std::string text;
  bool logging_out = false;
  void clear() { *this = ServerSaid{}; }
};
int on_debug(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
  auto* said = static_cast<ServerSaid*>(user);
  if (type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT) return 0;
  std::string_view line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const auto sp = line.find(' ');
  if (sp == std::string_view::npos) return 0;
  const std::string_view rest = line.substr(sp + 1);
  if (type == CURLINFO_HEADER_OUT) {
    if (rest.size() == 6 && upper(rest) == "LOGOUT") said->logging_out = true;
    return 0;
  }
  const std::string word = upper(rest.substr(0, rest.find(' ')));
  if (word == "NO" || word == "BAD")
    said->text = std::string(rest.substr(0, 300));  // the last refusal
  else if (word == "BYE" && line.substr(0, sp) == "*" && !said->logging_out && said->text.empty())
    said->text = std::string(rest.substr(0, 300));
  return 0;
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
  // The list after the mailbox name: the last "(...)" of the STATUS line
  // (with the line after it when the name is a literal "{15}\r\n..."), not
  // of other untagged lines around it.
  const std::string u = upper(untagged);
  std::size_t at = u.find("* STATUS ");
  while (at != std::string::npos && at > 0 && u[at - 1] != '\n') at = u.find("* STATUS ", at + 1);
  if (at == std::string::npos) return std::nullopt;
  auto line_end = [&](std::size_t from) {
    const auto nl = u.find('\n', from);
    return nl == std::string::npos ? u.size() : nl;
  };
  std::size_t end = line_end(at);
  {
    std::string_view first(u.data() + at, end - at);
    while (!first.empty() && first.back() == '\r') first.remove_suffix(1);
    if (!first.empty() && first.back() == '}' && end < u.size()) end = line_end(end + 1);
  }
  const std::string_view line(u.data() + at, end - at);
  const auto open = line.rfind('(');
  const auto close = open == std::string_view::npos ? open : line.find(')', open);
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view items = line.substr(open + 1, close - open - 1);
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
  ServerSaid server_said;  // see on_debug

  ~Impl() { reset(); }
  // The next command opens a new connection.
  void reset() {
    if (curl) curl_easy_cleanup(curl);
    curl = nullptr;
  }

  // One command: the URL (base + path) and an optional custom request.
  // Returns the CURLcode; the data in `sink`. A kept connection the server
  // closed meanwhile (idle timeout, restart, "* BYE ... please relogin"
  // after a UIDVALIDITY change) fails libcurl's next perform with a
  // receive/send error, without a byte of answer: that command is sent again
  // at once on a new connection (only then: a new connection failing the
  // same way is a real failure).
  CURLcode perform(const ImapConfig& c, const std::string& path, const std::string& custom, Sink& sink) {
    bool reused = false;
    CURLcode rc = perform_once(c, path, custom, sink, reused);
    if ((rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) && reused) {
      sink.data.clear();
      sink.overflow = false;
      rc = perform_once(c, path, custom, sink, reused);
    }
    return rc;
  }

  CURLcode perform_once(const ImapConfig& c, const std::string& path, const std::string& custom, Sink& sink,
                        bool& reused) {
    if (!curl) {
      curl = curl_easy_init();
      if (!curl) return CURLE_FAILED_INIT;
    }
    CURL* h = curl;
    error[0] = '\0';
    server_said.clear();
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
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &server_said);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // to on_debug only
    const CURLcode rc = curl_easy_perform(h);
    long connects = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    reused = connects == 0;
    // A failed command may leave the connection in a state libcurl does not
    // track (a half-read literal, a BYE): the next one starts afresh.
    if (rc != CURLE_OK) reset();
    return rc;
  }

  // libcurl's error text and the server's refusal, without the password
  // (neither should ever hold it; a server echoing a command could).
  std::string detail(const ImapConfig& c) const {
    std::string d = error;
    if (!server_said.text.empty())
      d += (d.empty() ? "" : "; ") + std::string("the server said \"") + server_said.text + "\"";
    if (c.password.size() >= 3)
      for (auto at = d.find(c.password); at != std::string::npos; at = d.find(c.password, at))
        d.replace(at, c.password.size(), "***");
    return d;
  }

  ImapError fail(const ImapConfig& c, CURLcode rc, const std::string& mailbox) const {
    const std::string why = detail(c);
    // libcurl reports a failed SELECT as a refused login (67, "Select failed").
    if (rc == CURLE_LOGIN_DENIED && std::string_view(error).find("Select failed") != std::string_view::npos)
      return no_such_mailbox(mailbox, why);
    return classify_imap_result(rc, why);
  }

  static ImapError no_such_mailbox(const std::string& mailbox, const std::string& why) {
    return ImapError{ImapError::config, "no such mailbox " + quoted(mailbox) +
                                            " (check the path of [email.imap] url, and that the user may read it)" +
                                            (why.empty() ? "" : ": " + why)};
  }
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
  if (rc == CURLE_QUOTE_ERROR) {
    // The command answered NO: STATUS of a mailbox that does not exist
    // (or that this user may not see).
    err = Impl::no_such_mailbox(mailbox(), impl_->detail(config_));
    return std::nullopt;
  }
  if (rc != CURLE_OK) {
    err = impl_->fail(config_, rc, mailbox());
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
    err = impl_->fail(config_, rc, mailbox());
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
    err = impl_->fail(config_, rc, mailbox());
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
    sink.limit = 1024 * 1024;  // a header larger than that: its start
    sink.keep_start = true;
    m.truncated = true;
    rc = impl_->perform(config_, path + "/;SECTION=HEADER", "", sink);
  }
  if (rc == CURLE_REMOTE_FILE_NOT_FOUND) {
    const std::string why = impl_->detail(config_);
    if (std::string_view(impl_->error).find("UIDVALIDITY") != std::string_view::npos) {
      err = ImapError{ImapError::transient, "the mailbox was recreated while it was read (" + why + ")"};
      return std::nullopt;
    }
    m.gone = true;  // expunged meanwhile: nothing to read
    return m;
  }
  if (rc != CURLE_OK) {
    err = impl_->fail(config_, rc, mailbox());
    return std::nullopt;
  }
  m.raw = std::move(sink.data);
  return m;
}

}  // namespace relance::email
