// send_email: libcurl's SMTP client, blocking, one connection per message.
// libcurl does the dialogue (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA) and the
// dot-stuffing of the DATA section; this file sets it up and turns the result
// into an outbox decision.
#include "adapters/email/email.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

namespace relance::email {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Upload {
  std::string_view data;
  std::size_t pos = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t nitems, void* user) {
  auto* up = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * nitems, up->data.size() - up->pos);
  std::memcpy(buffer, up->data.data() + up->pos, n);
  up->pos += n;
  return n;
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// A bare address the SMTP envelope can carry: something@something, no
// white space, brackets or line breaks (an LMS export is not trusted input).
bool plausible_address(std::string_view a) {
  const auto at = a.find('@');
  return !a.empty() && at != std::string_view::npos && at > 0 && at + 1 < a.size() &&
         a.find_first_of(" \t\r\n<>\"") == std::string_view::npos;
}

SendOutcome config_error(std::string error) { return {SendOutcome::failed, 0, std::move(error)}; }

}  // namespace

SendOutcome classify_smtp_result(int curl_code, long smtp_code, std::string_view detail) {
  const int code = static_cast<int>(smtp_code);
  auto with = [&](SendOutcome::Status s, std::string why) {
    if (!detail.empty()) why += ": " + std::string(detail);
    return SendOutcome{s, code, std::move(why)};
  };
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_OK:
      return {SendOutcome::sent, code, {}};
    case CURLE_USE_SSL_FAILED:
      // smtp:// with require_tls and a server that does not offer STARTTLS:
      // sending anyway would put the password and the learner's data on the
      // wire in clear. Retrying will not change the server: configuration.
      return with(SendOutcome::failed, "TLS required but the server does not offer STARTTLS (use smtps:// or a "
                                       "server with STARTTLS, or set require_tls = false for a loopback relay)");
    case CURLE_PEER_FAILED_VERIFICATION:
      return with(SendOutcome::failed, "the server's TLS certificate was not accepted (check ca_file and the host name)");
    case CURLE_SSL_CACERT_BADFILE:
      return with(SendOutcome::failed, "cannot read ca_file");
    case CURLE_LOGIN_DENIED:
      return with(SendOutcome::failed, "SMTP login refused (check username and password)");
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return with(SendOutcome::failed, "bad SMTP URL (expected smtp://host:587 or smtps://host:465)");
    default:
      break;
  }
  // A reply code decides when there is one (RFC 5321 §4.2.1): 5yz is
  // permanent (550 mailbox unknown, 553 bad address, 552 too big),
  // 4yz transient (421 closing, 450/451 greylisting, 452 storage).
  if (code >= 500 && code < 600) return with(SendOutcome::failed, "SMTP " + std::to_string(code) + " (permanent)");
  if (code >= 400 && code < 500) return with(SendOutcome::retry, "SMTP " + std::to_string(code) + " (transient)");
  // No usable reply: refused connection, DNS, timeout, reset, TLS handshake
  // interrupted. The next attempt may well work.
  return with(SendOutcome::retry, std::string("SMTP transfer failed (") +
                                      curl_easy_strerror(static_cast<CURLcode>(curl_code)) + ")");
}

SendOutcome send_email(const Email& mail, const SmtpConfig& config) {
  const std::string_view url = config.url;
  if (!url.starts_with("smtp://") && !url.starts_with("smtps://"))
    return config_error("bad SMTP URL '" + config.url + "' (expected smtp://host:587 or smtps://host:465)");
  const Mailbox from = parse_mailbox(config.from);
  if (!plausible_address(from.address)) return config_error("bad sender address in 'from'");
  if (!plausible_address(mail.to)) return config_error("bad recipient address '" + mail.to + "'");
  if (!mail.reply_to.empty() && !plausible_address(mail.reply_to)) return config_error("bad Reply-To address");
  if (has_line_break(mail.to_name) || has_line_break(mail.subject))
    return config_error("line break in the recipient name or the subject");

  global_init_once();
  const std::string message = build_mime(mail, config, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return {SendOutcome::retry, 0, "curl_easy_init failed"};
  CURL* h = curl.get();
  const std::string mail_from = "<" + from.address + ">";
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(
      curl_slist_append(nullptr, ("<" + mail.to + ">").c_str()), &curl_slist_free_all);
  Upload upload{message};
  char errbuf[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(h, CURLOPT_URL, config.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // we run on a worker thread
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  // smtps:// is TLS from the first byte anyway; on smtp:// this demands
  // STARTTLS (ALL) or uses it when offered (TRY). Certificates are verified
  // in both cases (libcurl's default), against ca_file when given.
  curl_easy_setopt(h, CURLOPT_USE_SSL, config.require_tls ? long(CURLUSESSL_ALL) : long(CURLUSESSL_TRY));
  if (!config.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config.ca_file.c_str());
  if (!config.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, config.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, config.password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, long(config.timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT, long(config.timeout.count()));
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_upload);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));

  const CURLcode rc = curl_easy_perform(h);
  long smtp_code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &smtp_code);
  // errbuf holds libcurl's own message ("RCPT failed: 550", "Failed to
  // connect to ..."): never the password, never the body.
  return classify_smtp_result(rc, smtp_code, errbuf);
}

}  // namespace relance::email
