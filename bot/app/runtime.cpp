#include "bot/app/runtime.hpp"

#include "adapters/common/pacer.hpp"
#include "adapters/console/console.hpp"
#include "adapters/email/smtp_port.hpp"
#include "adapters/matrix/matrix_direct.hpp"
#include "adapters/matrix/matrix_sender.hpp"
#include "adapters/matrix/matrix_session.hpp"
#include "adapters/matrix/matrix_sync.hpp"
#include "adapters/mattermost/mattermost_hooks.hpp"
#include "adapters/mattermost/mattermost_listener.hpp"
#include "adapters/mattermost/mattermost_sender.hpp"
#include "bot/app/chat_dispatch.hpp"
#include "bot/app/moodle_apply.hpp"
#include "adapters/lms/moodle/moodle_poller.hpp"
#include "bot/app/http_server.hpp"
#include "bot/app/email_inbox.hpp"
#include "bot/app/inbound.hpp"
#include "bot/app/learner_dispatch.hpp"
#include "bot/app/routing.hpp"
#include "bot/app/scheduler.hpp"
#include "store/checkpointer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>

namespace relance::app {

namespace asio = boost::asio;

Timestamp system_now() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

std::string_view demo_config_text() {
  static const char text[] =
#include "demo_config.inc"
      ;
  return std::string_view(text, sizeof text - 1);
}

int run_service(Engine& engine, const RunOptions& opts, std::istream& in, std::ostream& out) {
  asio::io_context io(1);
  // WAL checkpoints (and their fsyncs) on a thread of their own, not inside
  // whichever commit of the I/O thread happens to cross the threshold.
  store::Checkpointer checkpointer(engine.db(), std::chrono::seconds(1));
  auto clock = opts.clock ? opts.clock : system_now;
  const auto& lang = engine.config().default_language;

  std::unique_ptr<console::ConsoleChannel> con;
  if (opts.console)
    con = std::make_unique<console::ConsoleChannel>(in, out, engine.catalog().render(lang, "console.prompt"));
  Scheduler scheduler(io, engine, clock, con.get());

  std::unique_ptr<HttpServer> http;
  if (opts.http) {
    http = std::make_unique<HttpServer>(io, engine, clock, [&] { scheduler.poke(); });
    http->start();
    spdlog::info("http: listening on {}:{}", engine.config().http.listen_address, http->port());
  }

  // Moodle web services, on the same thread as everything else.
  std::unique_ptr<net::HttpClient> moodle_http;
  std::unique_ptr<moodle::MoodlePoller> poller;
  const auto& mc = engine.config().moodle;
  if (opts.moodle && mc.enabled && !mc.courses.empty()) {
    net::ClientOptions co;
    if (!mc.ca_file.empty()) co.ca_files.push_back(mc.ca_file);
    moodle_http = std::make_unique<net::HttpClient>(io.get_executor(), co);
    poller = std::make_unique<moodle::MoodlePoller>(io.get_executor(), *moodle_http, mc, moodle_apply(engine), clock,
                                                    [&] { scheduler.poke(); });
    poller->start();
    spdlog::info("moodle: polling {} course(s) every {} min", mc.courses.size(), mc.interval.count());
  }

  // ----- one way in for learners: every learner message (SMS and delivery
  // reports from webhooks, email replies, Matrix direct rooms) is stored by
  // one writer thread in grouped commits, and answered once on disk -----
  const auto& smsc = engine.config().sms;
  const auto& emc = engine.config().email;
  const bool sms_hooks = opts.learner_channels && smsc.enabled() && http;
  const bool reads_email = opts.learner_channels && emc.reads_replies();
  const bool matrix_rooms = opts.chat && engine.config().matrix.enabled;  // learners' direct rooms
  std::function<void()> on_inbound;  // wakes the dispatchers; set once they exist
  std::unique_ptr<InboundWriter> inbound;
  if (sms_hooks || reads_email || matrix_rooms)
    inbound = std::make_unique<InboundWriter>(engine.config(), engine.zone(), engine.catalog(), engine.db().path(), clock,
                                              [&io, &on_inbound] { asio::post(io, [&on_inbound] { if (on_inbound) on_inbound(); }); });

  // ----- staff chat: a dispatcher per network, its listener, its hooks -----
  std::vector<ChatDispatcher*> dispatchers;
  auto after_command = [&](std::optional<std::int64_t> case_id, std::optional<chat::Network> already_updated) {
    for (auto* d : dispatchers) {
      d->wake();
      if (case_id && d->network() != already_updated) d->refresh_alert(*case_id);
    }
    if (con) scheduler.deliver_staff(clock());
  };
  const chat::Hooks hooks = make_chat_hooks(engine, clock, after_command, inbound.get());
  const auto& mmc = engine.config().mattermost;
  std::unique_ptr<net::HttpClient> mm_http;
  std::unique_ptr<net::Pacer> mm_pacer;
  std::unique_ptr<mattermost::MattermostSender> mm_sender;
  std::unique_ptr<ChatDispatcher> mm_dispatch;
  std::unique_ptr<mattermost::MattermostListener> mm_listener;
  std::unique_ptr<mattermost::MattermostHooks> mm_hooks;
  if (opts.chat && mmc.enabled) {
    if (mmc.bot_token.empty())
      throw std::runtime_error("mattermost: no bot token: set [mattermost] bot_token or RELANCE_MATTERMOST_TOKEN");
    net::ClientOptions co;
    if (!mmc.ca_file.empty()) co.ca_files.push_back(mmc.ca_file);
    mm_http = std::make_unique<net::HttpClient>(io.get_executor(), co);
    mm_pacer = std::make_unique<net::Pacer>(io.get_executor());
    mm_sender = std::make_unique<mattermost::MattermostSender>(io.get_executor(), *mm_http, *mm_pacer, mmc, hooks);
    mm_dispatch = std::make_unique<ChatDispatcher>(io.get_executor(), engine, *mm_sender, clock);
    dispatchers.push_back(mm_dispatch.get());
    mattermost::ListenerOptions lo;
    lo.websocket = co;
    mm_listener = std::make_unique<mattermost::MattermostListener>(io.get_executor(), *mm_http, *mm_pacer, mmc, hooks, lo);
    mm_hooks = std::make_unique<mattermost::MattermostHooks>(mmc, hooks);
    if (http) {
      http->add_hook(std::string(mattermost::action_path), [&](const HookRequest& r) {
        auto out = mm_hooks->handle_action(r.body);
        return HookResponse{out.status, "application/json", std::move(out.json)};
      });
      http->add_hook(std::string(mattermost::command_path), [&](const HookRequest& r) {
        auto out = mm_hooks->handle_command(r.header("Authorization"), r.body);
        return HookResponse{out.status, "application/json", std::move(out.json)};
      });
    } else if (!mmc.public_url.empty()) {
      spdlog::warn("mattermost: public_url is set but the HTTP server is off: buttons and the slash command cannot reach relance");
    }
    mm_dispatch->start();
    asio::co_spawn(io, mm_listener->run(), asio::detached);
    spdlog::info("mattermost: posting to {} (buttons {})", mmc.url, mmc.public_url.empty() ? "off: no public_url" : "on");
  }

  const auto& mxc = engine.config().matrix;
  std::shared_ptr<matrix::MatrixSession> mx_session;
  std::unique_ptr<matrix::MatrixSender> mx_sender;
  std::unique_ptr<ChatDispatcher> mx_dispatch;
  std::unique_ptr<matrix::MatrixSync> mx_sync;
  if (opts.chat && mxc.enabled) {
    if (mxc.access_token.empty() && mxc.password.empty())
      throw std::runtime_error("matrix: no credentials: set [matrix] access_token (RELANCE_MATRIX_TOKEN) or password (RELANCE_MATRIX_PASSWORD)");
    matrix::MatrixOptions mo;
    if (!mxc.ca_file.empty()) mo.http.ca_files.push_back(mxc.ca_file);
    app::MatrixConfig cfg = mxc;
    for (const auto& t : routed_targets(engine.config(), "matrix"))
      if (std::find(cfg.allowed_rooms.begin(), cfg.allowed_rooms.end(), t) == cfg.allowed_rooms.end()) cfg.allowed_rooms.push_back(t);
    mx_session = std::make_shared<matrix::MatrixSession>(io.get_executor(), cfg, hooks, mo);
    mx_sender = std::make_unique<matrix::MatrixSender>(mx_session);
    mx_dispatch = std::make_unique<ChatDispatcher>(io.get_executor(), engine, *mx_sender, clock);
    dispatchers.push_back(mx_dispatch.get());
    mx_sync = std::make_unique<matrix::MatrixSync>(mx_session);
    mx_dispatch->start();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const std::string problem = co_await mx_sync->async_run();
          if (!problem.empty()) spdlog::critical("matrix: stopped: {}", problem);
        },
        asio::detached);
    spdlog::info("matrix: {} on {}", mxc.user_id, mxc.homeserver);
  }

  // ----- learner channels: SMS gateway, SMTP, the inbound writer -----
  // Each is a channel::LearnerPort (adapters/channel); one line wires it in.
  std::vector<LearnerDispatcher*> learner_dispatchers;
  std::unique_ptr<net::HttpClient> sms_http;
  std::unique_ptr<sms::Gateway> sms_gateway;
  std::unique_ptr<email::SmtpPort> smtp;
  std::unique_ptr<matrix::DirectPort> mx_direct;
  std::vector<LearnerChannel> learner_channels;
  if (opts.learner_channels && smsc.enabled()) {
    sms_http = std::make_unique<net::HttpClient>(io.get_executor());
    if (smsc.gateway == "kannel") sms_gateway = std::make_unique<sms::kannel::KannelGateway>(*sms_http, smsc.kannel);
    else if (smsc.gateway == "twilio") sms_gateway = std::make_unique<sms::twilio::TwilioGateway>(*sms_http, smsc.twilio);
    else sms_gateway = std::make_unique<sms::http::HttpGateway>(*sms_http, smsc.http);
    learner_channels.push_back({sms_gateway.get(), smsc.rate_per_second, smsc.max_parts});
    spdlog::info("sms: sending through {} (at most {} part(s), {}/s)", smsc.gateway, smsc.max_parts, smsc.rate_per_second);
  }
  if (opts.learner_channels && emc.enabled) {
    // libcurl's SMTP client blocks: the port sends on a thread of its own.
    smtp = std::make_unique<email::SmtpPort>(io.get_executor(), emc.smtp, emc.reply_to);
    learner_channels.push_back({smtp.get(), emc.rate_per_second});
    spdlog::info("email: sending through {}", emc.smtp.url);
  }
  if (opts.learner_channels && mx_session && mxc.learners) {
    // Learners with a Matrix id: a direct room with the bot (same session as
    // the staff rooms), created once and remembered.
    mx_direct = std::make_unique<matrix::DirectPort>(mx_session);
    learner_channels.push_back({mx_direct.get(), 2});
    spdlog::info("matrix: learners with a Matrix id get their messages in a direct room");
  }
  for (const auto& ch : learner_channels) scheduler.live_channels.emplace_back(ch.port->channel());
  std::unique_ptr<LearnerDispatcher> learner_dispatch;
  auto wake_all = [&] {
    for (auto* d : dispatchers) d->wake();
    for (auto* d : learner_dispatchers) d->wake();
    if (con) scheduler.deliver_staff(clock());
  };
  if (!learner_channels.empty()) {
    learner_dispatch = std::make_unique<LearnerDispatcher>(io.get_executor(), engine, std::move(learner_channels), clock,
                                                           [&] { asio::post(io, [&] { for (auto* d : dispatchers) d->wake(); }); });
    learner_dispatchers.push_back(learner_dispatch.get());
    learner_dispatch->start();
  }
  scheduler.after_pass = [&] {
    for (auto* d : dispatchers) d->wake();
    for (auto* d : learner_dispatchers) d->wake();
  };

  on_inbound = wake_all;
  if (sms_hooks) {
    using Check = std::function<std::optional<sms::HookOutcome>(const sms::Request&)>;
    auto hook = [&](std::string_view path, std::string provider, std::function<sms::HookOutcome(const sms::Request&)> parse,
                    Check before_body) {
      // The caller's secret, where it is in the URL or a header, is checked
      // before the body is read (a forged request never has it held).
      HookGuard guard = [before_body = std::move(before_body), path = std::string(path)](const HookRequest& head) -> std::optional<HookResponse> {
        auto refused = before_body(head);
        if (!refused) return std::nullopt;
        spdlog::warn("sms: {} refused ({}): {}", path, refused->status, refused->error);
        return HookResponse{refused->status, refused->content_type, std::move(refused->body)};
      };
      http->add_async_hook(std::string(path), [&inbound, provider, parse = std::move(parse), path = std::string(path)](
                                                  HookRequest r, std::function<void(HookResponse)> respond) {
        sms::HookOutcome o = parse(r);
        if (o.status < 200 || o.status >= 300) {
          spdlog::warn("sms: {} refused ({}): {}", path, o.status, o.error);
          respond(HookResponse{o.status, o.content_type, std::move(o.body)});
          return;
        }
        InboundBatch b;
        for (auto& m : o.messages)
          b.messages.push_back(IncomingMessage{"sms", provider, std::move(m.provider_id), std::move(m.from), std::move(m.text), m.sent_at,
                                               std::nullopt, false});
        for (auto& d : o.reports)
          b.reports.push_back(DeliveryNote{provider, d.outbox_id, std::move(d.remote_id), std::string(sms::to_string(d.state)), std::move(d.detail)});
        HookResponse ok{o.status, o.content_type, std::move(o.body)};
        if (b.messages.empty() && b.reports.empty()) {
          respond(std::move(ok));
          return;
        }
        inbound->submit(std::move(b), [respond, ok = std::move(ok)](bool stored) {
          respond(stored ? ok : HookResponse{500, "text/plain; charset=utf-8", "not stored, send it again\n"});
        });
      }, std::move(guard));
    };
    if (smsc.gateway == "kannel") {
      const Check kannel_secret = [&](const sms::Request& h) { return sms::kannel::refusal_before_body(h, smsc.kannel); };
      hook(sms::kannel::inbound_path, "kannel", [&](const sms::Request& r) { return sms::kannel::parse_mo(r, smsc.kannel); },
           kannel_secret);
      hook(sms::kannel::dlr_path, "kannel", [&](const sms::Request& r) { return sms::kannel::parse_dlr(r, smsc.kannel); },
           kannel_secret);
    } else if (smsc.gateway == "twilio") {
      hook(sms::twilio::inbound_path, "twilio", [&](const sms::Request& r) { return sms::twilio::parse_inbound(r, smsc.twilio); },
           [&](const sms::Request& h) { return sms::twilio::refusal_before_body(h, smsc.twilio.webhook_url); });
      hook(sms::twilio::status_path, "twilio", [&](const sms::Request& r) { return sms::twilio::parse_status(r, smsc.twilio); },
           [&](const sms::Request& h) { return sms::twilio::refusal_before_body(h, smsc.twilio.status_callback_url); });
    } else {
      hook(sms::http::inbound_path, "http", [&](const sms::Request& r) { return sms::http::parse_inbound(r, smsc.http); },
           [&](const sms::Request& h) { return sms::http::refusal_before_body(h, smsc.http); });
    }
  }

  // Learners' email replies: the mailbox [email] reply_to delivers to,
  // polled on a thread of its own (libcurl blocks), stored by the writer.
  std::unique_ptr<EmailInbox> email_inbox;
  if (reads_email) {
    std::optional<email::ImapCursor> start;
    if (auto saved = store::kv_get(engine.db(), imap_cursor_key)) start = email::parse_cursor(*saved);
    email_inbox = std::make_unique<EmailInbox>(emc.imap, *inbound, start, clock);
    email_inbox->start();
  }

  int exit_code = 0;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    io.stop();
  });

  if (con) {
    const std::string& staff_id = engine.config().console_staff;
    const StaffMember* staff = engine.config().find_staff(staff_id);
    con->show(engine.catalog().render(lang, "console.banner", {{"staff", staff ? staff->name + " (" + staff->id + ")" : staff_id}}));
    con->start([&io](std::function<void()> f) { asio::post(io, std::move(f)); },
               [&](std::string line) {
                 if (console::is_quit(line)) {
                   con->show(engine.catalog().render(lang, "console.bye"));
                   io.stop();
                   return;
                 }
                 if (line.find_first_not_of(" \t") == std::string::npos) {
                   con->prompt();
                   return;
                 }
                 const Timestamp now = clock();
                 Reply r = engine.handle_command(staff_id, line, now);
                 con->show(r.text);
                 // A staff command can only end a case or push its next step
                 // later, never earlier: no detection pass is needed, just
                 // show what it posted.
                 scheduler.deliver_staff(now);
               },
               [&] { io.stop(); });
  }

  scheduler.start();
  if (opts.on_ready) asio::post(io, [&] { opts.on_ready(io, http ? http->port() : 0); });
  try {
    io.run();
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    exit_code = 1;
  }
  if (poller) poller->stop();
  if (mm_listener) mm_listener->stop();
  if (mx_sync) mx_sync->stop();
  for (auto* d : dispatchers) d->stop();
  for (auto* d : learner_dispatchers) d->stop();
  if (http) http->stop();
  if (email_inbox) {
    email_inbox->stop();
    const auto st = email_inbox->stats();
    spdlog::info("email: {} poll(s) of the replies mailbox ({} failed), {} message(s) read, {} unreadable", st.polls,
                 st.failed_polls, st.fetched, st.unparsed);
  }
  email_inbox.reset();
  // Requests still in the writer are finished (and answered into the void:
  // their connections are gone, so their providers will send them again).
  if (inbound) {
    const auto st = inbound->stats();
    spdlog::info("inbound: {} request(s) stored in {} commit(s) (largest group {}), {} new message(s), {} duplicate(s), "
                 "{} delivery report(s), {} email(s) not for relance, {} refused for a storage error",
                 st.requests, st.commits, st.largest_group, st.messages, st.duplicates, st.reports, st.not_ours, st.failed);
  }
  inbound.reset();
  if (smtp) smtp->join();
  return exit_code;
}

}  // namespace relance::app
