#include "bot/app/learner_dispatch.hpp"

#include "adapters/common/log_privacy.hpp"
#include "bot/domain/sms_text.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

namespace relance::app {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::chrono::seconds learner_retry_delay(int attempts, std::optional<milliseconds> retry_after) {
  const int n = std::clamp(attempts, 0, 7);
  seconds d = std::min(seconds(60) * (1 << n), seconds(7200));
  if (retry_after) d = std::max(d, std::chrono::ceil<seconds>(*retry_after));
  return d;
}

struct LearnerDispatcher::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, Engine& e, std::vector<LearnerChannel> ch, std::function<Timestamp()> c,
        std::function<void()> changed)
      : executor(ex), engine(e), channels(std::move(ch)), clock(std::move(c)), on_change(std::move(changed)) {
    for (std::size_t i = 0; i < channels.size(); ++i) timers.push_back(std::make_unique<asio::steady_timer>(ex));
    woken.assign(channels.size(), 0);
  }

  asio::any_io_executor executor;
  Engine& engine;
  std::vector<LearnerChannel> channels;
  std::function<Timestamp()> clock;
  std::function<void()> on_change;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  std::vector<char> woken;
  int running = 0;
  bool stopping = false;
  std::int64_t sent = 0;
  std::int64_t failed = 0;

  void changed() {
    if (on_change) on_change();
  }

  void give_up(const store::OutboxItem& item, const std::string& why, bool cancelled) {
    store::WriteTransaction tx(engine.db());
    engine.learner_message_failed(item, why, cancelled, clock());
    tx.commit();
    ++failed;
    changed();
  }

  // Sends one row (or decides not to). Returns when the row is settled or
  // rescheduled; the caller moves on to the next.
  asio::awaitable<void> deliver(std::size_t ci, store::OutboxItem item, std::chrono::steady_clock::time_point& next_slot) {
    const LearnerChannel& ch = channels[ci];
    channel::LearnerPort& port = *ch.port;
    const std::string name(port.channel());
    const channel::Capabilities caps = port.capabilities();
    const bool sms = caps.body == channel::Capabilities::Body::sms;
    store::OutboxRepo outbox(engine.db());
    store::LearnerRepo learners(engine.db());
    const Timestamp now = clock();

    // Quiet hours, Sundays, public holidays: checked again now, since the
    // row may be a retry or have waited past its planned instant.
    const auto& window = engine.config().contact_window;
    if (!window.allows(now, engine.zone())) {
      const Timestamp open = window.next_allowed(now, engine.zone());
      store::WriteTransaction tx(engine.db());
      outbox.defer(item.id, open);
      tx.commit();
      spdlog::debug("{}: message {} waits for the contact window ({})", name, item.id, format_local(open, engine.zone()));
      co_return;
    }
    if (!item.learner_key) {
      give_up(item, "no learner", true);
      co_return;
    }
    auto learner = learners.get(*item.learner_key);
    if (!learner) {
      give_up(item, "unknown learner", true);
      co_return;
    }
    if (name == "sms" && learner->sms_opt_out) {
      give_up(item, "opted out of SMS on " + format_local(*learner->sms_opt_out, engine.zone(), false), true);
      co_return;
    }
    if (item.recipient.empty()) {
      give_up(item, "no address", true);
      co_return;
    }
    if (caps.delivery_reports && item.started > item.attempts && (item.delivery == "progress" || item.delivery == "delivered")) {
      // Sent before a crash or a lost answer: the gateway's report proves it.
      store::WriteTransaction tx(engine.db());
      engine.learner_message_sent(item, item.provider.empty() ? "sms" : item.provider, item.remote_id, now);
      tx.commit();
      ++sent;
      co_return;
    }
    LearnerText text = engine.render_learner(item);
    const int max_parts = ch.max_sms_parts > 0 ? ch.max_sms_parts : caps.max_parts;
    if (sms && max_parts > 0) {
      // Accents intact when the text fits; folded to GSM-7 (François ->
      // Francois) only when UCS-2 would exceed the parts limit.
      text.sms = fit_sms(text.sms, max_parts);
      const auto len = sms_length(text.sms);
      if (len.parts > max_parts) {
        give_up(item,
                "SMS too long: " + std::to_string(len.parts) + " parts, at most " + std::to_string(max_parts) +
                    " allowed ([sms] max_parts)",
                false);
        co_return;
      }
    }

    // The channel's pace.
    if (ch.rate_per_second > 0) {
      const auto t = std::chrono::steady_clock::now();
      if (next_slot > t) {
        asio::steady_timer wait(executor, next_slot - t);
        boost::system::error_code ec;
        co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopping) co_return;
      }
      next_slot = std::max(next_slot, t) +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(1.0 / ch.rate_per_second));
    }

    // Every attempt that got an answer is counted in `attempts`: one more
    // begun than answered is a send cut short (a crash, a stop).
    if (item.started > item.attempts)
      spdlog::warn("{}: message {} was being sent when relance stopped; sending it again", name, item.id);
    {
      store::WriteTransaction tx(engine.db());
      const bool still_pending = outbox.begin_attempt(item.id);
      tx.commit();
      if (!still_pending) co_return;  // cancelled while it waited (the learner answered first)
    }
    channel::Message m{item.id, item.recipient, sms ? std::move(text.sms) : std::move(text.body)};
    if (!sms) {
      m.html = std::move(text.html);
      m.subject = std::move(text.subject);
      m.to_name = learner->display_name();
    }
    // What the log must not show of this message (logs::redact), kept before it goes.
    const std::string sent_text = m.text, sent_subject = m.subject, sent_name = m.to_name;
    const channel::SendResult r = co_await port.send(std::move(m));
    if (stopping && r.status == channel::SendResult::retry) co_return;
    const Timestamp after = clock();
    const std::string provider(port.provider());
    if (r.status == channel::SendResult::sent) {
      store::WriteTransaction tx(engine.db());
      engine.learner_message_sent(item, provider, r.remote_id, after);
      tx.commit();
      ++sent;
      spdlog::info("{}: message {} sent via {}", name, item.id, provider);
      co_return;
    }
    if (r.status == channel::SendResult::failed || item.attempts + 1 >= ch.max_attempts) {
      const std::string why = r.status == channel::SendResult::failed
                                  ? r.error
                                  : "gave up after " + std::to_string(item.attempts + 1) + " attempts: " + r.error;
      spdlog::error("{}: message {} not sent: {}", name, item.id,
                    logs::redact(why, {}, {item.recipient, sent_text, sent_subject, sent_name}));
      store::WriteTransaction tx(engine.db());
      engine.learner_message_failed(item, why, false, after);
      if (r.recipient_opted_out && name == "sms" && !learner->sms_opt_out)
        engine.record_sms_consent(learner->key, true, "provider", r.error, after);
      tx.commit();
      ++failed;
      changed();
      co_return;
    }
    const auto delay = learner_retry_delay(item.attempts, r.retry_after);
    spdlog::warn("{}: message {} not sent ({}); next attempt in {} s", name, item.id,
                 logs::redact(r.error, {}, {item.recipient, sent_text, sent_subject, sent_name}), delay.count());
    store::WriteTransaction tx(engine.db());
    outbox.mark_retry(item.id, after + delay, r.error);
    tx.commit();
  }

  asio::awaitable<void> run(std::size_t ci) {
    auto self = shared_from_this();
    const std::string name(channels[ci].port->channel());
    auto next_slot = std::chrono::steady_clock::now();
    while (!stopping) {
      woken[ci] = 0;
      std::optional<Timestamp> next;
      bool progressed = false;
      try {
        store::OutboxRepo outbox(engine.db());
        const auto items = outbox.ready(name, clock(), 50);
        for (auto& item : items) {
          if (stopping) break;
          co_await deliver(ci, item, next_slot);
          progressed = true;
        }
        next = outbox.next_ready(name);
      } catch (const std::exception& e) {
        spdlog::error("{}: dispatcher pass failed: {}; retrying in 30 s", name, e.what());
        next = clock() + seconds(30);
        progressed = false;
      }
      if (stopping) break;
      if (progressed || woken[ci]) continue;
      auto wait = std::chrono::steady_clock::duration(std::chrono::hours(1));
      if (next) wait = std::clamp<std::chrono::steady_clock::duration>(*next - clock(), milliseconds(200), std::chrono::hours(1));
      timers[ci]->expires_after(wait);
      boost::system::error_code ec;
      co_await timers[ci]->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    --running;
  }
};

LearnerDispatcher::LearnerDispatcher(asio::any_io_executor ex, Engine& engine, std::vector<LearnerChannel> channels,
                                     std::function<Timestamp()> clock, std::function<void()> on_change)
    : state_(std::make_shared<State>(ex, engine, std::move(channels), std::move(clock), std::move(on_change))) {}

LearnerDispatcher::~LearnerDispatcher() { stop(); }

void LearnerDispatcher::start() {
  if (state_->running) return;
  state_->stopping = false;
  for (std::size_t i = 0; i < state_->channels.size(); ++i) {
    ++state_->running;
    asio::co_spawn(state_->executor, state_->run(i), asio::detached);
  }
}

void LearnerDispatcher::stop() {
  state_->stopping = true;
  for (auto& t : state_->timers) t->cancel();
}

void LearnerDispatcher::wake() {
  for (std::size_t i = 0; i < state_->timers.size(); ++i) {
    state_->woken[i] = 1;
    state_->timers[i]->cancel();
  }
}

std::int64_t LearnerDispatcher::sent() const { return state_->sent; }
std::int64_t LearnerDispatcher::failed() const { return state_->failed; }

}  // namespace relance::app
