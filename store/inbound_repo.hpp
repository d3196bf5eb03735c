// Learners' messages (table inbound_message).
#pragma once

#include "bot/domain/time.hpp"
#include "store/database.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace relance::store {

// A message a learner wrote (SMS, Matrix), stored once per provider id.
struct InboundMessage {
  std::int64_t id = 0;
  Timestamp received_at{};
  std::string channel;      // sms, matrix, email
  std::string provider;     // kannel, twilio, http, matrix, imap
  std::string provider_id;
  std::string sender;       // E.164, Matrix id or email address
  std::optional<std::int64_t> learner_key;
  std::optional<std::int64_t> case_id;
  std::string body;
  std::optional<Timestamp> sent_at;
  std::string kind = "reply";  // reply, opt_out, opt_in, auto_reply
};

class InboundRepo {
public:
  explicit InboundRepo(Database& db);
  ~InboundRepo();
  // False (nothing written) when (provider, provider_id) is already stored.
  bool insert(InboundMessage& m);
  std::vector<InboundMessage> for_case(std::int64_t case_id);
  std::vector<InboundMessage> for_learner(std::int64_t learner_key);
  std::int64_t count();

private:
  struct Statements;
  Database& db_;
  std::unique_ptr<Statements> st_;
};

}  // namespace relance::store
