#include "bot/app/email_inbox.hpp"

#include "adapters/common/digest.hpp"

#include <spdlog/spdlog.h>

#include <future>

namespace relance::app {
namespace {

constexpr std::size_t fetch_batch = 200;  // UIDs per search: a backlog is read in rounds

}  // namespace

InboundBatch email_batch(const email::FetchedMessage& fetched, const email::ReceivedEmail& mail) {
  InboundBatch b;
  if (fetched.raw.empty()) return b;
  if (mail.kind == email::ReceivedEmail::Kind::bounce) {
    // Ours only: a bounce of staff's own mail in a shared mailbox is theirs.
    for (const auto& id : mail.bounced_ids)
      if (auto ours = email::relance_outbox_id(id))
        b.reports.push_back(DeliveryNote{"smtp", ours, "", "failed", mail.bounce_detail.empty() ? "bounce" : mail.bounce_detail});
    return b;
  }
  // A copy of one of our own messages (reply_to set to the sending address,
  // a Bcc to the mailbox): not something a learner wrote.
  if (email::relance_outbox_id(mail.message_id)) return b;

  IncomingMessage m;
  m.channel = "email";
  m.provider = "imap";
  // Without a Message-ID the bytes identify it (the same message read again
  // after a mailbox was recreated has the same bytes; its UID changed).
  m.provider_id = mail.message_id.empty() ? "sha256:" + net::sha256_hex(fetched.raw) : mail.message_id;
  m.sender = mail.from_address;
  m.text = mail.text.empty() ? mail.subject : mail.text;
  for (const auto& a : mail.attachments) m.text += (m.text.empty() ? "📎 " : "\n📎 ") + a;
  if (fetched.truncated) m.text += m.text.empty() ? "📎 …" : "\n📎 …";
  m.sent_at = mail.date;
  for (const auto& r : mail.refs)
    if (auto ours = email::relance_outbox_id(r)) {
      m.answers = ours;
      break;
    }
  m.automatic = mail.kind == email::ReceivedEmail::Kind::auto_reply;
  b.messages.push_back(std::move(m));
  return b;
}

EmailInbox::EmailInbox(email::ImapConfig config, InboundWriter& writer, std::optional<email::ImapCursor> start,
                       std::function<Timestamp()> clock)
    : session_(std::move(config)), writer_(writer), clock_(std::move(clock)), cursor_(start) {}

EmailInbox::~EmailInbox() { stop(); }

void EmailInbox::start() {
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      lk.unlock();
      poll_once();
      lk.lock();
      cv_.wait_for(lk, session_.config().poll_every, [&] { return stopping_ || poked_; });
      poked_ = false;
    }
  });
}

void EmailInbox::poke() {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

void EmailInbox::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool EmailInbox::stopping() const {
  std::lock_guard lk(mu_);
  return stopping_;
}

EmailInboxStats EmailInbox::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

std::optional<email::ImapCursor> EmailInbox::cursor() const {
  std::lock_guard lk(mu_);
  return cursor_;
}

bool EmailInbox::commit(InboundBatch batch) {
  std::promise<bool> done;
  auto stored = done.get_future();
  writer_.submit(std::move(batch), [&done](bool ok) { done.set_value(ok); });
  return stored.get();
}

void EmailInbox::report(const email::ImapError& err) {
  std::lock_guard lk(mu_);
  ++stats_.failed_polls;
  if (err.message == last_error_) return;  // said once, not every minute
  last_error_ = err.message;
  if (err.kind == email::ImapError::config)
    spdlog::error("email: cannot read the replies mailbox {}: {} (fix [email.imap]; nothing is read meanwhile)",
                  session_.config().url, err.message);
  else
    spdlog::warn("email: replies mailbox {} not reachable, trying again every {} s: {}", session_.config().url,
                 session_.config().poll_every.count(), err.message);
}

bool EmailInbox::poll_once() {
  email::ImapError err;
  const auto st = session_.status(err);
  if (!st) {
    report(err);
    return false;
  }
  std::optional<email::ImapCursor> cur;
  {
    std::lock_guard lk(mu_);
    ++stats_.polls;
    if (!last_error_.empty()) spdlog::info("email: replies mailbox {} reachable again", session_.config().url);
    last_error_.clear();
    cur = cursor_;
  }

  if (!cur || cur->uidvalidity != st->uidvalidity) {
    // Where to start: the first time, from now on (or first_read_days back);
    // a recreated mailbox, imap_reread_days back (duplicates are recognised).
    const int days = cur ? std::max(imap_reread_days, session_.config().first_read_days) : session_.config().first_read_days;
    email::ImapCursor fresh{st->uidvalidity, st->uidnext > 0 ? st->uidnext - 1 : 0};
    if (days > 0) {
      const auto today = std::chrono::floor<std::chrono::days>(clock_());
      auto since = session_.uids_since(today - std::chrono::days(days + 1), err);  // a day of margin: the server's time zone
      if (!since) {
        report(err);
        return false;
      }
      if (!since->empty()) fresh.last_uid = since->front() - 1;
    }
    if (cur)
      spdlog::warn("email: the replies mailbox was recreated (UIDVALIDITY {} -> {}): reading the last {} days again",
                   cur->uidvalidity, st->uidvalidity, days);
    else
      spdlog::info("email: reading learners' replies in {} ({})", session_.config().url,
                   days > 0 ? "from " + std::to_string(days) + " days back" : std::string("messages arriving from now on"));
    InboundBatch b;
    b.settings.emplace_back(imap_cursor_key, to_string(fresh));
    if (!commit(std::move(b))) return false;
    cur = fresh;
    std::lock_guard lk(mu_);
    cursor_ = fresh;
  }

  // UIDNEXT says whether anything arrived: most polls end here.
  if (cur->last_uid + 1 >= st->uidnext) return true;
  for (;;) {
    const auto uids = session_.uids_after(cur->last_uid, fetch_batch, err);
    if (!uids) {
      report(err);
      return false;
    }
    for (const std::uint64_t uid : *uids) {
      // Stopping: what is stored is stored with its cursor; the rest waits
      // for the next start (a backlog of thousands must not hold up a
      // shutdown for minutes).
      if (stopping()) return true;
      const auto fetched = session_.fetch(uid, cur->uidvalidity, err);
      if (!fetched) {
        report(err);
        return false;
      }
      InboundBatch b;
      if (!fetched->gone) {
        const email::ReceivedEmail mail = email::parse_received(fetched->raw);
        if (fetched->raw.empty() || !mail.problem.empty()) {
          std::lock_guard lk(mu_);
          ++stats_.unparsed;
          spdlog::warn("email: message UID {} skipped, not readable as an email: {}", uid,
                       fetched->raw.empty() ? std::string("0 bytes") : mail.problem);
        } else {
          b = email_batch(*fetched, mail);
        }
      }
      email::ImapCursor next{cur->uidvalidity, uid};
      b.settings.emplace_back(imap_cursor_key, to_string(next));
      if (!commit(std::move(b))) return false;  // the writer said why; read again next time
      cur = next;
      std::lock_guard lk(mu_);
      cursor_ = next;
      ++stats_.fetched;
      ++stats_.stored;
    }
    if (uids->size() < fetch_batch) break;
  }
  return true;
}

}  // namespace relance::app
