#include "kannel_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace relance::test {

namespace {

constexpr const char* apt_hint = "apt-get install -y kannel kannel-extras (deploy/install-deps.sh --test installs them)";

Ran run(const std::string& cmd) { return run_command(cmd); }

int free_port() { return free_loopback_port(); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// fakesmsc prints payloads URL-encoded with '+' for a space.
std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out.push_back(char(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string tail(const fs::path& p, std::size_t max_bytes = 3000) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return "(no " + p.filename().string() + ")";
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() > max_bytes) all = "..." + all.substr(all.size() - max_bytes);
  return all;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(char(c));
  } else if (c < 0x800) {
    out.push_back(char(0xC0 | (c >> 6)));
    out.push_back(char(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(char(0xE0 | (c >> 12)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(char(0x80 | (c & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (c >> 18)));
    out.push_back(char(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(char(0x80 | (c & 0x3F)));
  }
}

}  // namespace

std::string percent_encode_all(std::string_view bytes) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    }
  }
  return out;
}

std::string utf8_to_utf16be(std::string_view s) {
  std::string out;
  auto unit = [&](char16_t u) {
    out.push_back(char(u >> 8));
    out.push_back(char(u & 0xFF));
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    char32_t cp = 0;
    int len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 6) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c >> 4) == 14) {
      cp = c & 0x0F;
      len = 3;
    } else {
      cp = c & 0x07;
      len = 4;
    }
    for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(char16_t(0xD800 + (cp >> 10)));
      unit(char16_t(0xDC00 + (cp & 0x3FF)));
    } else {
      unit(char16_t(cp));
    }
  }
  return out;
}

std::string utf16be_to_utf8(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    char32_t u = (static_cast<unsigned char>(s[i]) << 8) | static_cast<unsigned char>(s[i + 1]);
    if (u >= 0xD800 && u <= 0xDBFF && i + 3 < s.size()) {
      const char32_t v = (static_cast<unsigned char>(s[i + 2]) << 8) | static_cast<unsigned char>(s[i + 3]);
      u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
      i += 2;
    }
    append_utf8(out, u);
  }
  return out;
}

fs::path KannelProcess::recipes_dir() {
  if (const char* env = std::getenv("RELANCE_RECIPES"); env && *env) return env;
  return fs::path(RELANCE_SOURCE_DIR) / ".." / "shared" / "recipes";
}

std::string KannelProcess::missing() {
  for (const char* bin : {"/usr/sbin/bearerbox", "/usr/sbin/smsbox", "/usr/lib/kannel/test/fakesmsc"})
    if (::access(bin, X_OK) != 0) return std::string("Kannel is not installed (no ") + bin + "): " + apt_hint;
  if (run("command -v curl").status != 0) return "curl is missing (kannel-up.sh polls Kannel's status with it)";
  const auto up = recipes_dir() / "kannel-up.sh";
  if (!fs::exists(up)) return "no " + up.string() + " (set RELANCE_RECIPES to the shared recipes folder)";
  return {};
}

KannelProcess::KannelProcess(KannelOptions options) : options_(std::move(options)) {
  if (const auto why = missing(); !why.empty()) throw std::runtime_error("real Kannel tests: " + why);
  const auto recipes = recipes_dir();
  Ran r;
  for (int attempt = 0; attempt < 3; ++attempt) {
    admin_port_ = free_port();
    smsbox_port_ = free_port();
    sendsms_port_ = free_port();
    fakesmsc_port_ = free_port();
    std::ostringstream cmd;
    cmd << "KANNEL_ADMIN_PORT=" << admin_port_ << " KANNEL_SMSBOX_PORT=" << smsbox_port_
        << " KANNEL_SENDSMS_PORT=" << sendsms_port_ << " KANNEL_FAKESMSC_PORT=" << fakesmsc_port_
        << " KANNEL_BOT_URL=" << shell_quote(options_.bot_url)
        << " KANNEL_SERVICE_METHOD=" << (options_.post ? "post" : "get")
        << " KANNEL_MO_RECODE=" << (options_.mo_recode ? "yes" : "no") << " bash "
        << shell_quote((recipes / "kannel-up.sh").string()) << " " << shell_quote(dir_.path().string());
    r = run(cmd.str());
    if (r.out.find("PASS: kannel-up") != std::string::npos) {
      up_ = true;
      return;
    }
    if (r.out.find("already in use") == std::string::npos) break;
  }
  run("bash " + shell_quote((recipes / "kannel-down.sh").string()) + " " + shell_quote(dir_.path().string()));
  throw std::runtime_error("kannel-up.sh failed:\n" + r.out + "\n" + logs());
}

KannelProcess::~KannelProcess() {
  run("bash " + shell_quote((recipes_dir() / "kannel-down.sh").string()) + " " + shell_quote(dir_.path().string()));
}

std::string KannelProcess::sendsms_url() const {
  return "http://127.0.0.1:" + std::to_string(sendsms_port_) + "/cgi-bin/sendsms";
}

void KannelProcess::inject_mo(std::string_view from, std::string_view to, std::string_view type,
                              std::string_view data) {
  const auto r = run("KANNEL_WORK=" + shell_quote(dir_.path().string()) + " KANNEL_MO_TYPE=" +
                     shell_quote(type) + " bash " + shell_quote((recipes_dir() / "kannel-mo.sh").string()) + " " +
                     shell_quote(from) + " " + shell_quote(to) + " " + shell_quote(data));
  if (r.out.find("PASS: kannel-mo") == std::string::npos)
    throw std::runtime_error("kannel-mo.sh failed:\n" + r.out + "\n" + logs());
}

void KannelProcess::inject_ucs2(std::string_view from, std::string_view to, std::string_view utf8) {
  inject_mo(from, to, "ucs2", percent_encode_all(utf8_to_utf16be(utf8)));
}

std::vector<KannelMt> KannelProcess::mt() const {
  std::vector<KannelMt> out;
  std::ifstream in(dir_.path() / "fakesmsc.log", std::ios::binary);
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("Got message ");
    if (at == std::string::npos) continue;
    const auto open = line.find(": <", at);
    const auto close = line.rfind('>');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    KannelMt m;
    m.line = line.substr(open + 3, close - open - 3);
    // FROM TO TYPE DATA, DATA being the rest (spaces and all).
    std::string_view rest = m.line;
    auto word = [&] {
      const auto sp = rest.find(' ');
      std::string w(rest.substr(0, sp));
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
      return w;
    };
    m.from = word();
    m.to = word();
    m.type = word();
    if (m.type == "udh") {
      // "udh <udh> data <data>" (observed for a concatenated part)
      m.udh = url_decode(word());
      word();  // "data", for every coding
      m.data = url_decode(rest);
      m.text = m.data;
      if (m.udh.size() >= 6 && m.udh[1] == 0 && m.udh[2] == 3) {
        m.concat_ref = static_cast<unsigned char>(m.udh[3]);
        m.concat_total = static_cast<unsigned char>(m.udh[4]);
        m.concat_seq = static_cast<unsigned char>(m.udh[5]);
      }
    } else if (m.type == "ucs-2") {
      m.data = url_decode(rest);
      m.text = utf16be_to_utf8(m.data);
    } else if (m.type == "data") {
      m.data = url_decode(rest);
      m.text = m.data;
    } else {
      m.data = std::string(rest);
      m.text = m.data;
    }
    out.push_back(std::move(m));
  }
  return out;
}

bool KannelProcess::wait_mt(std::size_t count, std::chrono::milliseconds deadline) const {
  return wait_until([&] { return mt().size() >= count; }, deadline);
}

std::string KannelProcess::logs() const {
  std::string out;
  for (const char* f : {"fakesmsc.log", "smsbox.log", "bearerbox.log", "smsbox.stderr", "bearerbox.stderr"})
    out += std::string("---- ") + f + "\n" + tail(dir_.path() / f) + "\n";
  return out;
}

}  // namespace relance::test
