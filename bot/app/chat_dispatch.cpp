#include "bot/app/chat_dispatch.hpp"
#include "bot/app/inbound.hpp"

#include "adapters/common/log_privacy.hpp"
#include "messages/render/staff.hpp"
#include "adapters/common/retry.hpp"
#include "bot/app/routing.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace relance::app {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

std::string channel_of(chat::Network n) { return "staff." + std::string(chat::to_string(n)); }

// An outbox row holding a command's answer, already rendered from messages/
// when the command ran (params: text, _thread_root, _reply_to).
constexpr std::string_view answer_template = "chat.answer";

// Someone is waiting in the chat for these (a command's answer, a claim's
// confirmation): they go before bulk posts (alerts, thread notes, digests),
// which keep their own order. Under Synapse's stock rate limit (0.2
// messages/s) a backlog of 40 alerts would otherwise hold an answer 3 min.
bool urgent(const store::OutboxItem& item) { return item.template_key == answer_template; }

std::string param(const Params& p, const char* key) {
  auto it = p.find(key);
  return it == p.end() ? std::string{} : it->second;
}

// How a staff command is typed on this network, as the texts show it ({cmd}).
std::string command_prefix(Engine& engine, chat::Network network) {
  if (network == chat::Network::matrix) return engine.config().matrix.command_prefix + " ";
  // Mattermost: the slash command when it is set up, else a mention of the
  // bot (its username as the listener last saw it).
  if (!engine.config().mattermost.command_token.empty()) return "/relance ";
  if (auto name = store::kv_get(engine.db(), std::string(chat::mattermost_bot_username_key)); name && !name->empty())
    return "@" + *name + " ";
  return "/relance ";
}

// A mention of who asked ({asker}): a Mattermost @username, a Matrix user id
// (clients highlight their user's id in a message).
std::string asker_mention(chat::Network network, std::string_view user) {
  if (user.empty()) return {};
  return (network == chat::Network::mattermost ? "@" : "") + std::string(user) + " ";
}

// The post for one outbox row: text rendered once, escaped per format.
chat::Post make_post(Engine& engine, chat::Network network, const store::OutboxItem& item) {
  const Params params = params_from_json(item.params_json);
  chat::Post post;
  post.outbox_id = item.id;
  post.destination = item.recipient;
  post.case_id = item.case_id;
  if (item.case_id) {
    store::ChatThreadRepo threads(engine.db());
    if (auto root = threads.root(chat::to_string(network), item.recipient, *item.case_id)) post.thread_root = *root;
  }
  if (urgent(item)) {
    post.thread_root = param(params, "_thread_root");
    post.reply_to = param(params, "_reply_to");
  }
  // An answer was rendered (and styled for its network) when the command ran.
  const std::string text = urgent(item) ? param(params, "text") : engine.render_outbox(item, chat_style(engine, network));
  post.markdown = render::escape_markdown(text);
  post.plain = render::escape_plain(text);
  post.html = render::escape_html(text);
  auto role = params.find("_role");
  if (params.count("_mention") && role != params.end())
    post.mentions = mention_handles(engine.config(), chat::to_string(network), role->second);
  // An alert starts the case's thread in its room; in a room that already
  // has the thread (an escalation back to a room), it is a reply there.
  post.alert = params.count("_alert") && post.thread_root.empty();
  post.maybe_sent = item.started > 0;
  return post;
}

}  // namespace

messages::FillStyle chat_style(Engine& engine, chat::Network network, std::string_view asker) {
  messages::FillStyle style;
  style.mark_values = true;
  style.literals[std::string(messages::command_prefix_param)] = command_prefix(engine, network);
  style.literals[std::string(messages::asker_param)] = asker_mention(network, asker);
  return style;
}

struct ChatDispatcher::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, Engine& e, chat::Sender& s, std::function<Timestamp()> c)
      : executor(ex), engine(e), sender(s), clock(std::move(c)), timer(ex), rng(std::random_device{}()) {}

  // What became of one row's turn.
  enum class Turn {
    done,         // sent, or given up (its room's queue goes on)
    later,        // its room waits (backoff, or the server's Retry-After)
    unreachable,  // the server is down: every room waits, the server is probed
    preempted,    // woken while waiting on a rate limit: the pass starts again (an answer may go first)
  };

  asio::any_io_executor executor;
  Engine& engine;
  chat::Sender& sender;
  std::function<Timestamp()> clock;
  asio::steady_timer timer;
  std::minstd_rand rng;
  bool running = false;
  bool stopping = false;
  bool woken = false;
  std::int64_t sent = 0;
  std::int64_t failed = 0;
  // The outage in progress: logged once when it starts, once when a post
  // goes out again. Between, the server is probed (Sender::probe), not sent to.
  std::optional<std::chrono::steady_clock::time_point> outage_since;
  milliseconds probe_interval{0};

  // How often a room that could not take posts (encrypted) is tried again.
  static constexpr std::chrono::minutes room_recheck{30};
  static constexpr milliseconds probe_first{250};
  static constexpr milliseconds probe_cap{1500};

  std::string channel() const { return channel_of(sender.network()); }
  std::string_view network() const { return chat::to_string(sender.network()); }

  // Waits `d` unless stop() or wake() cut it short; true when woken.
  asio::awaitable<bool> pause(std::chrono::steady_clock::duration d) {
    if (woken || stopping) co_return woken;
    timer.expires_after(d);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return woken;
  }

  void outage_over() {
    if (!outage_since) return;
    const auto took = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - *outage_since);
    spdlog::info("{}: the server answers again after {} s; the waiting posts are going out", network(), took.count());
    outage_since.reset();
  }

  asio::awaitable<Turn> deliver(store::OutboxItem item) {
    store::OutboxRepo outbox(engine.db());
    const chat::Network net = sender.network();
    // Transient trouble with a short wait asked (a 429) is retried here, in
    // order; anything longer goes back to the outbox with its next attempt.
    for (int round = 0; round < 5 && !stopping; ++round) {
      chat::Post post = make_post(engine, net, item);
      {
        store::WriteTransaction tx(engine.db());
        outbox.begin_attempt(item.id);
        tx.commit();
      }
      ++item.started;
      chat::SendResult r = co_await sender.send(post);
      if (stopping) co_return Turn::later;
      const Timestamp now = clock();
      if (r.status == chat::SendResult::Status::sent) {
        store::WriteTransaction tx(engine.db());
        outbox.mark_sent(item.id, now, r.remote_id);
        if (item.case_id && post.thread_root.empty()) {
          store::ChatThreadRepo threads(engine.db());
          threads.record({std::string(chat::to_string(net)), item.recipient, *item.case_id, r.remote_id, item.id, now});
        }
        tx.commit();
        ++sent;
        outage_over();
        co_return Turn::done;
      }
      if (r.status == chat::SendResult::Status::failed) {
        spdlog::error("{}: post {} to {} refused: {}", network(), item.id, item.recipient, r.error);
        store::WriteTransaction tx(engine.db());
        outbox.mark_failed(item.id, r.error);
        tx.commit();
        ++failed;
        outage_over();
        co_return Turn::done;  // the room's queue goes on: this post cannot be sent as is
      }
      if (r.room_unusable) {
        // Pending, not failed: nothing is lost, and it goes out once the
        // room can take it (looked at again now and then). Staff are told
        // elsewhere which cases wait there.
        store::WriteTransaction tx(engine.db());
        outbox.mark_retry(item.id, now + room_recheck, r.error);
        tell_room_unusable(item.recipient, r.error, now);
        tx.commit();
        outage_over();
        co_return Turn::later;
      }
      if (r.unreachable) {
        // Not this post's fault: the row keeps its place (due now), and the
        // whole network waits for the server to answer a probe.
        store::WriteTransaction tx(engine.db());
        outbox.mark_retry(item.id, now, r.error);
        tx.commit();
        if (!outage_since) {
          outage_since = std::chrono::steady_clock::now();
          probe_interval = probe_first;
          spdlog::warn("{}: the server does not answer ({}); posts wait until it does", network(),
                       r.error);
        }
        co_return Turn::unreachable;
      }
      outage_over();
      if (r.retry_after && *r.retry_after <= milliseconds(10000)) {
        const bool woke = co_await pause(*r.retry_after);
        if (woke) co_return Turn::preempted;
        continue;
      }
      const auto delay = r.retry_after ? *r.retry_after
                                       : net::backoff_delay(item.attempts, milliseconds(2000), milliseconds(600000),
                                                            std::uniform_real_distribution<double>(0, 1)(rng));
      spdlog::warn("{}: post {} to {} not sent ({}); next attempt in {} s", network(), item.id, item.recipient, r.error,
                   std::chrono::duration_cast<std::chrono::seconds>(delay).count());
      store::WriteTransaction tx(engine.db());
      outbox.mark_retry(item.id, now + std::chrono::ceil<std::chrono::seconds>(delay), r.error);
      tx.commit();
      co_return Turn::later;
    }
    co_return Turn::later;
  }

  // A room that cannot take posts (an encrypted Matrix room): one notice in
  // another staff room (this network's default or routed rooms, else the
  // other network's, else the console) naming the cases waiting for it,
  // posted again only when that list changes.
  void tell_room_unusable(const std::string& room, const std::string& why, Timestamp now) {
    store::OutboxRepo outbox(engine.db());
    std::set<std::int64_t> cases;
    for (const auto& row : outbox.pending_in_order(channel(), 100000))
      if (row.recipient == room && row.case_id) cases.insert(*row.case_id);
    std::string list;
    for (auto id : cases) list += (list.empty() ? "#" : ", #") + std::to_string(id);
    if (list.empty()) return;  // nothing of a case waits there (an answer, a notice)
    const Config& cfg = engine.config();
    std::vector<std::pair<std::string, std::string>> where;  // (channel, recipient)
    auto add = [&](std::string_view net, const std::string& target) {
      if (!target.empty() && target != room) where.emplace_back("staff." + std::string(net), target);
    };
    for (std::string_view net : {network(), std::string_view(network() == "matrix" ? "mattermost" : "matrix")}) {
      const bool on = net == "matrix" ? cfg.matrix.enabled : cfg.mattermost.enabled;
      if (!on) continue;
      add(net, net == "matrix" ? cfg.matrix.default_room : cfg.mattermost.default_channel);
      for (const auto& t : routed_targets(cfg, net)) add(net, t);
    }
    if (where.empty()) where.emplace_back("staff", "");  // the console
    store::OutboxItem n;
    n.created_at = now;
    n.channel = where.front().first;
    n.recipient = where.front().second;
    n.template_key = "matrix.e2ee_waiting";
    n.params_json = nlohmann::json{{"room", room}, {"cases", list}}.dump();
    n.dedupe_key = "room_unusable:" + std::string(network()) + ":" + room + ":" + list;
    n.not_before = now;
    if (outbox.enqueue(n))
      spdlog::warn("{}: room {} cannot take posts ({}); cases waiting for it: {}; staff told in {}", network(), room, why,
                   list, n.recipient.empty() ? std::string("the console") : n.recipient);
  }

  // Until the server answers a probe: short first intervals (a restart is
  // over in seconds), then at most probe_cap, so posts go out within about
  // that long once it is back, whatever the outage lasted.
  asio::awaitable<void> wait_for_server() {
    bool back = false;
    while (!stopping && !back) {
      woken = false;  // new rows change nothing while the server is away
      const milliseconds interval = probe_interval;
      probe_interval = std::min(interval * 2, milliseconds(probe_cap));
      co_await pause(interval);
      if (stopping) break;
      const bool answered = co_await sender.probe();
      back = answered;
    }
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    store::OutboxRepo outbox(engine.db());
    while (!stopping) {
      woken = false;
      std::optional<Timestamp> next;
      bool progressed = false;
      bool unreachable = false;
      try {
        const Timestamp now = clock();
        auto rows = outbox.pending_in_order(channel(), 1000);
        std::stable_partition(rows.begin(), rows.end(), urgent);
        // A room's answers and its bulk posts are two queues: an alert
        // waiting on a backoff does not hold an answer back.
        std::set<std::pair<std::string, bool>> blocked;
        for (auto& item : rows) {
          if (stopping || woken) break;  // new rows (an answer) may have to go first: look again
          const std::pair<std::string, bool> queue{item.recipient, urgent(item)};
          if (blocked.count(queue)) continue;
          if (item.next_attempt > now || item.not_before > now) {
            blocked.insert(queue);
            const Timestamp at = std::max(item.next_attempt, item.not_before);
            if (!next || at < *next) next = at;
            continue;
          }
          const Turn turn = co_await deliver(item);
          if (turn == Turn::done) {
            progressed = true;
          } else if (turn == Turn::unreachable) {
            unreachable = true;
            break;
          } else if (turn == Turn::later) {
            blocked.insert(queue);
            if (auto again = outbox.get(item.id); again && again->status == "pending")
              if (!next || again->next_attempt < *next) next = again->next_attempt;
          }
        }
      } catch (const std::exception& e) {
        spdlog::error("{}: dispatcher pass failed: {}; retrying in 30 s", channel(), e.what());
        next = clock() + std::chrono::seconds(30);
      }
      if (stopping) break;
      if (unreachable) {
        co_await wait_for_server();
        continue;
      }
      if (progressed || woken) continue;  // more may be waiting behind what was sent
      auto wait = std::chrono::steady_clock::duration(std::chrono::hours(1));
      if (next) wait = std::max<std::chrono::steady_clock::duration>(*next - clock(), std::chrono::milliseconds(200));
      co_await pause(wait);
    }
    running = false;
  }
};

ChatDispatcher::ChatDispatcher(asio::any_io_executor ex, Engine& engine, chat::Sender& sender,
                               std::function<Timestamp()> clock)
    : state_(std::make_shared<State>(ex, engine, sender, std::move(clock))) {}

ChatDispatcher::~ChatDispatcher() { stop(); }

void ChatDispatcher::start() {
  if (state_->running) return;
  state_->running = true;
  state_->stopping = false;
  asio::co_spawn(state_->executor, state_->run(), asio::detached);
}

void ChatDispatcher::stop() {
  state_->stopping = true;
  state_->timer.cancel();
}

void ChatDispatcher::wake() {
  state_->woken = true;
  state_->timer.cancel();
}

chat::Network ChatDispatcher::network() const { return state_->sender.network(); }

std::int64_t ChatDispatcher::sent() const { return state_->sent; }
std::int64_t ChatDispatcher::failed() const { return state_->failed; }

void ChatDispatcher::refresh_alert(std::int64_t case_id) {
  auto edit = alert_status(state_->engine, state_->sender.network(), case_id);
  if (!edit) return;
  asio::co_spawn(
      state_->executor,
      [s = state_, e = std::move(*edit)]() mutable -> asio::awaitable<void> {
        auto r = co_await s->sender.edit(std::move(e));
        if (r.status != chat::SendResult::Status::sent)
          spdlog::warn("{}: alert not refreshed: {}", chat::to_string(s->sender.network()), r.error);
      },
      asio::detached);
}

// ------------------------------------------------------------------ hooks

std::optional<chat::Edit> alert_status(Engine& engine, chat::Network network, std::int64_t case_id) {
  store::ChatThreadRepo threads(engine.db());
  store::CaseRepo cases(engine.db());
  store::OutboxRepo outbox(engine.db());
  auto c = cases.get(case_id);
  if (!c) return std::nullopt;
  for (const auto& t : threads.for_case(case_id)) {
    if (t.network != chat::to_string(network)) continue;
    auto root = outbox.get(t.root_outbox_id);
    if (!root) continue;
    const auto& cat = engine.catalog();
    const auto& lang = engine.config().default_language;
    const auto style = chat_style(engine, network);
    const std::string state_label = cat.render(lang, "state." + std::string(to_string(c->state)));
    std::string status;
    if (!is_active(c->state)) status = cat.render(lang, "alert.status_closed", {{"state_label", state_label}}, style);
    else if (!c->assignee.empty()) {
      const StaffMember* s = engine.config().find_staff(c->assignee);
      status = cat.render(lang, "alert.status_held", {{"holder", s ? s->name : c->assignee}, {"state_label", state_label}},
                          style);
    } else status = cat.render(lang, "alert.status_open", {}, style);
    const std::string text = engine.render_outbox(*root, style) + "\n" + status;
    chat::Edit e;
    e.destination = t.destination;
    e.remote_id = t.root_remote_id;
    e.markdown = render::escape_markdown(text);
    e.plain = render::escape_plain(text);
    e.html = render::escape_html(text);
    e.keep_actions = is_active(c->state);
    return e;
  }
  return std::nullopt;
}

namespace {

// What a chat user typed or did (mapped to [[staff]] once, here), run by the
// engine, its answer styled for the network it came from ({cmd}, {asker}). A
// typed line is parsed here, the only place; a click or a reaction is a
// command already.
chat::Answer run_chat_command(Engine& engine, chat::Network net, std::string_view user, const chat::Input& input,
                              Timestamp now) {
  const StaffMember* staff = engine.config().find_staff_by_chat(chat::to_string(net), user);
  if (!staff) {
    spdlog::warn("{}: command from {}, who is not configured staff: refused", chat::to_string(net), user);
    return {false, false,
            engine.catalog().render(engine.config().default_language, "reply.not_staff", {{"user", std::string(user)}},
                                    chat_style(engine, net)),
            std::nullopt};
  }
  const ParsedCommand parsed = std::visit(
      [](const auto& in) -> ParsedCommand {
        if constexpr (std::is_same_v<std::decay_t<decltype(in)>, chat::Typed>) return parse_command(in.line);
        else return in;
      },
      input);
  Reply r = engine.apply(StaffAction{staff, parsed}, now, chat_style(engine, net, user)).reply;
  const auto* cmd = std::get_if<Command>(&parsed);
  return {true, r.ok, r.text, cmd ? case_of(*cmd) : std::nullopt, r.personal};
}

}  // namespace

chat::Hooks make_chat_hooks(Engine& engine, std::function<Timestamp()> clock, AfterCommand after_command,
                            InboundWriter* inbound) {
  chat::Hooks h;
  // `updates_alert`: the caller's answer edits the alert on its network (a
  // Mattermost button), so that network's alert is not edited a second time.
  auto run = [&engine, clock, after_command](chat::Network net, std::string_view user, const chat::Input& input,
                                             bool updates_alert) -> chat::Answer {
    chat::Answer a = run_chat_command(engine, net, user, input, clock());
    if (after_command)
      after_command(a.ok ? a.case_id : std::nullopt, updates_alert ? std::optional(net) : std::nullopt);
    return a;
  };
  h.command = [run](chat::Network net, std::string_view user, const chat::Input& input) {
    return run(net, user, input, false);
  };
  h.click = [run](chat::Network net, std::string_view user, const chat::Input& input) {
    return run(net, user, input, true);
  };
  // The command's effects, its event marked seen and its answer (an outbox
  // row of the room's network, sent before bulk posts) in one commit: killed
  // before it, the command comes back with the replayed /sync and runs then;
  // after it, the answer goes out from the outbox.
  h.command_once = [&engine, clock, after_command](chat::Network net, std::string_view user, const chat::Input& input,
                                                   std::string_view event_id,
                                                   const chat::Hooks::AnswerTo& to) -> std::optional<chat::Answer> {
    const Timestamp now = clock();
    chat::Answer a;
    {
      store::WriteTransaction tx(engine.db());
      if (!store::first_seen(engine.db(), chat::to_string(net), event_id, now)) return std::nullopt;
      a = run_chat_command(engine, net, user, input, now);  // its own transaction nests in this one
      if (!a.text.empty()) {
        nlohmann::json params = nlohmann::json::object();
        params["text"] = a.text;
        params["_thread_root"] = to.thread_root;
        params["_reply_to"] = to.reply_to;
        store::OutboxItem item;
        item.created_at = now;
        item.channel = channel_of(net);
        item.recipient = to.room;
        item.template_key = std::string(answer_template);
        item.params_json = params.dump();
        item.dedupe_key = "answer:" + std::string(chat::to_string(net)) + ":" + std::string(event_id);
        item.not_before = now;
        item.next_attempt = now;
        store::OutboxRepo(engine.db()).enqueue(item);
      }
      tx.commit();
    }
    // Wakes the dispatchers (the answer is waiting) and refreshes the alert.
    if (after_command) after_command(a.ok ? a.case_id : std::nullopt, std::nullopt);
    return a;
  };
  h.case_of_post = [&engine](chat::Network net, std::string_view remote_id) {
    store::ChatThreadRepo threads(engine.db());
    return threads.case_of(chat::to_string(net), remote_id);
  };
  h.alert_status = [&engine](chat::Network net, std::int64_t case_id) { return alert_status(engine, net, case_id); };
  h.first_seen = [&engine, clock](std::string_view source, std::string_view id) {
    return store::first_seen(engine.db(), source, id, clock());
  };
  // "" is how adapters clear a key (Matrix: a learner's old direct room).
  h.load = [&engine](std::string_view key) -> std::optional<std::string> {
    auto v = store::kv_get(engine.db(), key);
    if (v && v->empty()) return std::nullopt;
    return v;
  };
  h.is_learner_room = [&engine](chat::Network net, std::string_view room) {
    if (net != chat::Network::matrix) return false;
    auto v = store::kv_get(engine.db(), "matrix.dm_room." + std::string(room));
    return v && !v->empty();
  };
  // A learner writing in their direct room: stored once per event id (a
  // replayed /sync is a no-op) by the writer every learner message goes
  // through; a sign of life, posted in the case's thread.
  h.learner_message = [inbound](chat::Network net, std::string_view user, std::string_view room,
                                std::string_view event_id, std::string_view text, std::function<void(bool)> done) {
    if (!inbound) {
      spdlog::error("{}: message {} from {} in {} not stored: no inbound writer", chat::to_string(net), event_id,
                    logs::personal(user), room);
      done(false);
      return;
    }
    InboundBatch b;
    b.messages.push_back(IncomingMessage{std::string(chat::to_string(net)), std::string(chat::to_string(net)),
                                         std::string(event_id), std::string(user), std::string(text), std::nullopt,
                                         std::nullopt, false});
    inbound->submit(std::move(b), std::move(done));
  };
  h.save = [&engine](std::string_view key, std::string_view value) { store::kv_set(engine.db(), key, value); };
  // Adapters' own texts (messages/<lang>/<network>.toml) are not marked
  // (adapters compare and compose them), but show commands as typed there.
  h.text = [&engine](std::string_view key, const std::vector<std::pair<std::string, std::string>>& params) {
    Params p(params.begin(), params.end());
    messages::FillStyle style;
    const auto net = key.rfind("matrix.", 0) == 0 ? chat::Network::matrix : chat::Network::mattermost;
    style.literals[std::string(messages::command_prefix_param)] = command_prefix(engine, net);
    return engine.catalog().render(engine.config().default_language, key, p, style);
  };
  return h;
}

}  // namespace relance::app
