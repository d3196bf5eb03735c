// A fake Moodle REST endpoint following ../shared/specs/moodle/NOTES.md:
// /webservice/rest/server.php, form-encoded (POST body or GET query), errors
// as HTTP 200 + {"exception","errorcode","message"}, users whose optional
// fields are simply absent, `userfields` honoured, 0 = never.
#pragma once

#include "adapters/common/form.hpp"
#include "fake_http_server.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace relance::test {

class FakeMoodle {
public:
  static constexpr const char* default_token = "0123456789abcdef0123456789abcdef";

  explicit FakeMoodle(std::string token = default_token);

  std::string url() const { return server_.url(); }  // the site (server.php is appended by clients)
  const std::string& token() const { return token_; }
  FakeHttpServer& server() { return server_; }

  void add_course(std::int64_t id);
  // `user` as Moodle holds it, every field; the answer drops what is hidden
  // or not asked for. Adds the course if needed.
  void add_user(std::int64_t course, nlohmann::json user);
  // Emitted as is, whatever `userfields` says (malformed entries).
  void add_raw_entry(std::int64_t course, nlohmann::json entry);
  void clear_users(std::int64_t course);

  // The functions of the token's external service; a known function outside
  // it gets `accessexception`. Default: every function the fake knows.
  void set_service_functions(std::set<std::string> functions);
  // Without moodle/course:viewparticipants: `nopermissions`.
  void set_can_view_participants(bool can);
  // Fields listed in the site's hiddenuserfields, left out of answers.
  void set_hidden_fields(std::set<std::string> fields);
  // The next `count` calls answer this HTTP status with an HTML page
  // (a proxy in front of Moodle failing).
  void fail_http(int status, int count = 1);

  struct Call {
    std::string http_method;
    std::string content_type;
    std::string wsfunction;
    std::string format;   // moodlewsrestformat
    net::FormFields params;  // everything, token included
  };
  std::vector<Call> calls() const;

  // Builders of users as Moodle returns them (NOTES §3 example).
  static nlohmann::json user(std::int64_t id, std::string firstname, std::string lastname,
                             std::string role = "student");

private:
  FakeResponse handle(const FakeRequest& req);
  FakeResponse enrolled_users(const net::FormFields& params);

  std::string token_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, std::vector<nlohmann::json>> courses_;
  std::map<std::int64_t, std::vector<nlohmann::json>> raw_;
  std::set<std::string> functions_;
  bool can_view_participants_ = true;
  std::set<std::string> hidden_;
  int fail_status_ = 0;
  int fail_count_ = 0;
  std::vector<Call> calls_;
  FakeHttpServer server_;  // last: its thread starts once the rest exists
};

}  // namespace relance::test
