// Email as a learner channel (channel::LearnerPort): each message becomes an
// Email (build_mime) sent by send_email. libcurl's SMTP client blocks, so the
// send runs on a thread of its own (one: messages go out one at a time) and
// the coroutine comes back to the app's executor with the result.
#pragma once

#include "adapters/channel/learner_port.hpp"
#include "adapters/email/email.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>

#include <string>
#include <string_view>

namespace relance::email {

// A SendOutcome as the port's result: sent (no remote id: the Message-ID is
// ours, relance.<outbox_id>), retry, failed (with the SMTP reply code).
channel::SendResult to_send_result(const SendOutcome& o);

class SmtpPort final : public channel::LearnerPort {
public:
  // `reply_to`: where learners' answers go ([email] reply_to), empty: none.
  SmtpPort(boost::asio::any_io_executor ex, SmtpConfig config, std::string reply_to);
  ~SmtpPort() override;  // waits for a send in progress
  SmtpPort(const SmtpPort&) = delete;
  SmtpPort& operator=(const SmtpPort&) = delete;

  std::string_view channel() const override { return "email"; }
  std::string_view provider() const override { return "smtp"; }
  // Subject, text and HTML; bounces are not read back as delivery reports.
  channel::Capabilities capabilities() const override { return {channel::Capabilities::Body::rich, false, false, 0}; }
  boost::asio::awaitable<channel::SendResult> send(channel::Message m) override;

  // Waits for the send in progress (if any); later sends never finish.
  void join();

private:
  boost::asio::any_io_executor ex_;
  SmtpConfig config_;
  std::string reply_to_;
  boost::asio::thread_pool pool_{1};
};

}  // namespace relance::email
