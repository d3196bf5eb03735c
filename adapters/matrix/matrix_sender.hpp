// chat::Sender for Matrix: staff posts as m.notice events (HTML with mention
// pills, threads as m.thread relations), edits as m.replace. The txnId comes
// from the outbox id, so a retry after a timeout or a restart (same device)
// is answered with the first event instead of a second one.
//
// End-to-end encrypted rooms are refused: learner data never goes out in
// clear there. send() returns retry with room_unusable ("end-to-end
// encrypted room: not supported"): the post stays pending, the dispatcher
// tells another staff room which cases wait, and the room gets one plain
// notice saying why. Edits there fail (an alert's status line is best effort).
#pragma once

#include "adapters/chat/chat.hpp"
#include "adapters/matrix/matrix_session.hpp"

#include <memory>

namespace relance::matrix {

inline constexpr std::string_view e2ee_send_error = "end-to-end encrypted room: not supported";

class MatrixSender : public chat::Sender {
public:
  explicit MatrixSender(std::shared_ptr<MatrixSession> session);

  chat::Network network() const override { return chat::Network::matrix; }
  boost::asio::awaitable<chat::SendResult> send(chat::Post post) override;
  boost::asio::awaitable<chat::SendResult> edit(chat::Edit edit) override;
  boost::asio::awaitable<bool> probe() override { return session_->async_probe(); }

private:
  // nullopt: go ahead; else the result to return (encrypted room, or unknown yet).
  boost::asio::awaitable<std::optional<chat::SendResult>> async_refuse_encrypted(std::string room_id);

  std::shared_ptr<MatrixSession> session_;
};

}  // namespace relance::matrix
