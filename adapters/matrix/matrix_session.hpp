// One Matrix login of the bot, shared by MatrixSender and MatrixSync: the
// access token (configured, or from a password login on the configured
// device, kept through Hooks::save so a restart reuses it), the HTTP client,
// the Pacer toward the homeserver, and what is known of each room's
// encryption.
//
// Threading: everything runs on the executor given to the constructor (the
// app's single io_context thread), like chat::Hooks; no locks.
//
// Wiring (bot/app):
//   auto session = std::make_shared<matrix::MatrixSession>(ex, config.matrix, hooks);
//   matrix::MatrixSender sender(session);      // chat::Sender for the dispatcher
//   matrix::MatrixSync sync(session);          // inbound: co_spawn(ex, sync.async_run(), ...)
//   ... sync.stop() on shutdown.
#pragma once

#include "adapters/chat/chat.hpp"
#include "adapters/common/http_client.hpp"
#include "adapters/common/pacer.hpp"
#include "adapters/matrix/matrix_config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relance::matrix {

// Durable keys this adapter keeps through Hooks::load/save.
inline constexpr std::string_view key_access_token = "matrix.access_token";  // "<user_id> <device_id> <token>"
inline constexpr std::string_view key_next_batch = "matrix.next_batch";
inline constexpr std::string_view key_filter = "matrix.filter";  // "<fingerprint> <filter_id>"
// + "matrix.e2ee_notice.<room_id>" = "1" once the encryption notice is posted there
// (and on the homeserver, the room account data below, for a fresh store).
inline constexpr std::string_view e2ee_notice_type = "org.relance.e2ee_notice";

// Timings, all with production defaults; tests shorten the waits.
struct MatrixOptions {
  std::chrono::milliseconds request_timeout{std::chrono::seconds{30}};
  std::chrono::milliseconds sync_timeout{std::chrono::seconds{30}};  // the server-side long-poll (timeout=30000)
  std::chrono::milliseconds sync_slack{std::chrono::seconds{15}};    // client deadline = sync_timeout + this
  // A send tries this many times before handing `retry` back to the dispatcher.
  int send_attempts = 3;
  // A 429 asking for longer than this is handed back (retry + retry_after)
  // instead of being waited out inside send().
  std::chrono::milliseconds max_inline_wait{std::chrono::seconds{10}};
  std::chrono::milliseconds backoff_initial{std::chrono::milliseconds{500}};
  std::chrono::milliseconds backoff_cap{std::chrono::seconds{60}};
  // How long a send waits before retrying when the token is refused and no
  // password can get a new one (an administrator must act).
  std::chrono::milliseconds auth_retry_after{std::chrono::minutes{5}};
  net::ClientOptions http;
};

struct LoginResult {
  bool ok = false;
  // An administrator must act (wrong password, token refused and no
  // password, user id mismatch): retrying will not help.
  bool fatal = false;
  std::string error;
};

// The answer of one client-server call, with the standard error body read.
struct CallResult {
  net::HttpResult http;
  std::string errcode;  // "M_LIMIT_EXCEEDED", ... ("" when none)
  std::string error;
  // No request was made: not logged in (login_error says why).
  bool not_logged_in = false;
  bool login_fatal = false;
  bool ok() const { return !not_logged_in && http.ok(); }
  // For logs: "429 M_LIMIT_EXCEEDED: Too many requests", "no answer: timeout ...".
  std::string describe() const;
};

class MatrixSession : public std::enable_shared_from_this<MatrixSession> {
public:
  MatrixSession(boost::asio::any_io_executor ex, MatrixConfig config, chat::Hooks hooks,
                MatrixOptions options = {});
  MatrixSession(const MatrixSession&) = delete;
  MatrixSession& operator=(const MatrixSession&) = delete;

  // Logged in and checked (GET /account/whoami matches config.user_id).
  // Concurrent callers share one attempt. The configured token first, then
  // a token saved by an earlier password login, then a password login.
  boost::asio::awaitable<LoginResult> async_login();
  bool logged_in() const { return !token_.empty() && checked_; }

  // One authenticated request; `path` is after /_matrix/client ("/v3/sync?...").
  // `paced`: waits for the Pacer first and feeds it the answer (every write).
  // A 401 M_UNKNOWN_TOKEN logs in again once when a password is configured.
  boost::asio::awaitable<CallResult> async_call(net::Method method, std::string path, std::string body, bool paced,
                                                std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // PUT /rooms/{room}/send/{type}/{txn} with retries inside (429 as the
  // server says, 5xx and no answer with backoff), as a chat::SendResult.
  boost::asio::awaitable<chat::SendResult> async_send_event(std::string room_id, std::string type, std::string txn_id,
                                                            std::string content_json);

  // GET /_matrix/client/versions (no token, not paced): true when the
  // homeserver answers as itself (not a proxy's 502).
  boost::asio::awaitable<bool> async_probe();

  // Whether a room is end-to-end encrypted: what /sync told, else
  // GET /rooms/{room}/state/m.room.encryption (200: yes, 404: no), cached.
  // nullopt: could not tell (no answer).
  boost::asio::awaitable<std::optional<bool>> async_is_encrypted(std::string room_id);
  void set_encrypted(const std::string& room_id, bool encrypted) { encrypted_[room_id] = encrypted; }
  // A warning in the log, and once per room (persisted) a plain notice there
  // saying encryption is not supported and to use an unencrypted room.
  boost::asio::awaitable<void> async_report_encrypted(std::string room_id);

  // A text from messages/ through Hooks::text (the key itself without it).
  std::string text(std::string_view key, const std::vector<std::pair<std::string, std::string>>& params = {}) const;

  const std::string& user_id() const { return user_id_; }
  const std::string& device_id() const { return device_id_; }
  const MatrixConfig& config() const { return config_; }
  const MatrixOptions& options() const { return options_; }
  const chat::Hooks& hooks() const { return hooks_; }
  net::Pacer& pacer() { return pacer_; }
  net::HttpClient& http() { return http_; }
  boost::asio::any_io_executor executor() const { return ex_; }
  // The last fatal login problem ("" when none).
  const std::string& fatal_error() const { return fatal_error_; }

private:
  boost::asio::awaitable<LoginResult> async_do_login();
  boost::asio::awaitable<LoginResult> async_whoami();
  boost::asio::awaitable<LoginResult> async_password_login();
  boost::asio::awaitable<CallResult> async_raw(net::Method method, std::string path, std::string body,
                                               std::chrono::milliseconds timeout, bool auth);
  std::string url(std::string_view path) const;

  boost::asio::any_io_executor ex_;
  MatrixConfig config_;
  chat::Hooks hooks_;
  MatrixOptions options_;
  net::HttpClient http_;
  net::Pacer pacer_;

  std::string token_;
  bool token_from_password_ = false;
  bool checked_ = false;
  std::string user_id_;
  std::string device_id_;
  std::string fatal_error_;
  // Single flight for async_login: waiters sleep on this timer, cancelled when done.
  bool logging_in_ = false;
  std::shared_ptr<boost::asio::steady_timer> login_done_;
  // The token in use was refused (401 M_UNKNOWN_TOKEN): only a password login helps.
  bool token_refused_ = false;
  bool refusal_logged_ = false;
  bool login_failing_ = false;  // a login without an answer was logged already
  std::optional<LoginResult> last_login_;

  std::map<std::string, bool> encrypted_;
  std::set<std::string> e2ee_reported_;
};

}  // namespace relance::matrix
