#include "adapters/email/smtp_port.hpp"

#include "adapters/common/log_privacy.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace relance::email {

namespace asio = boost::asio;

channel::SendResult to_send_result(const SendOutcome& o) {
  switch (o.status) {
    case SendOutcome::sent: return channel::sent();
    case SendOutcome::failed: return channel::failed(o.error, o.smtp_code ? std::to_string(o.smtp_code) : std::string());
    case SendOutcome::retry: break;
  }
  return channel::retry(o.error);
}

SmtpPort::SmtpPort(asio::any_io_executor ex, SmtpConfig config, std::string reply_to)
    : ex_(std::move(ex)), config_(std::move(config)), reply_to_(std::move(reply_to)) {}

SmtpPort::~SmtpPort() { join(); }

void SmtpPort::join() { pool_.join(); }

asio::awaitable<channel::SendResult> SmtpPort::send(channel::Message m) {
  Email mail;
  mail.outbox_id = m.outbox_id;
  mail.to = std::move(m.to);
  mail.to_name = std::move(m.to_name);
  mail.subject = std::move(m.subject);
  mail.text = std::move(m.text);
  mail.html = std::move(m.html);
  mail.reply_to = reply_to_;
  co_await asio::post(pool_.get_executor(), asio::use_awaitable);
  SendOutcome r = send_email(mail, config_);
  // Never the password in the outbox row or the log (the dispatcher hides
  // the address in its log lines).
  r.error = logs::redact(r.error, {config_.password});
  co_await asio::post(ex_, asio::use_awaitable);
  co_return to_send_result(r);
}

}  // namespace relance::email
