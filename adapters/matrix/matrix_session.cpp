#include "adapters/matrix/matrix_session.hpp"

#include "adapters/common/retry.hpp"
#include "adapters/common/sleep.hpp"
#include "adapters/matrix/matrix_wire.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace relance::matrix {

namespace asio = boost::asio;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

LoginResult failure(bool fatal, std::string error) { return LoginResult{false, fatal, std::move(error)}; }

// "<user_id> <device_id> <token>" (none of them contains a space).
struct SavedToken {
  std::string user, device, token;
};
std::optional<SavedToken> parse_saved(std::string_view v) {
  const auto a = v.find(' ');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = v.find(' ', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  SavedToken t{std::string(v.substr(0, a)), std::string(v.substr(a + 1, b - a - 1)), std::string(v.substr(b + 1))};
  if (t.user.empty() || t.token.empty()) return std::nullopt;
  return t;
}

}  // namespace

std::string CallResult::describe() const {
  if (not_logged_in) return "not logged in: " + error;
  if (!http.answered()) return "no answer: " + std::string(net::to_string(http.failure)) + " " + http.error;
  std::string out = std::to_string(http.status);
  if (!errcode.empty()) out += " " + errcode;
  if (!error.empty()) out += ": " + error;
  return out;
}

MatrixSession::MatrixSession(asio::any_io_executor ex, MatrixConfig config, chat::Hooks hooks,
                             MatrixOptions options)
    : ex_(ex),
      config_(std::move(config)),
      hooks_(std::move(hooks)),
      options_(std::move(options)),
      http_(ex, options_.http),
      pacer_(ex) {
  while (!config_.homeserver.empty() && config_.homeserver.back() == '/') config_.homeserver.pop_back();
}

std::string MatrixSession::url(std::string_view path) const {
  return config_.homeserver + "/_matrix/client" + std::string(path);
}

std::string MatrixSession::text(std::string_view key,
                                const std::vector<std::pair<std::string, std::string>>& params) const {
  if (hooks_.text) return hooks_.text(key, params);
  return std::string(key);
}

asio::awaitable<CallResult> MatrixSession::async_raw(net::Method method, std::string path, std::string body,
                                                     std::chrono::milliseconds timeout, bool auth) {
  net::Headers headers;
  // NOTES "Traps": the token goes in the Authorization header, never the query.
  if (auth && !token_.empty()) headers.push_back({"Authorization", "Bearer " + token_});
  if (method != net::Method::get) headers.push_back({"Content-Type", "application/json"});
  if (method != net::Method::get && body.empty()) body = "{}";
  CallResult out;
  out.http = co_await http_.async_request(method, url(path), std::move(headers), std::move(body), timeout);
  if (out.http.answered() && !out.http.ok()) {
    auto e = parse_error(out.http.body);
    out.errcode = std::move(e.errcode);
    out.error = std::move(e.error);
  }
  co_return out;
}

asio::awaitable<LoginResult> MatrixSession::async_login() {
  if (logged_in()) co_return LoginResult{true, false, {}};
  if (logging_in_) {
    // Another coroutine is logging in: wait for its outcome.
    auto done = login_done_;
    boost::system::error_code ec;
    co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (logged_in()) co_return LoginResult{true, false, {}};
    co_return last_login_.value_or(failure(false, "login did not finish"));
  }
  logging_in_ = true;
  login_done_ = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
  LoginResult r;
  try {
    r = co_await async_do_login();
  } catch (...) {
    logging_in_ = false;
    login_done_->cancel();
    throw;
  }
  last_login_ = r;
  logging_in_ = false;
  login_done_->cancel();
  if (r.ok) {
    fatal_error_.clear();
    spdlog::info("matrix: logged in as {} (device {})", user_id_, device_id_);
  } else if (r.fatal) {
    fatal_error_ = r.error;
    spdlog::error("matrix: {}", r.error);
  } else if (!login_failing_) {
    // Once per outage: the next tries (every send, the sync loop) only debug.
    login_failing_ = true;
    spdlog::warn("matrix: login: {}", r.error);
  } else {
    spdlog::debug("matrix: login: {}", r.error);
  }
  if (r.ok) login_failing_ = false;
  co_return r;
}

asio::awaitable<LoginResult> MatrixSession::async_do_login() {
  checked_ = false;
  // 1. The configured token (an administrator's choice wins).
  if (!config_.access_token.empty() && !token_refused_) {
    token_ = config_.access_token;
    token_from_password_ = false;
    auto r = co_await async_whoami();
    if (r.ok || r.fatal || config_.password.empty()) co_return r;
    if (!token_refused_) co_return r;  // no answer: try again later
  }
  // 2. A token saved by an earlier password login on this device.
  if (!token_refused_ && hooks_.load) {
    if (auto saved = hooks_.load(key_access_token)) {
      if (auto t = parse_saved(*saved); t && t->user == config_.user_id && t->device == config_.device_id) {
        token_ = t->token;
        token_from_password_ = true;
        auto r = co_await async_whoami();
        if (r.ok || !token_refused_) co_return r;
      }
    }
  }
  // 3. A password login.
  if (config_.password.empty()) {
    token_.clear();
    if (token_refused_)
      co_return failure(true, "the access token was refused (M_UNKNOWN_TOKEN) and no password is configured: "
                              "set a new RELANCE_MATRIX_TOKEN or RELANCE_MATRIX_PASSWORD");
    co_return failure(true, "no access token and no password configured for " + config_.user_id);
  }
  auto r = co_await async_password_login();
  if (!r.ok) co_return r;
  co_return co_await async_whoami();
}

asio::awaitable<LoginResult> MatrixSession::async_whoami() {
  auto r = co_await async_raw(net::Method::get, "/v3/account/whoami", {}, options_.request_timeout, true);
  if (r.http.status == 401) {
    token_refused_ = true;
    co_return failure(config_.password.empty(),
                      "access token refused by " + config_.homeserver + " (" + r.describe() + ")");
  }
  if (!r.ok()) co_return failure(false, "whoami: " + r.describe());
  const json j = json::parse(r.http.body, nullptr, false);
  const std::string who = j.is_object() ? j.value("user_id", std::string{}) : std::string{};
  if (who.empty()) co_return failure(false, "whoami: answer without user_id");
  if (who != config_.user_id) {
    token_.clear();
    co_return failure(true, "the access token belongs to " + who + ", not to the configured user " + config_.user_id);
  }
  user_id_ = who;
  device_id_ = j.value("device_id", std::string{});
  token_refused_ = false;
  refusal_logged_ = false;
  checked_ = true;
  co_return LoginResult{true, false, {}};
}

asio::awaitable<LoginResult> MatrixSession::async_password_login() {
  const std::string body = password_login(config_.user_id, config_.password, config_.device_id).dump();
  co_await pacer_.wait_turn();
  auto r = co_await async_raw(net::Method::post, "/v3/login", body, options_.request_timeout, false);
  pacer_.on_answer(r.http);
  if (!r.ok()) {
    // 403 M_FORBIDDEN: wrong password or unknown user; 400: m.login.password
    // not offered (an OAuth-only homeserver, NOTES "Login").
    const bool fatal = r.http.answered() && (r.http.status == 403 || r.http.status == 400 || r.http.status == 401);
    co_return failure(fatal, "password login as " + config_.user_id + ": " + r.describe());
  }
  const json j = json::parse(r.http.body, nullptr, false);
  if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string())
    co_return failure(false, "password login: answer without access_token");
  token_ = j["access_token"].get<std::string>();
  token_from_password_ = true;
  token_refused_ = false;
  const std::string device = j.value("device_id", config_.device_id);
  if (device != config_.device_id)
    spdlog::warn("matrix: the homeserver gave device {} instead of the configured {}", device, config_.device_id);
  if (hooks_.save) hooks_.save(key_access_token, config_.user_id + " " + device + " " + token_);
  co_return LoginResult{true, false, {}};
}

asio::awaitable<CallResult> MatrixSession::async_call(net::Method method, std::string path, std::string body,
                                                      bool paced, std::optional<std::chrono::milliseconds> timeout) {
  for (int attempt = 0;; ++attempt) {
    auto login = co_await async_login();
    if (!login.ok) {
      CallResult out;
      out.not_logged_in = true;
      out.login_fatal = login.fatal;
      out.error = login.error;
      co_return out;
    }
    if (paced) co_await pacer_.wait_turn();
    const std::string used = token_;
    auto r = co_await async_raw(method, path, body, timeout.value_or(options_.request_timeout), true);
    if (paced) pacer_.on_answer(r.http);
    if (r.http.status != 401 || r.errcode != "M_UNKNOWN_TOKEN") co_return r;
    // Logged out elsewhere, or the device was deleted. Another coroutine may
    // already have logged in again with a fresh token: only then retry at once.
    if (used == token_) {
      checked_ = false;
      token_refused_ = true;
      if (config_.password.empty()) {
        fatal_error_ = "the access token was refused (M_UNKNOWN_TOKEN) and no password is configured";
        if (!refusal_logged_) spdlog::error("matrix: {}", fatal_error_);
        refusal_logged_ = true;
        co_return r;
      }
      spdlog::warn("matrix: access token refused (M_UNKNOWN_TOKEN), logging in again");
    }
    if (attempt >= 1) co_return r;
  }
}

asio::awaitable<chat::SendResult> MatrixSession::async_send_event(std::string room_id, std::string type,
                                                                  std::string txn_id, std::string content_json) {
  using chat::SendResult;
  const std::string path =
      "/v3/rooms/" + encode_segment(room_id) + "/send/" + encode_segment(type) + "/" + encode_segment(txn_id);
  net::Backoff backoff(options_.backoff_initial, options_.backoff_cap);
  bool tried_join = false;
  for (int attempt = 0;; ++attempt) {
    const bool last = attempt + 1 >= std::max(1, options_.send_attempts);
    auto r = co_await async_call(net::Method::put, path, content_json, true);
    if (r.not_logged_in) {
      SendResult out{SendResult::Status::retry, {}, std::nullopt, "matrix: not logged in: " + r.error};
      if (r.login_fatal) out.retry_after = options_.auth_retry_after;
      // Not fatal: the login itself got no answer (the homeserver is down).
      else out.unreachable = true;
      co_return out;
    }
    if (r.ok()) {
      const json j = json::parse(r.http.body, nullptr, false);
      if (j.is_object() && j.contains("event_id") && j["event_id"].is_string())
        co_return SendResult{SendResult::Status::sent, j["event_id"].get<std::string>(), std::nullopt, {}};
      // A 200 without an event id: a broken proxy. The txnId makes the retry safe.
      if (last) co_return SendResult{SendResult::Status::retry, {}, std::nullopt, "matrix: answer without event_id"};
      co_await net::async_sleep(ex_, backoff.next());
      continue;
    }
    if (r.http.status == 429) {
      // Spec "Rate limiting": wait as told (retry_after_ms preferred, else
      // Retry-After). The Pacer already holds every send until then.
      const auto wait = net::rate_signal(r.http, std::chrono::system_clock::now()).retry_after.value_or(1s);
      spdlog::debug("matrix: {} rate limited, retry in {} ms", room_id, wait.count());
      if (!last && wait <= options_.max_inline_wait) continue;
      co_return SendResult{SendResult::Status::retry, {}, wait, "matrix: " + r.describe()};
    }
    if (!r.http.answered() || r.http.status >= 500) {
      // No answer may still mean it was stored: the same txnId retried is
      // answered with the first event (spec "Transaction identifiers").
      if (!last) {
        spdlog::debug("matrix: send to {}: {}, retrying", room_id, r.describe());
        co_await net::async_sleep(ex_, backoff.next());
        continue;
      }
      SendResult out{SendResult::Status::retry, {}, std::nullopt, "matrix: " + r.describe()};
      out.unreachable = true;
      co_return out;
    }
    if (r.http.status == 401)
      co_return SendResult{SendResult::Status::retry, {}, options_.auth_retry_after, "matrix: " + r.describe()};
    if (r.http.status == 403 && r.errcode == "M_FORBIDDEN" && !tried_join) {
      // Not (yet) in the room. We only post to configured rooms, and on a
      // first start the staff's invite is usually still waiting for the
      // first /sync: giving the post up would lose the case's alert. Join
      // (works when invited, or for a public room) and send again; when
      // that fails too, the post waits (retry, the dispatcher's backoff)
      // so the room's queue goes on, in order, once someone invites us.
      tried_join = true;
      auto j = co_await async_call(net::Method::post, "/v3/join/" + encode_segment(room_id), "{}", true);
      if (!j.ok())
        co_return SendResult{SendResult::Status::retry, {}, std::nullopt,
                             "matrix: not in the room, and cannot join it (invite the bot): " + j.describe()};
      spdlog::info("matrix: joined {} to post there", room_id);
      // Its encryption could not be read from outside: look again before
      // anything goes out in clear.
      encrypted_.erase(room_id);
      const auto encrypted = co_await async_is_encrypted(room_id);
      if (!encrypted || *encrypted) {
        if (encrypted) co_await async_report_encrypted(room_id);
        SendResult out{SendResult::Status::retry, {}, std::nullopt,
                       encrypted ? "end-to-end encrypted room: not supported"
                                 : "matrix: could not tell whether " + room_id + " is encrypted"};
        out.room_unusable = encrypted.has_value();
        co_return out;
      }
      continue;
    }
    // Any other 4xx: not in the room (403 M_FORBIDDEN), unknown room, bad
    // content... trying again will not change it.
    co_return SendResult{SendResult::Status::failed, {}, std::nullopt, "matrix: " + r.describe()};
  }
}

asio::awaitable<bool> MatrixSession::async_probe() {
  // versions.yaml: public, no rate limit; a cheap "are you there".
  auto r = co_await async_raw(net::Method::get, "/versions", {}, options_.request_timeout, false);
  co_return r.ok();
}

asio::awaitable<std::optional<bool>> MatrixSession::async_is_encrypted(std::string room_id) {
  if (auto it = encrypted_.find(room_id); it != encrypted_.end()) co_return it->second;
  auto r = co_await async_call(net::Method::get, "/v3/rooms/" + encode_segment(room_id) + "/state/m.room.encryption",
                               {}, false);
  if (r.not_logged_in) co_return std::nullopt;
  if (r.ok()) {
    encrypted_[room_id] = true;
    co_return true;
  }
  if (r.http.status == 404) {
    encrypted_[room_id] = false;
    co_return false;
  }
  if (!r.http.answered() || r.http.status >= 500 || r.http.status == 429) co_return std::nullopt;
  // 403: not in the room (or cannot see its state). The send itself will
  // say so; nothing to cache.
  co_return false;
}

asio::awaitable<void> MatrixSession::async_report_encrypted(std::string room_id) {
  encrypted_[room_id] = true;
  if (e2ee_reported_.count(room_id)) co_return;
  e2ee_reported_.insert(room_id);
  spdlog::warn("matrix: room {} is end-to-end encrypted; relance does not support encryption and sends no "
               "learner data there",
               room_id);
  const std::string key = "matrix.e2ee_notice." + room_id;
  if (hooks_.load && hooks_.load(key)) co_return;
  // Also remembered in the room's account data, on the homeserver: a new
  // database (a reinstall, another device) does not post it a second time.
  const std::string marker = "/v3/user/" + encode_segment(config_.user_id) + "/rooms/" + encode_segment(room_id) +
                             "/account_data/" + std::string(e2ee_notice_type);
  auto known = co_await async_call(net::Method::get, marker, {}, false);
  if (known.ok()) {
    if (hooks_.save) hooks_.save(key, "1");
    co_return;
  }
  if (!known.http.answered() || known.http.status != 404) {
    // Cannot tell (no answer, not logged in): ask again next time.
    spdlog::debug("matrix: reading the encryption notice marker of {}: {}", room_id, known.describe());
    e2ee_reported_.erase(room_id);
    co_return;
  }
  // The notice carries no learner data: it is the one thing sent in clear there.
  const std::string content = notice_content(text("matrix.e2ee_unsupported")).dump();
  auto r = co_await async_send_event(room_id, "m.room.message", txn_for_e2ee_notice(room_id), content);
  if (r.status == chat::SendResult::Status::sent) {
    if (hooks_.save) hooks_.save(key, "1");
    nlohmann::json marker_content = nlohmann::json::object();
    marker_content["event_id"] = r.remote_id;
    auto put = co_await async_call(net::Method::put, marker, marker_content.dump(), false);
    if (!put.ok()) spdlog::debug("matrix: saving the encryption notice marker of {}: {}", room_id, put.describe());
  } else {
    spdlog::error("matrix: could not post the encryption notice in {}: {}", room_id, r.error);
    if (r.status == chat::SendResult::Status::retry) e2ee_reported_.erase(room_id);  // try again next time
  }
}

}  // namespace relance::matrix
