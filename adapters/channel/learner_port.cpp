#include "adapters/channel/learner_port.hpp"

#include <utility>

namespace relance::channel {

SendResult sent(std::string remote_id, std::optional<Timestamp> at) {
  SendResult r;
  r.status = SendResult::sent;
  r.remote_id = std::move(remote_id);
  r.at = at;
  return r;
}

SendResult retry(std::string reason, std::optional<std::chrono::milliseconds> after) {
  SendResult r;
  r.status = SendResult::retry;
  r.error = std::move(reason);
  r.retry_after = after;
  return r;
}

SendResult failed(std::string reason, std::string code) {
  SendResult r;
  r.status = SendResult::failed;
  r.error = std::move(reason);
  r.code = std::move(code);
  return r;
}

std::string_view to_string(SendResult::Status s) {
  switch (s) {
    case SendResult::sent: return "sent";
    case SendResult::retry: return "retry";
    case SendResult::failed: return "failed";
  }
  return "retry";
}

}  // namespace relance::channel
