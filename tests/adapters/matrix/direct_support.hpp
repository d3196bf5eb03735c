// Shared by the direct-room tests: the Matrix fixture plus two learners, the
// learner hooks (learner_message into a list, is_learner_room from the keys
// MatrixDirect saves) and a session built with them.
#pragma once

#include "adapter_support.hpp"

#include "adapters/matrix/matrix_direct.hpp"

namespace relance::test::mx {

struct DirectFixture : Fixture {
  std::string lea = hs.add_user("lea", "pw");
  std::string paul = hs.add_user("paul", "pw");

  struct Reply {
    std::string user, room, event_id, text;
  };
  std::vector<Reply> replies;
  bool store_ok = true;  // what learner_message answers
  int refuse_next = 0;   // answer false this many times first
  int learner_calls = 0;

  chat::Hooks hooks() {
    auto h = th.hooks();
    h.learner_message = [this](chat::Network n, std::string_view user, std::string_view room, std::string_view id,
                               std::string_view text, std::function<void(bool)> done) {
      CHECK(n == chat::Network::matrix);
      ++learner_calls;
      if (!store_ok) return done(false);
      if (refuse_next > 0) {
        --refuse_next;
        return done(false);
      }
      // The app's dedupe by event id.
      for (const auto& r : replies)
        if (r.event_id == id) return done(true);
      replies.push_back({std::string(user), std::string(room), std::string(id), std::string(text)});
      done(true);
    };
    // What the app is told to do: ask the keys MatrixDirect keeps.
    h.is_learner_room = [kv = th.hooks()](chat::Network n, std::string_view room) {
      return n == chat::Network::matrix && matrix::is_direct_room(kv, room);
    };
    return h;
  }
  std::shared_ptr<matrix::MatrixSession> dsession() {
    return std::make_shared<matrix::MatrixSession>(io.get_executor(), config(), hooks(), options);
  }
  std::string kv(const std::string& key) const {
    auto it = th.kv.find(key);
    return it == th.kv.end() ? std::string{} : it->second;
  }
  std::vector<std::string> direct_of(const std::string& user) const {
    auto d = hs.account_data(bot, "m.direct");
    std::vector<std::string> out;
    if (d && d->contains(user))
      for (const auto& r : (*d)[user]) out.push_back(r.get<std::string>());
    return out;
  }
};

inline matrix::DirectMessage dm(std::int64_t outbox_id, std::string user, std::string body, std::string html = {}) {
  return matrix::DirectMessage{outbox_id, std::move(user), std::move(body), std::move(html)};
}

}  // namespace relance::test::mx
