// Case threads in staff chat rooms (table chat_thread).
#pragma once

#include "bot/domain/time.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relance::store {

// A case's thread in one chat room: its root post, found from either side.
struct ChatThread {
  std::string network;
  std::string destination;
  std::int64_t case_id = 0;
  std::string root_remote_id;
  std::int64_t root_outbox_id = 0;
  Timestamp created_at{};
};

class ChatThreadRepo {
public:
  explicit ChatThreadRepo(Database& db) : db_(db) {}
  std::optional<std::string> root(std::string_view network, std::string_view destination, std::int64_t case_id);
  bool record(const ChatThread& t);  // false when the case already has a root there
  std::optional<std::int64_t> case_of(std::string_view network, std::string_view remote_id);
  std::vector<ChatThread> for_case(std::int64_t case_id);

private:
  Database& db_;
};

}  // namespace relance::store
