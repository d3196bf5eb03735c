#include "adapters/mattermost/mattermost_stream.hpp"

namespace relance::mattermost {

std::string StreamState::resume_query() const {
  if (connection_id_.empty()) return {};
  return "?connection_id=" + connection_id_ + "&sequence_number=" + std::to_string(next_seq_);
}

StreamState::Action StreamState::on_event(const Event& ev) {
  if (const auto* hello = std::get_if<Hello>(&ev)) {
    first_frame_ = false;
    ++sessions_;
    const bool resumed = !connection_id_.empty() && hello->connection_id == connection_id_;
    connection_id_ = hello->connection_id;
    if (resumed) {
      ++resumed_;
      return Action::ignore;
    }
    next_seq_ = hello->seq + 1;
    const bool catch_up = had_session_ || catch_up_;
    had_session_ = true;
    catch_up_ = false;
    return catch_up ? Action::resync : Action::ignore;
  }
  if (std::holds_alternative<Reply>(ev) || std::holds_alternative<Undecodable>(ev)) return Action::ignore;
  if (first_frame_) {
    // An event before any hello: the server resumed us and replays from next_seq_.
    first_frame_ = false;
    ++sessions_;
    ++resumed_;
  }
  const std::int64_t seq = std::visit(
      [](const auto& e) -> std::int64_t {
        if constexpr (requires { e.seq; }) return e.seq;
        return -1;
      },
      ev);
  if (seq != next_seq_) {
    ++gaps_;
    return Action::reconnect;
  }
  next_seq_ = seq + 1;
  return Action::handle;
}

}  // namespace relance::mattermost
