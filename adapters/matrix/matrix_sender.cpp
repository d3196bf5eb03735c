#include "adapters/matrix/matrix_sender.hpp"

#include "adapters/matrix/matrix_wire.hpp"

#include <spdlog/spdlog.h>

namespace relance::matrix {

namespace asio = boost::asio;
using chat::SendResult;

namespace {

std::string post_json(const chat::Post& post, const std::string& hint) { return post_content(post, hint).dump(); }
std::string edit_json(const chat::Edit& edit, const std::string& hint) { return edit_content(edit, hint).dump(); }

}  // namespace

MatrixSender::MatrixSender(std::shared_ptr<MatrixSession> session) : session_(std::move(session)) {}

asio::awaitable<std::optional<SendResult>> MatrixSender::async_refuse_encrypted(std::string room_id) {
  if (auto login = co_await session_->async_login(); !login.ok) {
    SendResult out{SendResult::Status::retry, {}, std::nullopt, "matrix: not logged in: " + login.error};
    // An administrator must act: do not hammer the homeserver meanwhile.
    if (login.fatal) out.retry_after = session_->options().auth_retry_after;
    else out.unreachable = true;  // the homeserver did not answer the login
    co_return out;
  }
  const auto encrypted = co_await session_->async_is_encrypted(room_id);
  if (!encrypted)
    co_return SendResult{SendResult::Status::retry, {}, std::nullopt,
                         "matrix: could not tell whether " + room_id + " is encrypted"};
  if (!*encrypted) co_return std::nullopt;
  spdlog::debug("matrix: not sending to {}: {}", room_id, e2ee_send_error);
  co_await session_->async_report_encrypted(room_id);
  // Kept pending (not failed): the dispatcher says elsewhere what waits here.
  SendResult out{SendResult::Status::retry, {}, std::nullopt, std::string(e2ee_send_error)};
  out.room_unusable = true;
  co_return out;
}

asio::awaitable<SendResult> MatrixSender::send(chat::Post post) {
  if (post.destination.empty())
    co_return SendResult{SendResult::Status::failed, {}, std::nullopt, "matrix: no room id"};
  if (auto refused = co_await async_refuse_encrypted(post.destination)) co_return *refused;
  const std::string hint = post.alert ? session_->text("matrix.claim_hint") : std::string{};
  const std::string txn = txn_for_post(post.outbox_id);
  auto r = co_await session_->async_send_event(post.destination, "m.room.message", txn, post_json(post, hint));
  if (r.status == SendResult::Status::sent)
    spdlog::debug("matrix: outbox {} sent to {} as {}", post.outbox_id, post.destination, r.remote_id);
  else
    // The dispatcher logs what an administrator acts on (refusals, outages).
    spdlog::debug("matrix: outbox {} to {}: {}", post.outbox_id, post.destination, r.error);
  co_return r;
}

asio::awaitable<SendResult> MatrixSender::edit(chat::Edit edit) {
  if (edit.destination.empty() || edit.remote_id.empty())
    co_return SendResult{SendResult::Status::failed, {}, std::nullopt, "matrix: edit without room or event id"};
  if (auto refused = co_await async_refuse_encrypted(edit.destination)) co_return *refused;
  const std::string hint = session_->text("matrix.claim_hint");
  auto r =
      co_await session_->async_send_event(edit.destination, "m.room.message", txn_for_edit(edit), edit_json(edit, hint));
  if (r.status != SendResult::Status::sent)
    spdlog::warn("matrix: edit of {} in {}: {}", edit.remote_id, edit.destination, r.error);
  co_return r;
}

}  // namespace relance::matrix
