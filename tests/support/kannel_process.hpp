// A real Kannel 1.4.5 (bearerbox + smsbox + fakesmsc as the phone network)
// for tests, started with the shared recipe kannel-up.sh on free ports in a
// temporary work dir, and stopped with kannel-down.sh when destroyed.
//
// The recipes folder is $RELANCE_RECIPES, else ../shared/recipes beside the
// source tree (CI checks the shared folder out next to the clone). Without
// Kannel the constructor throws, naming the Debian packages, so the test
// fails and says what to install (deploy/install-deps.sh --test does).
//
// kannel-up.sh writes the sms-service itself: `get-url` (or `post-url`) =
// bot_url + its own query (from=%p&to=%P&text=%a&...&id=%I&...&bin=%b). A
// bot_url that already has a query keeps it first, so a parser that reads
// the first value of a repeated field sees exactly bot_url's fields.
#pragma once

#include "test_support.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace relance::test {

struct KannelOptions {
  // Where smsbox pushes incoming SMS (KANNEL_BOT_URL).
  std::string bot_url = "http://127.0.0.1:9/sms";
  bool post = false;       // post-url (body = text, X-Kannel-* headers) instead of get-url
  bool mo_recode = true;   // smsbox mo-recode: UCS-2 MO handed over as UTF-8
};

// One MT message as fakesmsc printed it ("Got message N: <FROM TO TYPE DATA>").
struct KannelMt {
  std::string from, to;
  std::string type;  // "text" (coding 0), "data" (coding 1), "ucs-2" (coding 2), "udh" (with a UDH)
  std::string udh;   // the UDH bytes, for a part of a concatenated message
  std::string data;  // the payload bytes, URL-decoded (ucs-2: UTF-16BE)
  // The payload as UTF-8: ucs-2 decoded, text/data as is. A "udh" part is
  // printed "udh <udh> data <bytes>" whatever its coding (observed), so its
  // text is the bytes as is; a UCS-2 part needs utf16be_to_utf8(data).
  std::string text;
  std::string line;  // the line between < and >
  // Concatenation UDH (IEI 0): reference, total parts, this part's number (1-based); 0 without.
  int concat_ref = -1, concat_total = 0, concat_seq = 0;
};

class KannelProcess {
public:
  explicit KannelProcess(KannelOptions options = {});
  ~KannelProcess();  // kannel-down.sh
  KannelProcess(const KannelProcess&) = delete;
  KannelProcess& operator=(const KannelProcess&) = delete;

  // Why Kannel cannot run here ("" when it can): missing binaries (with the
  // apt-get line) or no recipes folder.
  static std::string missing();
  static std::filesystem::path recipes_dir();

  std::string sendsms_url() const;  // http://127.0.0.1:<port>/cgi-bin/sendsms
  std::string username() const { return "tester"; }
  std::string password() const { return "testpw"; }
  int admin_port() const { return admin_port_; }
  const std::filesystem::path& work_dir() const { return dir_.path(); }

  // One MO through fakesmsc (kannel-mo.sh, which waits until fakesmsc sent
  // it). `type` is fakesmsc's: text (data = the raw rest of the line),
  // data (URL-encoded bytes), ucs2 (URL-encoded UTF-16BE). Throws on failure.
  void inject_mo(std::string_view from, std::string_view to, std::string_view type, std::string_view data);
  void inject_text(std::string_view from, std::string_view to, std::string_view utf8) {
    inject_mo(from, to, "text", utf8);
  }
  // `utf8` sent as UCS-2 (UTF-16BE, URL-encoded on the line).
  void inject_ucs2(std::string_view from, std::string_view to, std::string_view utf8);

  // MT messages fakesmsc has received so far, in order.
  std::vector<KannelMt> mt() const;
  bool wait_mt(std::size_t count, std::chrono::milliseconds deadline = std::chrono::seconds(10)) const;

  // The end of each log, for INFO() when something goes wrong.
  std::string logs() const;

private:
  TempDir dir_;
  KannelOptions options_;
  int admin_port_ = 0, smsbox_port_ = 0, sendsms_port_ = 0, fakesmsc_port_ = 0;
  bool up_ = false;
};

// Helpers shared with the tests: UTF-8 <-> UTF-16BE (independent of the
// adapter's own decoder) and percent-encoding of every byte but [A-Za-z0-9].
std::string utf8_to_utf16be(std::string_view utf8);
std::string utf16be_to_utf8(std::string_view utf16be);
std::string percent_encode_all(std::string_view bytes);

}  // namespace relance::test
