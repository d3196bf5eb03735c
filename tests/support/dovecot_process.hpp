// A real IMAP server for tests: Debian's Dovecot 2.3 (dovecot-imapd), one
// private instance per object, on a free port of the loopback, everything
// (config, base_dir, state_dir, log, Maildir, certificate) in a temp dir.
// Without Dovecot the constructor throws, naming the package, so the test
// fails and says what to install (deploy/install-deps.sh --test does).
//
// How it runs
//   `dovecot -F -c <dir>/dovecot.conf`, forked by the constructor: the master
//   stays our child, with PR_SET_PDEATHSIG = SIGTERM, so if the test process
//   dies (even SIGKILL) Dovecot shuts down with it. Ready when the port
//   greets "* OK"; a port taken meanwhile ("Address already in use") is
//   retried with another. The destructor sends SIGTERM to the master, waits
//   until only its log process is left (Dovecot then sleeps a fixed second
//   before exiting: not waited for, SIGKILL), stops the log process and
//   checks that nothing named "dovecot-<instance_name>/..." is left
//   (instance_name is unique per object). Measured: start ~20 ms (~30 ms
//   with TLS: an EC P-256 certificate made by the `openssl` CLI), stop
//   ~7 ms. One user, passdb passwd-file, userdb static, Maildir.
//
// Root or not
//   As root (CI) the mail belongs to the `dovecot` system user (Dovecot
//   refuses uid 0 for mail; first_valid_uid is set to that uid), the login
//   processes run as dovenull, chrooted, as installed. The temp dir must
//   then be reachable by that user ($TMPDIR's ancestors world-searchable:
//   checked, with a clear error). As another user, everything runs as that
//   user: the internal/login users are set to it and every chroot is turned
//   off (Dovecot's "rootless" setup); mail uid = our uid. The whole
//   [dovecot] suite passes both ways (as root, and as `nobody` with
//   setpriv --reuid=nobody --regid=nogroup --clear-groups).

// Dovecot settings that matter to tests
//   - The anvil auth-penalty socket is disabled and auth_failure_delay = 0:
//     otherwise every failed login slows the next logins from 127.0.0.1 by
//     2, 4, 8.. 15 s. A failed login still answers after ~0.5 s (Dovecot's
//     delayed-failure queue), a refused login costs nothing after that.
//   - Dovecot treats a connection whose remote IP equals its local IP as
//     "secured" (127.0.0.1 -> 127.0.0.1): disable_plaintext_auth and
//     ssl = required have NO effect there. So `tls_required` listens on
//     127.0.0.2 (the client's source is 127.0.0.1 on Linux): the server then
//     announces LOGINDISABLED until STARTTLS. Plain and `tls` listen on
//     127.0.0.1, and `tls` also accepts a login without STARTTLS (like a
//     server with disable_plaintext_auth = no). url()/host() say which.
//   - The certificate (self-signed, CA:TRUE, CN 127.0.0.1, SAN IP:127.0.0.1,
//     IP:127.0.0.2, DNS:localhost) is accepted by libcurl with
//     CURLOPT_CAINFO = ca_file() and peer + host verification on.
//   - A message is returned by FETCH exactly as delivered when its lines end
//     in CRLF (Dovecot turns a bare LF into CRLF on the wire): deliver CRLF
//     messages when a test compares bytes. 8-bit bodies come back as is.
//
// What libcurl 7.88 does with IMAP (observed against this server)
//   - Every curl_easy_perform on one handle reuses the connection
//     (CURLINFO_NUM_CONNECTS = 0 after the first) while the host, port, user
//     and TLS options stay the same. On a reused connection libcurl sends NO
//     new SELECT when the URL's mailbox is the one already selected. Dovecot
//     then does not look for new mail on UID SEARCH (nor STATUS, which even
//     on the selected mailbox gives the stale UIDNEXT/MESSAGES): a message
//     delivered since the last command is invisible until a NOOP (custom
//     request on the mailbox URL: the answer "* 3 EXISTS" comes back in the
//     body) or a new connection. A poller must NOOP first, or not reuse
//     connections (CURLOPT_FORBID_REUSE / FRESH_CONNECT), each poll.
//   - CUSTOMREQUEST on a URL with a mailbox: libcurl SELECTs it first (if not
//     already selected), then sends the command. On a URL without a mailbox
//     ("imap://host:port/") it sends the command right after login.
//     Untagged lines of a custom command go to the write callback, CRLF
//     included, the tagged OK line does not:
//       "UID SEARCH ALL"  -> "* SEARCH 1 2\r\n" ("* SEARCH\r\n" when empty)
//       "STATUS INBOX (UIDVALIDITY UIDNEXT)"
//                         -> "* STATUS INBOX (UIDNEXT 3 UIDVALIDITY 1795492933)\r\n"
//                            (Dovecot's order, not the request's)
//       "UID FETCH 1:* (FLAGS)" -> "* 1 FETCH (UID 1 FLAGS (\Seen))\r\n"...
//       "UID FETCH 77 (FLAGS)"  (no such UID) -> nothing, CURLE_OK
//     A custom FETCH of a body is useless: only the line up to the literal
//     ("* 2 FETCH (UID 2 BODY[] {204}") reaches the callback, not the bytes.
//   - "UID SEARCH UID 6:*" always includes the highest UID, even if it is
//     below 6 (IMAP's n:* rule): filter the answer by uid > last.
//   - Fetch a message by URL: "<url>/;UID=N" sends "UID FETCH N BODY[]"
//     (a real UID, not a sequence number) and writes exactly the message
//     bytes. BODY[] (not PEEK) sets \Seen; ";SECTION=HEADER" fetches the
//     header only (BODY[HEADER], sets \Seen too). No such UID:
//     CURLE_REMOTE_FILE_NOT_FOUND (78), and libcurl LOGOUTs/closes.
//   - "<host>/INBOX;UIDVALIDITY=V/;UID=N" makes libcurl SELECT again and
//     fail with CURLE_REMOTE_FILE_NOT_FOUND (78, "Mailbox UIDVALIDITY has
//     changed" in CURLOPT_ERRORBUFFER) when the mailbox's UIDVALIDITY is not
//     V: a safe way to never fetch a UID of an older mailbox generation.
//   - Wrong password: CURLE_LOGIN_DENIED (67), errorbuffer empty. A mailbox
//     that does not exist: ALSO 67 (!), errorbuffer "Select failed". Server
//     refusing login before STARTTLS (LOGINDISABLED): 67 too ("No known
//     authentication mechanisms supported" in the verbose log only).
//     CURLUSESSL_ALL against a server without STARTTLS:
//     CURLE_USE_SSL_FAILED (64). Unknown CA: CURLE_PEER_FAILED_VERIFICATION
//     (60). A URL with a raw space (imap://h/INBOX?UID 3:*) is
//     CURLE_URL_MALFORMAT (3) - use CUSTOMREQUEST for searches.
//   - A connection the server closed while it was idle (BYE, then close:
//     disconnect_sessions, reset_uidvalidity) is NOT noticed by libcurl
//     before reuse: the next perform fails with CURLE_RECV_ERROR (56,
//     "response reading failed", nothing in the body); the one after
//     connects again. Same when the UIDVALIDITY changes under a selected
//     session (bump_uidvalidity): Dovecot answers the next command with
//     "* BYE IMAP session state is inconsistent, please relogin." (in the
//     body), 56, and the next perform reconnects. So: on 56, retry once
//     at once on the same handle (or count it as transient).
#pragma once

#include "test_support.hpp"

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace relance::test {

struct DovecotOptions {
  // STARTTLS on the plain port, with a self-signed certificate made at
  // start (ca_file()). Login without STARTTLS is still accepted (loopback).
  bool tls = false;
  // tls, and the server refuses to log in before STARTTLS (ssl = required,
  // LOGINDISABLED). Listens on 127.0.0.2 for that (see above).
  bool tls_required = false;
};

class DovecotProcess {
public:
  explicit DovecotProcess(DovecotOptions options = {});
  ~DovecotProcess();  // SIGTERM, wait, nothing left running
  DovecotProcess(const DovecotProcess&) = delete;
  DovecotProcess& operator=(const DovecotProcess&) = delete;

  // Why Dovecot cannot run here ("" when it can), with the apt-get line.
  static std::string missing();

  const std::string& host() const { return host_; }  // 127.0.0.1 (127.0.0.2 with tls_required)
  int port() const { return port_; }
  // "imap://127.0.0.1:<port>/INBOX"; url("") is "imap://127.0.0.1:<port>/"
  // (for STATUS, LIST: commands run without a SELECT).
  std::string url(std::string_view mailbox = "INBOX") const;
  std::string username() const { return "learner-replies"; }
  const std::string& password() const { return password_; }
  // The certificate to trust (CURLOPT_CAINFO); empty without TLS.
  std::string ca_file() const;

  // Put a message in `mailbox` as an MDA would: written to tmp/ under a
  // unique Maildir name, then renamed into new/, owned by the mail user.
  // Another mailbox than INBOX is the Maildir++ folder ".<name>", created
  // if needed (Dovecot lists it and SELECTs it at once). Dovecot sees the
  // message at the next SELECT, STATUS or NOOP; a connection that has the
  // mailbox selected sees it only after a NOOP (see the libcurl notes).
  // UIDs follow the delivery order.
  void deliver(std::string_view raw_rfc5322, std::string_view mailbox = "INBOX");
  // Removes every message file of `mailbox` (as if expunged elsewhere):
  // UIDVALIDITY and UIDNEXT stay.
  void expunge_all(std::string_view mailbox = "INBOX");
  // The mailbox as if deleted and recreated with the same messages (a
  // restore from backup): every IMAP session is disconnected first ("* BYE
  // Server shutting down."; libcurl notices the dead connection at its next
  // perform and connects again, transparently), then the mailbox's
  // dovecot-uidlist and indexes (and the list index) are removed, so the
  // next SELECT/STATUS reports a new, higher UIDVALIDITY and the messages
  // still there get UIDs 1, 2.. again (UIDNEXT = count + 1).
  void reset_uidvalidity(std::string_view mailbox = "INBOX");
  // UIDVALIDITY + 1 in place (`doveadm mailbox update --uid-validity`): the
  // messages keep their UIDs, a session that has the mailbox selected gets
  // "* BYE IMAP session state is inconsistent, please relogin." at its next
  // command (CURLE_RECV_ERROR for that perform). Returns the new value.
  std::uint64_t bump_uidvalidity(std::string_view mailbox = "INBOX");
  // Disconnects every logged-in IMAP session (SIGTERM to the imap processes).
  void disconnect_sessions();
  // Changes the password in the passwd-file, replaced atomically. Dovecot
  // looks at the file at most once a second: this returns on the next
  // second (0.5 s on average), when every new login sees the change.
  void set_password(std::string password);

  // The end of Dovecot's log (and of its stderr), for INFO().
  std::string log_tail() const;
  const std::filesystem::path& work_dir() const { return dir_.path(); }
  pid_t master_pid() const { return pid_; }
  const std::string& instance_name() const { return instance_; }

private:
  std::filesystem::path mailbox_dir(std::string_view mailbox) const;
  void make_maildir(const std::filesystem::path& dir) const;
  void own(const std::filesystem::path& p) const;
  void write_config();
  void make_certificate();
  void write_passwd();
  bool start_once(std::string& why);  // false: port taken (why says), throws on other failures
  void stop();

  TempDir dir_;
  DovecotOptions options_;
  std::string host_ = "127.0.0.1";
  std::string password_ = "secret-pw";
  std::string instance_;
  int port_ = 0;
  pid_t pid_ = -1;
  long long passwd_mtime_ = 0;
  uid_t mail_uid_ = 0;
  gid_t mail_gid_ = 0;
  bool root_ = false;
};

}  // namespace relance::test
