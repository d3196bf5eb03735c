#include "dovecot_process.hpp"

#include "messages/text/ascii.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <fstream>
#include <mutex>
#include <utility>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace relance::test {

namespace {

constexpr const char* dovecot_bin = "/usr/sbin/dovecot";
constexpr const char* apt_hint = "apt-get install -y dovecot-imapd (deploy/install-deps.sh --test installs it)";

Ran run(const std::string& cmd) { return run_command(cmd); }

int free_port() { return free_loopback_port(); }

std::string tail(const fs::path& p, std::size_t max_bytes = 3000) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return "(no " + p.filename().string() + ")";
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() > max_bytes) all = "..." + all.substr(all.size() - max_bytes);
  return all;
}

// Connects to host:port and reads the greeting: true when it is "* OK".
bool greets(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string got;
    pollfd p{fd, POLLIN, 0};
    while (got.find('\n') == std::string::npos && ::poll(&p, 1, 1000) > 0) {
      char buf[512];
      const auto n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, std::size_t(n));
    }
    ok = got.rfind("* OK", 0) == 0;
    if (ok) {
      static const char bye[] = "x LOGOUT\r\n";
      [[maybe_unused]] auto w = ::write(fd, bye, sizeof bye - 1);
    }
  }
  ::close(fd);
  return ok;
}

// The processes whose command line starts with `prefix` (pid, name up to
// the first NUL): Dovecot's processes are named "dovecot-<instance>/<service>".
std::vector<std::pair<pid_t, std::string>> processes_named(const std::string& prefix) {
  std::vector<std::pair<pid_t, std::string>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const auto name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd;
    std::getline(in, cmd, '\0');
    while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
    if (cmd.rfind(prefix, 0) == 0) out.emplace_back(pid_t(std::stol(name)), cmd);
  }
  return out;
}

std::string user_name(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  throw std::runtime_error("Dovecot harness: uid " + std::to_string(uid) + " has no name in /etc/passwd");
}

std::string group_name(gid_t gid) {
  if (const group* gr = ::getgrgid(gid)) return gr->gr_name;
  throw std::runtime_error("Dovecot harness: gid " + std::to_string(gid) + " has no name in /etc/group");
}

}  // namespace

std::string DovecotProcess::missing() {
  if (::access(dovecot_bin, X_OK) != 0) return std::string("Dovecot is not installed (no ") + dovecot_bin + "): " + apt_hint;
  return {};
}

DovecotProcess::DovecotProcess(DovecotOptions options) : options_(options) {
  if (const auto why = missing(); !why.empty()) throw std::runtime_error("real IMAP tests: " + why);
  if (options_.tls_required) options_.tls = true;
  if (options_.tls_required) host_ = "127.0.0.2";
  instance_ = "relance-" + dir_.path().filename().string();
  root_ = ::geteuid() == 0;
  if (root_) {
    // Dovecot refuses uid 0 for mail: the mail belongs to its own system user.
    const passwd* pw = ::getpwnam("dovecot");
    if (!pw) pw = ::getpwnam("nobody");
    if (!pw) throw std::runtime_error("Dovecot harness: no `dovecot` (nor `nobody`) user for the mail");
    mail_uid_ = pw->pw_uid;
    mail_gid_ = pw->pw_gid;
    // The mail user (and the auth process) must reach the Maildir and the
    // passwd-file: every ancestor of the temp dir searchable by others.
    for (auto p = dir_.path().parent_path(); !p.empty(); p = p.parent_path()) {
      struct stat st{};
      if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0)
        throw std::runtime_error("Dovecot harness: " + p.string() +
                                 " is not searchable by the mail user (chmod o+x, or set TMPDIR elsewhere)");
      if (p == p.root_path()) break;
    }
  } else {
    mail_uid_ = ::geteuid();
    mail_gid_ = ::getegid();
  }
  // The mail user must reach the Maildir and the passwd-file whatever the umask.
  fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                   fs::perms::others_read | fs::perms::others_exec);
  fs::create_directory(dir_ / "mail");
  own(dir_ / "mail");
  make_maildir(dir_ / "mail" / "Maildir");
  write_passwd();
  if (options_.tls) make_certificate();

  std::string why;
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    write_config();
    if (start_once(why)) return;
  }
  throw std::runtime_error("Dovecot did not start (ports taken): " + why + "\n" + log_tail());
}

DovecotProcess::~DovecotProcess() { stop(); }

std::string DovecotProcess::url(std::string_view mailbox) const {
  return "imap://" + host_ + ":" + std::to_string(port_) + "/" + std::string(mailbox);
}

std::string DovecotProcess::ca_file() const { return options_.tls ? (dir_ / "cert.pem").string() : std::string(); }

void DovecotProcess::own(const fs::path& p) const {
  if (root_ && ::chown(p.c_str(), mail_uid_, mail_gid_) != 0)
    throw std::runtime_error("Dovecot harness: chown " + p.string() + ": " + std::strerror(errno));
}

void DovecotProcess::make_maildir(const fs::path& dir) const {
  for (const auto& d : {dir, dir / "cur", dir / "new", dir / "tmp"}) {
    fs::create_directory(d);
    fs::permissions(d, fs::perms::owner_all);
    own(d);
  }
}

fs::path DovecotProcess::mailbox_dir(std::string_view mailbox) const {
  const auto root = dir_.path() / "mail" / "Maildir";
  if (mailbox.empty() || text::iequals(mailbox, "INBOX")) return root;
  if (mailbox.find('/') != std::string_view::npos || mailbox.front() == '.')
    throw std::invalid_argument("Dovecot harness: mailbox name " + std::string(mailbox) + " (no '/', no leading '.')");
  return root / ("." + std::string(mailbox));
}

void DovecotProcess::write_passwd() {
  // Atomic replacement: Dovecot's auth process may be reading it.
  const auto tmp = dir_ / "passwd.tmp";
  write_file(tmp, username() + ":{PLAIN}" + password_ + "\n");
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  // Dovecot reloads the file when its mtime or size changed: each version
  // gets a later mtime than the last, even within one second.
  const auto now = ::time(nullptr);
  passwd_mtime_ = std::max<long long>(now, passwd_mtime_ + 1);
  const timespec times[2] = {{passwd_mtime_, 0}, {passwd_mtime_, 0}};
  ::utimensat(AT_FDCWD, tmp.c_str(), times, 0);
  fs::rename(tmp, dir_ / "passwd");
}

void DovecotProcess::set_password(std::string password) {
  password_ = std::move(password);
  const auto written = ::time(nullptr);
  write_passwd();
  // ...but looks at it at most once per second (its last look may have been
  // this very second): wait for the next one.
  while (::time(nullptr) <= written) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void DovecotProcess::make_certificate() {
  if (run("command -v openssl").status != 0)
    throw std::runtime_error("Dovecot harness: the openssl command is missing (apt-get install -y openssl)");
  const auto r = run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30"
                     " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost"
                     " -keyout " + shell_quote((dir_ / "key.pem").string()) +
                     " -out " + shell_quote((dir_ / "cert.pem").string()));
  if (r.status != 0 || !fs::exists(dir_ / "cert.pem"))
    throw std::runtime_error("Dovecot harness: openssl req failed:\n" + r.out);
}

void DovecotProcess::write_config() {
  const auto d = dir_.path().string();
  std::ostringstream c;
  c << "# Written by tests/support/dovecot_process.cpp\n"
    << "protocols = imap\n"
    << "listen = " << host_ << "\n"
    << "instance_name = " << instance_ << "\n"
    << "base_dir = " << d << "/run\n"
    << "state_dir = " << d << "/state\n"
    << "log_path = " << d << "/dovecot.log\n"
    << "auth_mechanisms = plain login\n"
    // No penalty for failed logins (see the header).
    << "auth_failure_delay = 0\n"
    << "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n";
  if (options_.tls) {
    c << "ssl = " << (options_.tls_required ? "required" : "yes") << "\n"
      << "ssl_cert = <" << d << "/cert.pem\n"
      << "ssl_key = <" << d << "/key.pem\n"
      << "disable_plaintext_auth = yes\n";
  } else {
    c << "ssl = no\n"
      << "disable_plaintext_auth = no\n";
  }
  c << "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN " << d << "/passwd\n}\n"
    << "userdb {\n  driver = static\n  args = uid=" << mail_uid_ << " gid=" << mail_gid_ << " home=" << d << "/mail\n}\n"
    << "mail_location = maildir:" << d << "/mail/Maildir\n"
    << "first_valid_uid = " << mail_uid_ << "\n"
    << "last_valid_uid = 0\n"
    << "first_valid_gid = " << mail_gid_ << "\n"
    << "last_valid_gid = 0\n"
    << "service imap-login {\n  inet_listener imap {\n    port = " << port_
    << "\n  }\n  inet_listener imaps {\n    port = 0\n  }\n";
  if (!root_) c << "  chroot =\n";
  c << "}\n";
  if (!root_) {
    // Rootless: every process runs as us, no chroot (needs root).
    const auto user = user_name(::geteuid());
    c << "default_internal_user = " << user << "\n"
      << "default_login_user = " << user << "\n"
      << "default_internal_group = " << group_name(::getegid()) << "\n";
    for (const char* s : {"anvil", "ipc", "old-stats", "imap-urlauth-login", "aggregator", "director"})
      c << "service " << s << " {\n  chroot =\n}\n";
  }
  write_file(dir_ / "dovecot.conf", c.str());
}

bool DovecotProcess::start_once(std::string& why) {
  const auto conf = (dir_ / "dovecot.conf").string();
  const auto err = (dir_ / "dovecot.stderr").string();
  // Prepared before fork: only async-signal-safe calls in the child.
  const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (err_fd < 0 || null_fd < 0) throw std::runtime_error("Dovecot harness: cannot open " + err);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("Dovecot harness: fork: ") + std::strerror(errno));
  if (pid == 0) {
    // If the test process dies, the master gets SIGTERM and stops its children.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(err_fd, 1);
    ::dup2(err_fd, 2);
    ::execl(dovecot_bin, dovecot_bin, "-F", "-c", conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(err_fd);
  ::close(null_fd);
  pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      const auto out = tail(err) + tail(dir_ / "dovecot.log");
      if (out.find("Address already in use") != std::string::npos) {
        why = "port " + std::to_string(port_) + " already in use";
        return false;
      }
      throw std::runtime_error("Dovecot exited at start (status " + std::to_string(st) + "):\n" + log_tail());
    }
    if (greets(host_, port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto logs = log_tail();
  stop();
  throw std::runtime_error("Dovecot did not greet on " + host_ + ":" + std::to_string(port_) + " within 10 s:\n" + logs);
}

void DovecotProcess::stop() {
  const auto prefix = "dovecot-" + instance_ + "/";
  if (pid_ > 0) {
    // On SIGTERM the master stops every service at once, then signals its
    // log process and sleeps a fixed second before exiting. Once only the
    // log process is left, that second is not worth waiting: SIGKILL.
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool reaped = false;
    int st = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        reaped = true;
        break;
      }
      const auto left = processes_named(prefix);
      if (std::all_of(left.begin(), left.end(), [&](const auto& p) { return p.second == prefix + "log"; })) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!reaped) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
    pid_ = -1;
  }
  // What is still named after this instance (the log process, once the
  // master is gone) is asked to stop, then killed.
  for (const auto& p : processes_named(prefix)) ::kill(p.first, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!processes_named(prefix).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  for (const auto& p : processes_named(prefix)) ::kill(p.first, SIGKILL);
}

void DovecotProcess::deliver(std::string_view raw, std::string_view mailbox) {
  const auto box = mailbox_dir(mailbox);
  if (!fs::exists(box / "cur")) {
    make_maildir(box);
    // Maildir++ marks a folder with this file (Dovecot creates it too).
    write_file(box / "maildirfolder", "");
    own(box / "maildirfolder");
  }
  // <secs>.M<usecs>P<pid>Q<n>.<host>: Dovecot numbers new mail by this time,
  // so it is kept strictly increasing (UIDs in delivery order).
  static std::mutex m;
  static long long last_us = 0;
  static std::atomic<unsigned> counter{0};
  long long us;
  {
    std::lock_guard lock(m);
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    us = std::max<long long>(static_cast<long long>(tv.tv_sec) * 1000000 + tv.tv_usec, last_us + 1);
    last_us = us;
  }
  const auto name = std::to_string(us / 1000000) + ".M" + std::to_string(us % 1000000) + "P" +
                    std::to_string(::getpid()) + "Q" + std::to_string(++counter) + ".relance-test";
  const auto tmp = box / "tmp" / name;
  write_file(tmp, raw);
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  own(tmp);
  fs::rename(tmp, box / "new" / name);
}

void DovecotProcess::expunge_all(std::string_view mailbox) {
  const auto box = mailbox_dir(mailbox);
  for (const char* sub : {"new", "cur"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(box / sub, ec)) fs::remove(e.path());
  }
}

void DovecotProcess::disconnect_sessions() {
  // The imap processes of this instance (one per logged-in connection): on
  // SIGTERM each says "* BYE Server shutting down." and exits.
  const auto name = "dovecot-" + instance_ + "/imap";
  auto sessions = [&] {
    std::vector<pid_t> out;
    for (const auto& p : processes_named(name))
      if (p.second == name) out.push_back(p.first);
    return out;
  };
  for (pid_t p : sessions()) ::kill(p, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!sessions().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  for (pid_t p : sessions()) ::kill(p, SIGKILL);
  const auto killed = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!sessions().empty() && std::chrono::steady_clock::now() < killed)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

void DovecotProcess::reset_uidvalidity(std::string_view mailbox) {
  const auto root = dir_.path() / "mail" / "Maildir";
  const auto box = mailbox_dir(mailbox);
  // Nobody may have the indexes open while they go.
  disconnect_sessions();
  // The mailbox's own uidlist and indexes, and the list index (it caches
  // every mailbox's UIDVALIDITY for STATUS). dovecot-uidvalidity* stays:
  // Dovecot takes the next value from it, so the new one is always higher.
  for (const auto& dir : {box, root}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (!e.is_regular_file()) continue;
      const auto n = e.path().filename().string();
      const bool box_file = dir == box && (n == "dovecot-uidlist" || n.rfind("dovecot.index", 0) == 0);
      const bool list_index = n.rfind("dovecot.list.index", 0) == 0;
      if (box_file || list_index) fs::remove(e.path());
    }
  }
}

std::uint64_t DovecotProcess::bump_uidvalidity(std::string_view mailbox) {
  const auto doveadm = "/usr/bin/doveadm -c " + shell_quote((dir_ / "dovecot.conf").string()) + " ";
  const auto name = shell_quote(mailbox.empty() ? "INBOX" : mailbox);
  auto r = run(doveadm + "mailbox status -u " + shell_quote(username()) + " uidvalidity " + name);
  const auto at = r.out.find("uidvalidity=");
  if (r.status != 0 || at == std::string::npos)
    throw std::runtime_error("doveadm mailbox status failed:\n" + r.out + "\n" + log_tail());
  const auto next = std::stoull(r.out.substr(at + 12)) + 1;
  r = run(doveadm + "mailbox update -u " + shell_quote(username()) + " --uid-validity " + std::to_string(next) + " " + name);
  if (r.status != 0) throw std::runtime_error("doveadm mailbox update failed:\n" + r.out + "\n" + log_tail());
  return next;
}

std::string DovecotProcess::log_tail() const {
  return "---- dovecot.log\n" + tail(dir_ / "dovecot.log") + "\n---- dovecot.stderr\n" + tail(dir_ / "dovecot.stderr") + "\n";
}

}  // namespace relance::test
