#include "fake_matrix.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace relance::test {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Spec "Standard error response": errcode and error are always present.
FakeResponse error(int status, std::string errcode, std::string message) {
  json j{{"errcode", std::move(errcode)}, {"error", std::move(message)}};
  return FakeResponse{status, "application/json", {}, j.dump()};
}

FakeResponse answer(const json& j) { return FakeResponse{200, "application/json", {}, j.dump()}; }

// Spec "Rate limiting": retry_after_ms (deprecated since v1.10, still sent by
// Synapse) and the Retry-After header in whole seconds, rounded up.
FakeResponse too_many(std::chrono::milliseconds retry_after) {
  json j{{"errcode", "M_LIMIT_EXCEEDED"}, {"error", "Too many requests"}, {"retry_after_ms", retry_after.count()}};
  const auto seconds = (retry_after.count() + 999) / 1000;
  return FakeResponse{429, "application/json", {{"Retry-After", std::to_string(seconds)}}, j.dump()};
}

// What nginx answers when the homeserver behind it is down.
FakeResponse bad_gateway() {
  return FakeResponse{502, "text/html", {},
                      "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
                      "Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string pct_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += plus_is_space && s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(pct_decode(std::string_view(path).substr(start, end - start), false));
    start = end + 1;
  }
  return out;
}

std::map<std::string, std::string> parse_query(const std::string& q) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < q.size()) {
    auto end = q.find('&', start);
    if (end == std::string::npos) end = q.size();
    auto pair = std::string_view(q).substr(start, end - start);
    auto eq = pair.find('=');
    if (!pair.empty())
      out[pct_decode(pair.substr(0, eq), true)] =
          eq == std::string_view::npos ? std::string{} : pct_decode(pair.substr(eq + 1), true);
    start = end + 1;
  }
  return out;
}

// Event filter type and sender lists; '*' matches any run of characters
// (definitions/event_filter.yaml).
bool glob_match(std::string_view pattern, std::string_view s) {
  if (pattern.empty()) return s.empty();
  if (pattern[0] == '*') {
    for (std::size_t i = 0; i <= s.size(); ++i)
      if (glob_match(pattern.substr(1), s.substr(i))) return true;
    return false;
  }
  return !s.empty() && pattern[0] == s[0] && glob_match(pattern.substr(1), s.substr(1));
}

bool listed(const json& filter, const char* key, const std::string& value, bool glob) {
  for (const auto& p : filter.at(key)) {
    if (!p.is_string()) continue;
    if (glob ? glob_match(p.get<std::string>(), value) : p.get<std::string>() == value) return true;
  }
  return false;
}

// EventFilter and RoomEventFilter (definitions/*event_filter.yaml); a
// matching `not_*` entry wins over the allow list.
bool passes(const json& filter, const json& ev, const std::string& room_id) {
  if (!filter.is_object()) return true;
  const std::string type = ev.value("type", "");
  const std::string sender = ev.value("sender", "");
  if (filter.contains("not_types") && listed(filter, "not_types", type, true)) return false;
  if (filter.contains("types") && !listed(filter, "types", type, true)) return false;
  if (filter.contains("not_senders") && listed(filter, "not_senders", sender, false)) return false;
  if (filter.contains("senders") && !listed(filter, "senders", sender, false)) return false;
  if (!room_id.empty()) {
    if (filter.contains("not_rooms") && listed(filter, "not_rooms", room_id, false)) return false;
    if (filter.contains("rooms") && !listed(filter, "rooms", room_id, false)) return false;
  }
  if (filter.contains("contains_url") && filter["contains_url"].is_boolean()) {
    const bool has_url = ev.contains("content") && ev["content"].is_object() && ev["content"].contains("url");
    if (has_url != filter["contains_url"].get<bool>()) return false;
  }
  return true;
}

json sub(const json& j, const char* key) { return j.is_object() && j.contains(key) ? j[key] : json::object(); }

std::string random_letters(std::mt19937_64& rng, int n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (int i = 0; i < n; ++i) out += alphabet[rng() % (sizeof alphabet - 1)];
  return out;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct FakeMatrix::State {
  struct Event {
    json ev;  // client format, with room_id
    std::uint64_t pos = 0;
    std::string txn_id, device_id;  // set when sent through PUT .../send
  };
  struct Room {
    std::vector<std::size_t> events;                                  // indices into `events`
    std::map<std::pair<std::string, std::string>, std::size_t> state;  // (type, state_key) -> event
  };
  struct Session {
    std::string user, device;
  };
  struct Txn {
    int status;
    std::string body;
  };
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  struct Scripted {
    int count;
    std::string path_contains;
    std::string method;  // "" = any
    Fault fault = Fault::drop;
    std::chrono::milliseconds retry_after{0};
  };

  mutable std::mutex mutex;
  std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t pos = 0;  // the stream position: one step per event or account data change
  std::map<std::string, std::string> passwords;
  std::set<std::string> refusing_invites;  // users whose server refuses invites to them

  // A user exists once registered (add_user, add_access_token) or once the
  // test made them act (a member of some room, account data): the helpers
  // playing other users never required registering them.
  bool known_user(const std::string& user) const {
    if (passwords.count(user) || account_data.count(user)) return true;
    if (std::any_of(tokens.begin(), tokens.end(), [&](const auto& t) { return t.second.user == user; })) return true;
    return std::any_of(rooms.begin(), rooms.end(),
                       [&](const auto& r) { return r.second.state.count({"m.room.member", user}) > 0; });
  }

  // Who may be invited (inviting.yaml, create_room.yaml): a user this server
  // does not know is 404 M_NOT_FOUND (Synapse: "Unknown user"); one who
  // refuses invites, 403 M_FORBIDDEN. Users of other servers are taken as
  // they come (no federation here). nullopt: go ahead.
  std::optional<FakeResponse> check_invitee(const std::string& invitee, const std::string& server_name) const {
    const auto colon = invitee.find(':');
    const bool local = colon != std::string::npos && invitee.substr(colon + 1) == server_name;
    if (local && !known_user(invitee)) return error(404, "M_NOT_FOUND", "Unknown user " + invitee);
    if (refusing_invites.count(invitee)) return error(403, "M_FORBIDDEN", invitee + " does not accept invites");
    return std::nullopt;
  }
  std::map<std::string, Session> tokens;
  std::vector<Event> events;
  std::map<std::string, std::size_t> by_event_id;
  std::map<std::string, Room> rooms;
  std::vector<std::string> room_order;
  std::map<std::string, std::string> aliases;
  std::map<std::string, std::map<std::string, std::pair<json, std::uint64_t>>> account_data;
  // Room account data: user -> room -> type -> content (not in /sync here).
  std::map<std::string, std::map<std::string, std::map<std::string, json>>> room_account_data;
  std::map<std::string, std::vector<json>> filters;
  std::map<std::string, Txn> txns;  // user \n device \n path
  std::optional<RateLimit> rate_limit;
  std::map<std::string, Bucket> buckets;
  std::vector<Scripted> faults, limits;
  std::optional<Fault> down;
  std::vector<SentEvent> sent;
  std::vector<Join> joins;
  int retransmissions = 0;
  int rate_limited = 0;
  std::vector<std::weak_ptr<FakeLongPoll>> waiters;

  std::string new_event_id() { return "$" + random_letters(rng, 24); }

  std::string membership(const std::string& room_id, const std::string& user) const {
    auto r = rooms.find(room_id);
    if (r == rooms.end()) return {};
    auto m = r->second.state.find({"m.room.member", user});
    if (m == r->second.state.end()) return {};
    return events[m->second].ev["content"].value("membership", "");
  }
  std::uint64_t membership_pos(const std::string& room_id, const std::string& user) const {
    const auto& room = rooms.at(room_id);
    auto m = room.state.find({"m.room.member", user});
    return m == room.state.end() ? 0 : events[m->second].pos;
  }
  const json* state_content(const std::string& room_id, const std::string& type, const std::string& key = "") const {
    const auto& room = rooms.at(room_id);
    auto s = room.state.find({type, key});
    return s == room.state.end() ? nullptr : &events[s->second].ev["content"];
  }

  std::string append(const std::string& room_id, const std::string& sender, const std::string& type, json content,
                     std::optional<std::string> state_key = std::nullopt, std::string txn_id = {},
                     std::string device_id = {}) {
    auto& room = rooms.at(room_id);
    json ev{{"type", type},
            {"content", std::move(content)},
            {"sender", sender},
            {"event_id", new_event_id()},
            {"origin_server_ts", now_ms()},
            {"room_id", room_id},
            {"unsigned", json::object()}};
    if (state_key) ev["state_key"] = *state_key;
    const std::string id = ev["event_id"];
    events.push_back(Event{std::move(ev), ++pos, std::move(txn_id), std::move(device_id)});
    const std::size_t index = events.size() - 1;
    room.events.push_back(index);
    if (state_key) room.state[{type, *state_key}] = index;
    by_event_id[id] = index;
    return id;
  }

  void set_membership(const std::string& room_id, const std::string& sender, const std::string& target,
                      const std::string& membership, bool is_direct = false) {
    json content{{"membership", membership}};
    if (is_direct) content["is_direct"] = true;
    append(room_id, sender, "m.room.member", std::move(content), target);
  }

  // createRoom, in the order the spec gives (create_room.yaml).
  std::string create_room(const std::string& creator, const std::string& preset, const std::string& name,
                          const std::string& topic, const std::string& alias_localpart, const json& initial_state,
                          const std::vector<std::string>& invite, bool is_direct, const std::string& server_name) {
    const std::string id = "!" + random_letters(rng, 18) + ":" + server_name;
    rooms[id];
    room_order.push_back(id);
    append(id, creator, "m.room.create", json{{"room_version", "11"}, {"creator", creator}}, "");
    set_membership(id, creator, creator, "join");
    json users{{creator, 100}};
    if (preset == "trusted_private_chat")
      for (const auto& u : invite) users[u] = 100;
    append(id, creator, "m.room.power_levels", json{{"users", users}, {"users_default", 0}, {"events_default", 0},
                                                    {"state_default", 50}, {"invite", 0}},
           "");
    if (!alias_localpart.empty()) {
      const std::string alias = "#" + alias_localpart + ":" + server_name;
      aliases[alias] = id;
      append(id, creator, "m.room.canonical_alias", json{{"alias", alias}}, "");
    }
    append(id, creator, "m.room.join_rules", json{{"join_rule", preset == "public_chat" ? "public" : "invite"}}, "");
    append(id, creator, "m.room.history_visibility", json{{"history_visibility", "shared"}}, "");
    append(id, creator, "m.room.guest_access",
           json{{"guest_access", preset == "public_chat" ? "forbidden" : "can_join"}}, "");
    for (const auto& s : initial_state)
      append(id, creator, s.at("type").get<std::string>(), s.at("content"), s.value("state_key", ""));
    if (!name.empty()) append(id, creator, "m.room.name", json{{"name", name}}, "");
    if (!topic.empty()) append(id, creator, "m.room.topic", json{{"topic", topic}}, "");
    for (const auto& u : invite) set_membership(id, creator, u, "invite", is_direct);
    return id;
  }

  // An m.room.redaction (room version 11: `redacts` in content; also at the
  // top level, as servers still send it for older clients). The target's
  // content is stripped, as the rooms' redaction algorithm does for messages
  // and reactions (none of their content keys survive).
  std::string redact(const std::string& room_id, const std::string& sender, const std::string& target,
                     const std::string& reason) {
    json content{{"redacts", target}};
    if (!reason.empty()) content["reason"] = reason;
    const auto id = append(room_id, sender, "m.room.redaction", std::move(content));
    events.back().ev["redacts"] = target;
    auto& victim = events[by_event_id.at(target)].ev;
    if (!victim.contains("state_key")) victim["content"] = json::object();
    victim["unsigned"]["redacted_because"] = events.back().ev;
    return id;
  }

  void put_account_data(const std::string& user, const std::string& type, json content) {
    account_data[user][type] = {std::move(content), ++pos};
  }

  // An event as /sync and /event give it: unsigned.age, and
  // unsigned.transaction_id only for the device that sent it (spec
  // "Transaction identifiers"; NOTES: own echoes carry it).
  json render(const Event& e, const Session& viewer, bool with_room_id) const {
    json ev = e.ev;
    if (!with_room_id) ev.erase("room_id");
    ev["unsigned"]["age"] = std::max<std::int64_t>(0, now_ms() - ev["origin_server_ts"].get<std::int64_t>());
    if (!e.txn_id.empty() && ev["sender"] == viewer.user && e.device_id == viewer.device)
      ev["unsigned"]["transaction_id"] = e.txn_id;
    return ev;
  }

  // The m.thread aggregation of a thread root (spec "Server-side aggregation
  // of m.thread relationships"); annotations are not aggregated.
  void bundle_thread(json& ev, const Session& viewer) const {
    const std::string root = ev["event_id"];
    const auto& room = rooms.at(ev.value("room_id", std::string{}));
    int count = 0;
    const Event* latest = nullptr;
    bool participated = ev["sender"] == viewer.user;
    for (auto i : room.events) {
      const auto& c = events[i].ev["content"];
      if (!c.is_object() || !c.contains("m.relates_to") || !c["m.relates_to"].is_object()) continue;
      const auto& rel = c["m.relates_to"];
      if (rel.value("rel_type", "") != "m.thread" || rel.value("event_id", "") != root) continue;
      ++count;
      latest = &events[i];
      if (events[i].ev["sender"] == viewer.user) participated = true;
    }
    if (count == 0) return;
    ev["unsigned"]["m.relations"]["m.thread"] = {
        {"latest_event", render(*latest, viewer, true)}, {"count", count}, {"current_user_participated", participated}};
  }

  // The /sync answer since `since` (0: initial sync). `empty` says whether
  // it carries nothing, so a long-poll keeps waiting.
  json sync(const Session& s, std::optional<std::uint64_t> since_token, bool full_state, const json& filter,
            bool& empty) const {
    const bool initial = !since_token;
    const std::uint64_t since = since_token.value_or(0);
    const json room_filter = sub(filter, "room");
    const json timeline_filter = sub(room_filter, "timeline");
    const json state_filter = sub(room_filter, "state");
    const std::size_t limit =
        timeline_filter.contains("limit") && timeline_filter["limit"].is_number_integer()
            ? std::max<std::size_t>(1, timeline_filter["limit"].get<std::size_t>())
            : 10;  // Synapse's default
    json join = json::object(), invite = json::object(), leave = json::object();
    for (const auto& room_id : room_order) {
      // RoomFilter rooms / not_rooms apply before everything else.
      if (room_filter.contains("not_rooms") && listed(room_filter, "not_rooms", room_id, false)) continue;
      if (room_filter.contains("rooms") && !listed(room_filter, "rooms", room_id, false)) continue;
      const auto& room = rooms.at(room_id);
      const std::string m = membership(room_id, s.user);
      const std::uint64_t mpos = membership_pos(room_id, s.user);
      if (m == "join") {
        const bool newly = initial || mpos > since || full_state;
        std::vector<const Event*> timeline;
        for (auto i : room.events)
          if (events[i].pos > since && passes(timeline_filter, events[i].ev, room_id)) timeline.push_back(&events[i]);
        const bool limited = timeline.size() > limit;
        if (limited) timeline.erase(timeline.begin(), timeline.end() - static_cast<std::ptrdiff_t>(limit));
        json state = json::array();
        if (newly || limited) {
          // Approximation: the current state, less what the timeline carries.
          for (const auto& [key, i] : room.state) {
            if (std::find(timeline.begin(), timeline.end(), &events[i]) != timeline.end()) continue;
            if (passes(state_filter, events[i].ev, room_id)) state.push_back(render(events[i], s, false));
          }
        }
        if (timeline.empty() && state.empty() && !newly) continue;
        json tl = json::array();
        for (const auto* e : timeline) tl.push_back(render(*e, s, false));
        json entry{{"timeline", {{"events", tl}, {"limited", limited}}}, {"state", {{"events", state}}}};
        if (limited) entry["timeline"]["prev_batch"] = "s" + std::to_string(timeline.front()->pos - 1);
        join[room_id] = std::move(entry);
      } else if (m == "invite" && (initial || mpos > since)) {
        // Stripped state (core-event-schema/stripped_state.yaml) plus the
        // invite itself in full, as Synapse sends it (NOTES "Observed").
        json stripped = json::array();
        for (const char* type : {"m.room.create", "m.room.join_rules", "m.room.name", "m.room.canonical_alias",
                                 "m.room.encryption"}) {
          auto st = room.state.find({type, ""});
          if (st == room.state.end()) continue;
          const auto& ev = events[st->second].ev;
          stripped.push_back(
              {{"type", ev["type"]}, {"state_key", ev["state_key"]}, {"sender", ev["sender"]}, {"content", ev["content"]}});
        }
        const auto& inv = events[room.state.at({"m.room.member", s.user})];
        auto inviter = room.state.find({"m.room.member", inv.ev["sender"].get<std::string>()});
        if (inviter != room.state.end()) {
          const auto& ev = events[inviter->second].ev;
          stripped.push_back(
              {{"type", ev["type"]}, {"state_key", ev["state_key"]}, {"sender", ev["sender"]}, {"content", ev["content"]}});
        }
        stripped.push_back(render(inv, s, false));
        invite[room_id] = {{"invite_state", {{"events", stripped}}}};
      } else if ((m == "leave" || m == "ban") && !initial && mpos > since) {
        json tl = json::array();
        for (auto i : room.events)
          if (events[i].pos > since && events[i].pos <= mpos && passes(timeline_filter, events[i].ev, room_id))
            tl.push_back(render(events[i], s, false));
        leave[room_id] = {{"timeline", {{"events", tl}, {"limited", false}}}, {"state", {{"events", json::array()}}}};
      }
    }
    json account = json::array();
    if (auto a = account_data.find(s.user); a != account_data.end())
      for (const auto& [type, data] : a->second) {
        json ev{{"type", type}, {"content", data.first}};
        if ((initial || data.second > since) && passes(sub(filter, "account_data"), ev, {})) account.push_back(std::move(ev));
      }
    // Sections with nothing are left out, as recent Synapse does: a client
    // must not rely on their presence (all are optional in sync.yaml).
    json out{{"next_batch", "s" + std::to_string(pos)}};
    json rooms_out = json::object();
    if (!join.empty()) rooms_out["join"] = join;
    if (!invite.empty()) rooms_out["invite"] = invite;
    if (!leave.empty()) rooms_out["leave"] = leave;
    if (!rooms_out.empty()) out["rooms"] = rooms_out;
    if (!account.empty()) out["account_data"] = {{"events", account}};
    empty = rooms_out.empty() && account.empty();
    return out;
  }

  // Token bucket per user (Synapse's rc_message shape). nullopt: go ahead.
  std::optional<FakeResponse> take_token(const std::string& key, bool action) {
    if (!rate_limit || (!action && !rate_limit->all_endpoints)) return std::nullopt;
    const auto now = Clock::now();
    auto [it, fresh] = buckets.try_emplace(key, Bucket{static_cast<double>(rate_limit->burst), now});
    auto& b = it->second;
    if (!fresh) {
      b.tokens = std::min<double>(rate_limit->burst,
                                  b.tokens + std::chrono::duration<double>(now - b.last).count() * rate_limit->per_second);
      b.last = now;
    }
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      return std::nullopt;
    }
    ++rate_limited;
    const auto wait_ms = static_cast<std::int64_t>(std::ceil((1.0 - b.tokens) / rate_limit->per_second * 1000.0));
    return too_many(std::chrono::milliseconds{std::max<std::int64_t>(1, wait_ms)});
  }
};

FakeMatrix::FakeMatrix(std::string server_name)
    : server_name_(std::move(server_name)),
      state_(std::make_unique<State>()),
      server_([this](const FakeRequest& r) { return handle(r); }) {}

FakeMatrix::~FakeMatrix() { server_.stop(); }

std::string FakeMatrix::user_id(const std::string& localpart) const { return "@" + localpart + ":" + server_name_; }

void FakeMatrix::notify_syncs() {
  std::vector<std::shared_ptr<FakeLongPoll>> live;
  {
    std::lock_guard lock(state_->mutex);
    auto& w = state_->waiters;
    for (auto it = w.begin(); it != w.end();) {
      if (auto p = it->lock()) {
        live.push_back(std::move(p));
        ++it;
      } else {
        it = w.erase(it);
      }
    }
  }
  for (auto& p : live) p->notify();
}

// --- accounts ---

std::string FakeMatrix::add_user(const std::string& localpart, const std::string& password) {
  std::lock_guard lock(state_->mutex);
  const auto id = user_id(localpart);
  state_->passwords[id] = password;
  return id;
}

void FakeMatrix::add_access_token(const std::string& user, const std::string& device, const std::string& token) {
  std::lock_guard lock(state_->mutex);
  state_->tokens[token] = State::Session{user, device};
}

void FakeMatrix::revoke_token(const std::string& token) {
  std::lock_guard lock(state_->mutex);
  state_->tokens.erase(token);
}

// --- the other side ---

std::string FakeMatrix::create_room(const std::string& creator, const RoomOptions& o) {
  std::string id;
  {
    std::lock_guard lock(state_->mutex);
    json initial = json::array();
    if (o.encrypted)
      initial.push_back({{"type", "m.room.encryption"},
                         {"state_key", ""},
                         {"content", {{"algorithm", "m.megolm.v1.aes-sha2"}}}});
    id = state_->create_room(creator, o.is_public ? "public_chat" : "private_chat", o.name, "", o.alias_localpart,
                             initial, {}, false, server_name_);
    for (const auto& m : o.members) state_->set_membership(id, m, m, "join");
  }
  notify_syncs();
  return id;
}

void FakeMatrix::join(const std::string& user, const std::string& room_id) {
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->rooms.count(room_id)) throw std::logic_error("FakeMatrix::join: unknown room " + room_id);
    state_->set_membership(room_id, user, user, "join");
  }
  notify_syncs();
}

void FakeMatrix::accept_invite(const std::string& user, const std::string& room_id) {
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->rooms.count(room_id) || state_->membership(room_id, user) != "invite")
      throw std::logic_error("FakeMatrix::accept_invite: " + user + " is not invited to " + room_id);
    state_->set_membership(room_id, user, user, "join");
  }
  notify_syncs();
}

void FakeMatrix::refuse_invites(const std::string& user, bool refuse) {
  std::lock_guard lock(state_->mutex);
  if (refuse) state_->refusing_invites.insert(user);
  else state_->refusing_invites.erase(user);
}

std::vector<std::string> FakeMatrix::rooms_of(const std::string& user, const std::string& membership) const {
  std::lock_guard lock(state_->mutex);
  std::vector<std::string> out;
  for (const auto& id : state_->room_order)
    if (state_->membership(id, user) == membership) out.push_back(id);
  return out;
}

void FakeMatrix::leave(const std::string& user, const std::string& room_id) {
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->rooms.count(room_id)) throw std::logic_error("FakeMatrix::leave: unknown room " + room_id);
    state_->set_membership(room_id, user, user, "leave");
  }
  notify_syncs();
}

void FakeMatrix::invite(const std::string& inviter, const std::string& room_id, const std::string& invitee,
                        bool is_direct) {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->membership(room_id, inviter) != "join")
      throw std::logic_error("FakeMatrix::invite: " + inviter + " is not in " + room_id);
    state_->set_membership(room_id, inviter, invitee, "invite", is_direct);
  }
  notify_syncs();
}

std::string FakeMatrix::invite_to_new_room(const std::string& inviter, const std::string& invitee, bool is_direct,
                                           bool encrypted) {
  std::string id;
  {
    std::lock_guard lock(state_->mutex);
    json initial = json::array();
    if (encrypted)
      initial.push_back({{"type", "m.room.encryption"},
                         {"state_key", ""},
                         {"content", {{"algorithm", "m.megolm.v1.aes-sha2"}}}});
    id = state_->create_room(inviter, is_direct ? "trusted_private_chat" : "private_chat", "", "", "", initial,
                             {invitee}, is_direct, server_name_);
    if (is_direct) {
      // Spec "Direct Messaging": the inviter's client records the room in m.direct.
      json direct = json::object();
      if (auto a = state_->account_data[inviter].find("m.direct"); a != state_->account_data[inviter].end())
        direct = a->second.first;
      direct[invitee].push_back(id);
      state_->put_account_data(inviter, "m.direct", direct);
    }
  }
  notify_syncs();
  return id;
}

std::string FakeMatrix::send_event(const std::string& room_id, const std::string& sender, const std::string& type,
                                   json content) {
  std::string id;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->membership(room_id, sender) != "join")
      throw std::logic_error("FakeMatrix::send_event: " + sender + " is not in " + room_id);
    id = state_->append(room_id, sender, type, std::move(content));
  }
  notify_syncs();
  return id;
}

std::string FakeMatrix::send_state(const std::string& room_id, const std::string& sender, const std::string& type,
                                   const std::string& state_key, json content) {
  std::string id;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->membership(room_id, sender) != "join")
      throw std::logic_error("FakeMatrix::send_state: " + sender + " is not in " + room_id);
    id = state_->append(room_id, sender, type, std::move(content), state_key);
  }
  notify_syncs();
  return id;
}

std::string FakeMatrix::send_text(const std::string& room_id, const std::string& sender, const std::string& body) {
  return send_event(room_id, sender, "m.room.message", json{{"msgtype", "m.text"}, {"body", body}});
}

std::string FakeMatrix::react(const std::string& room_id, const std::string& sender, const std::string& target,
                              const std::string& key) {
  return send_event(room_id, sender, "m.reaction",
                    json{{"m.relates_to", {{"rel_type", "m.annotation"}, {"event_id", target}, {"key", key}}}});
}

std::string FakeMatrix::reply_in_thread(const std::string& room_id, const std::string& sender, const std::string& root,
                                        const std::string& body, const std::string& in_reply_to) {
  json rel{{"rel_type", "m.thread"},
           {"event_id", root},
           {"is_falling_back", true},
           {"m.in_reply_to", {{"event_id", in_reply_to.empty() ? root : in_reply_to}}}};
  return send_event(room_id, sender, "m.room.message", json{{"msgtype", "m.text"}, {"body", body}, {"m.relates_to", rel}});
}

std::string FakeMatrix::enable_encryption(const std::string& room_id, const std::string& sender) {
  return send_state(room_id, sender, "m.room.encryption", "",
                    json{{"algorithm", "m.megolm.v1.aes-sha2"}, {"rotation_period_ms", 604800000},
                         {"rotation_period_msgs", 100}});
}

std::string FakeMatrix::send_encrypted(const std::string& room_id, const std::string& sender) {
  return send_event(room_id, sender, "m.room.encrypted",
                    json{{"algorithm", "m.megolm.v1.aes-sha2"},
                         {"ciphertext", "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg..."},
                         {"device_id", "RJYKSTBOIE"},
                         {"sender_key", "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA"},
                         {"session_id", "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ"}});
}

std::string FakeMatrix::redact(const std::string& room_id, const std::string& sender, const std::string& event_id) {
  std::string id;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->membership(room_id, sender) != "join" || !state_->by_event_id.count(event_id))
      throw std::logic_error("FakeMatrix::redact: " + sender + " cannot redact " + event_id + " in " + room_id);
    id = state_->redact(room_id, sender, event_id, "");
  }
  notify_syncs();
  return id;
}

void FakeMatrix::set_account_data(const std::string& user, const std::string& type, json content) {
  {
    std::lock_guard lock(state_->mutex);
    state_->put_account_data(user, type, std::move(content));
  }
  notify_syncs();
}

// --- faults ---

void FakeMatrix::set_rate_limit(std::optional<RateLimit> limit) {
  std::lock_guard lock(state_->mutex);
  state_->rate_limit = limit;
  state_->buckets.clear();
}

void FakeMatrix::limit_next(int count, std::chrono::milliseconds retry_after, std::string path_contains,
                            std::string method) {
  std::lock_guard lock(state_->mutex);
  state_->limits.push_back(
      State::Scripted{count, std::move(path_contains), std::move(method), Fault::drop, retry_after});
}

void FakeMatrix::set_down(std::optional<Fault> fault) {
  std::lock_guard lock(state_->mutex);
  state_->down = fault;
}

void FakeMatrix::clear_faults() {
  std::lock_guard lock(state_->mutex);
  state_->faults.clear();
  state_->limits.clear();
}

void FakeMatrix::fail_next(int count, Fault fault, std::string path_contains, std::string method) {
  std::lock_guard lock(state_->mutex);
  state_->faults.push_back(State::Scripted{count, std::move(path_contains), std::move(method), fault, {}});
}

// --- what happened ---

std::vector<FakeMatrix::SentEvent> FakeMatrix::sent_events() const {
  std::lock_guard lock(state_->mutex);
  return state_->sent;
}

int FakeMatrix::retransmissions() const {
  std::lock_guard lock(state_->mutex);
  return state_->retransmissions;
}

std::vector<FakeMatrix::Join> FakeMatrix::joins() const {
  std::lock_guard lock(state_->mutex);
  return state_->joins;
}

std::vector<json> FakeMatrix::room_events(const std::string& room_id) const {
  std::lock_guard lock(state_->mutex);
  std::vector<json> out;
  if (auto r = state_->rooms.find(room_id); r != state_->rooms.end())
    for (auto i : r->second.events) out.push_back(state_->events[i].ev);
  return out;
}

std::optional<json> FakeMatrix::event(const std::string& event_id) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->by_event_id.find(event_id);
  if (it == state_->by_event_id.end()) return std::nullopt;
  return state_->events[it->second].ev;
}

std::vector<std::string> FakeMatrix::room_ids() const {
  std::lock_guard lock(state_->mutex);
  return state_->room_order;
}

std::string FakeMatrix::membership(const std::string& room_id, const std::string& user) const {
  std::lock_guard lock(state_->mutex);
  return state_->membership(room_id, user);
}

bool FakeMatrix::is_encrypted(const std::string& room_id) const {
  std::lock_guard lock(state_->mutex);
  return state_->rooms.count(room_id) && state_->state_content(room_id, "m.room.encryption") != nullptr;
}

std::optional<json> FakeMatrix::account_data(const std::string& user, const std::string& type) const {
  std::lock_guard lock(state_->mutex);
  auto u = state_->account_data.find(user);
  if (u == state_->account_data.end()) return std::nullopt;
  auto t = u->second.find(type);
  if (t == u->second.end()) return std::nullopt;
  return t->second.first;
}

std::vector<json> FakeMatrix::filters(const std::string& user) const {
  std::lock_guard lock(state_->mutex);
  auto f = state_->filters.find(user);
  return f == state_->filters.end() ? std::vector<json>{} : f->second;
}

int FakeMatrix::rate_limited_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->rate_limited;
}

int FakeMatrix::waiting_syncs() const {
  std::lock_guard lock(state_->mutex);
  int n = 0;
  for (const auto& w : state_->waiters)
    if (!w.expired()) ++n;
  return n;
}

// --- the HTTP side ---

namespace {

bool is_object_body(const std::string& body, json& out, std::optional<FakeResponse>& err) {
  try {
    out = json::parse(body.empty() ? std::string("{}") : body);
  } catch (const json::parse_error&) {
    err = error(400, "M_NOT_JSON", "Content not JSON.");
    return false;
  }
  if (!out.is_object()) {
    err = error(400, "M_BAD_JSON", "Content must be a JSON object.");
    return false;
  }
  return true;
}

}  // namespace

FakeResponse FakeMatrix::handle(const FakeRequest& req) {
  auto& st = *state_;
  const auto seg = split_path(req.path);
  const auto query = parse_query(req.query);
  const auto& m = req.method;

  // Scripted faults first: they stand for a proxy in front of the server.
  bool drop_after = false;
  std::optional<std::chrono::milliseconds> scripted_limit;
  {
    std::lock_guard lock(st.mutex);
    if (st.down) {
      if (*st.down == Fault::bad_gateway) return bad_gateway();
      FakeResponse r;
      if (*st.down == Fault::hang) r.hang = true;
      else r.drop = true;  // drop_after_processing too: nothing is processed while down
      return r;
    }
    for (auto& f : st.faults) {
      if (f.count <= 0 || req.path.find(f.path_contains) == std::string::npos) continue;
      if (!f.method.empty() && f.method != m) continue;
      --f.count;
      if (f.fault == Fault::bad_gateway) return bad_gateway();
      if (f.fault == Fault::drop) {
        FakeResponse r;
        r.drop = true;
        return r;
      }
      if (f.fault == Fault::hang) {
        FakeResponse r;
        r.hang = true;
        return r;
      }
      drop_after = true;
      break;
    }
    for (auto& l : st.limits) {
      if (l.count <= 0 || req.path.find(l.path_contains) == std::string::npos) continue;
      if (!l.method.empty() && l.method != m) continue;
      --l.count;
      scripted_limit = l.retry_after;
      ++st.rate_limited;
      break;
    }
  }
  if (scripted_limit) return too_many(*scripted_limit);

  FakeResponse out = [&]() -> FakeResponse {
    if (seg.size() < 3 || seg[0] != "_matrix" || seg[1] != "client")
      return error(404, "M_UNRECOGNIZED", "Unrecognized request");
    // GET /_matrix/client/versions (versions.yaml), no auth.
    if (seg.size() == 3 && seg[2] == "versions") {
      if (m != "GET") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      json versions = json::array();
      for (int v = 1; v <= 19; ++v) versions.push_back("v1." + std::to_string(v));
      return answer({{"versions", versions}, {"unstable_features", json::object()}});
    }
    const std::string version = seg[2];
    std::vector<std::string> p(seg.begin() + 3, seg.end());
    auto is = [&](std::initializer_list<const char*> parts) {
      if (p.size() != parts.size()) return false;
      std::size_t i = 0;
      for (const char* part : parts) {
        if (std::string_view(part) != "*" && p[i] != part) return false;
        ++i;
      }
      return true;
    };
    if (version != "v3" && version != "v1") return error(404, "M_UNRECOGNIZED", "Unrecognized request");
    // Spec "Common error codes", M_UNRECOGNIZED: 404 for an endpoint the
    // server does not implement, whatever the credentials (Synapse's router
    // answers before any servlet checks the token).
    const bool known =
        version == "v3"
            ? is({"login"}) || is({"account", "whoami"}) || is({"joined_rooms"}) || is({"sync"}) ||
                  is({"createRoom"}) || is({"user", "*", "filter"}) || is({"user", "*", "filter", "*"}) ||
                  is({"user", "*", "account_data", "*"}) || is({"user", "*", "rooms", "*", "account_data", "*"}) ||
                  is({"join", "*"}) || is({"rooms", "*", "join"}) ||
                  is({"rooms", "*", "leave"}) || is({"rooms", "*", "invite"}) || is({"rooms", "*", "messages"}) ||
                  is({"rooms", "*", "send", "*", "*"}) || is({"rooms", "*", "redact", "*", "*"}) ||
                  is({"rooms", "*", "state", "*"}) || is({"rooms", "*", "state", "*", "*"}) ||
                  is({"rooms", "*", "event", "*"})
            : p.size() >= 4 && p.size() <= 6 && p[0] == "rooms" && p[2] == "relations";
    if (!known) return error(404, "M_UNRECOGNIZED", "Unrecognized request");

    // login.yaml: GET flows, POST m.login.password with identifier m.id.user.
    if (version == "v3" && is({"login"})) {
      if (m == "GET") return answer({{"flows", json::array({{{"type", "m.login.password"}}})}});
      if (m != "POST") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      json body;
      std::optional<FakeResponse> err;
      if (!is_object_body(req.body, body, err)) return *err;
      std::lock_guard lock(st.mutex);
      if (auto limited = st.take_token("login", true)) return *limited;
      if (body.value("type", "") != "m.login.password") return error(400, "M_UNKNOWN", "Unknown login type");
      std::string user;
      if (body.contains("identifier") && body["identifier"].is_object()) {
        if (body["identifier"].value("type", "") != "m.id.user")
          return error(400, "M_UNKNOWN", "Unknown identifier type");
        user = body["identifier"].value("user", "");
      } else {
        user = body.value("user", "");  // deprecated form
      }
      if (!user.empty() && user[0] != '@') user = user_id(user);
      auto pw = st.passwords.find(user);
      if (pw == st.passwords.end() || !body.contains("password") || body["password"] != pw->second)
        return error(403, "M_FORBIDDEN", "Invalid username or password");
      std::string device = body.value("device_id", "");
      if (device.empty()) device = random_letters(st.rng, 10);
      // "The server may invalidate any access token previously associated
      // with that device": this fake does, so a stale token shows up.
      for (auto it = st.tokens.begin(); it != st.tokens.end();)
        it = it->second.user == user && it->second.device == device ? st.tokens.erase(it) : std::next(it);
      const std::string token = "syt_" + random_letters(st.rng, 32);
      st.tokens[token] = State::Session{user, device};
      return answer({{"user_id", user}, {"access_token", token}, {"device_id", device}, {"home_server", server_name_}});
    }

    // Spec "Using access tokens": the Authorization header, or the
    // deprecated access_token query parameter (servers MUST support both).
    std::string token;
    const std::string auth = req.header("Authorization");
    if (auth.rfind("Bearer ", 0) == 0) token = auth.substr(7);
    else if (auto q = query.find("access_token"); q != query.end()) token = q->second;
    if (token.empty()) return error(401, "M_MISSING_TOKEN", "Missing access token");
    State::Session session;
    {
      std::lock_guard lock(st.mutex);
      auto t = st.tokens.find(token);
      if (t == st.tokens.end()) {
        json j{{"errcode", "M_UNKNOWN_TOKEN"}, {"error", "Unrecognised access token."}, {"soft_logout", false}};
        return FakeResponse{401, "application/json", {}, j.dump()};
      }
      session = t->second;
    }
    const bool action = m != "GET";

    if (version == "v3" && is({"account", "whoami"})) {
      if (m != "GET") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      return answer({{"user_id", session.user}, {"device_id", session.device}, {"is_guest", false}});
    }

    if (version == "v3" && is({"joined_rooms"})) {
      std::lock_guard lock(st.mutex);
      json ids = json::array();
      for (const auto& id : st.room_order)
        if (st.membership(id, session.user) == "join") ids.push_back(id);
      return answer({{"joined_rooms", ids}});
    }

    // filter.yaml
    if (version == "v3" && p.size() >= 3 && p[0] == "user" && p[2] == "filter" && p.size() <= 4) {
      if (p[1] != session.user) return error(403, "M_FORBIDDEN", "Cannot create filters for other users");
      std::lock_guard lock(st.mutex);
      auto& mine = st.filters[session.user];
      if (p.size() == 3) {
        if (m != "POST") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
        json body;
        std::optional<FakeResponse> err;
        if (!is_object_body(req.body, body, err)) return *err;
        mine.push_back(body);
        return answer({{"filter_id", std::to_string(mine.size() - 1)}});
      }
      if (m != "GET") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      std::size_t i = 0;
      try {
        i = std::stoul(p[3]);
      } catch (...) {
        i = mine.size();
      }
      if (i >= mine.size()) return error(404, "M_NOT_FOUND", "No such filter");
      return answer(mine[i]);
    }

    // account-data.yaml (global account data only).
    // account-data.yaml, per room: GET/PUT /user/{userId}/rooms/{roomId}/account_data/{type}.
    if (version == "v3" && is({"user", "*", "rooms", "*", "account_data", "*"})) {
      if (p[1] != session.user) return error(403, "M_FORBIDDEN", "Cannot add account data for other users.");
      const std::string &room_id = p[3], &type = p[5];
      std::lock_guard lock(st.mutex);
      if (!st.rooms.count(room_id)) return error(400, "M_INVALID_PARAM", "Room not found.");
      auto& mine = st.room_account_data[session.user][room_id];
      if (m == "GET") {
        if (!mine.count(type)) return error(404, "M_NOT_FOUND", "Room account data not found.");
        return answer(mine.at(type));
      }
      if (m != "PUT") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      json body;
      std::optional<FakeResponse> err;
      if (!is_object_body(req.body, body, err)) return *err;
      mine[type] = std::move(body);
      return answer(json::object());
    }

    if (version == "v3" && is({"user", "*", "account_data", "*"})) {
      if (p[1] != session.user) return error(403, "M_FORBIDDEN", "Cannot add account data for other users.");
      const std::string& type = p[3];
      if (m == "GET") {
        std::lock_guard lock(st.mutex);
        auto u = st.account_data.find(session.user);
        if (u == st.account_data.end() || !u->second.count(type))
          return error(404, "M_NOT_FOUND", "Account data not found.");
        return answer(u->second.at(type).first);
      }
      if (m != "PUT") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      if (type == "m.fully_read") return error(405, "M_BAD_JSON", "Cannot set m.fully_read through this API.");
      json body;
      std::optional<FakeResponse> err;
      if (!is_object_body(req.body, body, err)) return *err;
      std::lock_guard lock(st.mutex);
      st.put_account_data(session.user, type, std::move(body));
      return answer(json::object());
    }

    // sync.yaml: a real long-poll when `since` is given and nothing is new.
    if (version == "v3" && is({"sync"})) {
      if (m != "GET") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      std::optional<std::uint64_t> since;
      long timeout_ms = 0;
      json filter = json::object();
      const bool full_state = query.count("full_state") && query.at("full_state") == "true";
      std::lock_guard lock(st.mutex);
      if (auto s = query.find("since"); s != query.end()) {
        try {
          if (s->second.size() < 2 || s->second[0] != 's') throw std::invalid_argument("token");
          since = std::stoull(s->second.substr(1));
        } catch (...) {
          return error(400, "M_INVALID_PARAM", "Invalid stream token");
        }
        if (*since > st.pos) return error(400, "M_INVALID_PARAM", "Stream token from the future");
      }
      if (auto t = query.find("timeout"); t != query.end()) {
        try {
          timeout_ms = std::stol(t->second);
        } catch (...) {
          return error(400, "M_INVALID_PARAM", "timeout must be an integer");
        }
      }
      if (auto f = query.find("filter"); f != query.end() && !f->second.empty()) {
        // "detect whether it is an ID or a JSON object by whether the first
        // character is a '{'" (sync.yaml, filter).
        if (f->second[0] == '{') {
          try {
            filter = json::parse(f->second);
          } catch (const json::parse_error&) {
            return error(400, "M_NOT_JSON", "filter is not JSON");
          }
        } else {
          const auto& mine = st.filters[session.user];
          std::size_t i = mine.size();
          try {
            i = std::stoul(f->second);
          } catch (...) {
          }
          if (i >= mine.size()) return error(400, "M_INVALID_PARAM", "No such filter");
          filter = mine[i];
        }
      }
      bool empty = false;
      json now = st.sync(session, since, full_state, filter, empty);
      // full_state ignores timeout (sync.yaml); an initial sync answers at once.
      if (!empty || !since || full_state || timeout_ms <= 0) return answer(now);
      auto state = state_.get();
      auto lp = std::make_shared<FakeLongPoll>(
          Clock::now() + std::chrono::milliseconds{timeout_ms},
          [state, session, since, filter](bool deadline_passed) -> std::optional<FakeResponse> {
            std::lock_guard lock(state->mutex);
            bool nothing = false;
            json j = state->sync(session, since, false, filter, nothing);
            if (nothing && !deadline_passed) return std::nullopt;
            return answer(j);
          });
      st.waiters.push_back(lp);
      FakeResponse r;
      r.long_poll = lp;
      return r;
    }

    // joining.yaml: POST /join/{roomIdOrAlias} and /rooms/{roomId}/join.
    const bool join_by_alias = version == "v3" && is({"join", "*"});
    const bool join_by_id = version == "v3" && is({"rooms", "*", "join"});
    if (join_by_alias || join_by_id) {
      if (m != "POST") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      std::lock_guard lock(st.mutex);
      if (auto limited = st.take_token(session.user, action)) return *limited;
      std::string room_id = p[1];
      if (join_by_alias && !room_id.empty() && room_id[0] == '#') {
        auto a = st.aliases.find(room_id);
        if (a == st.aliases.end()) return error(404, "M_NOT_FOUND", "Room alias not found");
        room_id = a->second;
      }
      if (!st.rooms.count(room_id)) return error(404, "M_NOT_FOUND", "No known servers");
      const auto mem = st.membership(room_id, session.user);
      const auto* rules = st.state_content(room_id, "m.room.join_rules");
      const bool is_public = rules && rules->value("join_rule", "") == "public";
      if (mem == "ban") return error(403, "M_FORBIDDEN", "You are banned from this room.");
      if (mem != "join") {
        if (mem != "invite" && !is_public) return error(403, "M_FORBIDDEN", "You are not invited to this room.");
        st.set_membership(room_id, session.user, session.user, "join");
      }
      st.joins.push_back(Join{session.user, room_id, req.path});
      return answer({{"room_id", room_id}});
    }

    if (version == "v3" && is({"rooms", "*", "leave"})) {
      if (m != "POST") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      std::lock_guard lock(st.mutex);
      if (auto limited = st.take_token(session.user, action)) return *limited;
      const auto mem = st.membership(p[1], session.user);
      if (mem != "join" && mem != "invite") return error(403, "M_FORBIDDEN", "You are not in this room.");
      st.set_membership(p[1], session.user, session.user, "leave");
      return answer(json::object());
    }

    // inviting.yaml
    if (version == "v3" && is({"rooms", "*", "invite"})) {
      if (m != "POST") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      json body;
      std::optional<FakeResponse> err;
      if (!is_object_body(req.body, body, err)) return *err;
      if (!body.contains("user_id") || !body["user_id"].is_string()) return error(400, "M_BAD_JSON", "Missing user_id");
      std::lock_guard lock(st.mutex);
      if (auto limited = st.take_token(session.user, action)) return *limited;
      if (st.membership(p[1], session.user) != "join") return error(403, "M_FORBIDDEN", "You are not in this room.");
      const std::string invitee = body["user_id"];
      if (auto refused = st.check_invitee(invitee, server_name_)) return *refused;
      const auto mem = st.membership(p[1], invitee);
      if (mem == "join") return error(403, "M_FORBIDDEN", invitee + " is already in the room.");
      if (mem == "ban") return error(403, "M_FORBIDDEN", invitee + " is banned from the room");
      if (mem != "invite") st.set_membership(p[1], session.user, invitee, "invite");
      return answer(json::object());
    }

    // create_room.yaml
    if (version == "v3" && is({"createRoom"})) {
      if (m != "POST") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      json body;
      std::optional<FakeResponse> err;
      if (!is_object_body(req.body, body, err)) return *err;
      std::vector<std::string> invite;
      if (body.contains("invite")) {
        if (!body["invite"].is_array()) return error(400, "M_BAD_JSON", "invite must be a list of user ids");
        for (const auto& u : body["invite"]) {
          if (!u.is_string() || u.get<std::string>().rfind('@', 0) != 0)
            return error(400, "M_BAD_JSON", "invite must be a list of user ids");
          invite.push_back(u);
        }
      }
      json initial = body.value("initial_state", json::array());
      if (!initial.is_array()) return error(400, "M_BAD_JSON", "initial_state must be a list");
      for (const auto& s : initial)
        if (!s.is_object() || !s.contains("type") || !s["type"].is_string() || !s.contains("content") ||
            !s["content"].is_object())
          return error(400, "M_BAD_JSON", "initial_state entries need type and content");
      std::string preset = body.value("preset", "");
      if (preset.empty()) preset = body.value("visibility", "private") == "public" ? "public_chat" : "private_chat";
      if (preset != "private_chat" && preset != "public_chat" && preset != "trusted_private_chat")
        return error(400, "M_BAD_JSON", "Unknown preset");
      std::lock_guard lock(st.mutex);
      if (auto limited = st.take_token(session.user, action)) return *limited;
      const std::string alias = body.value("room_alias_name", "");
      if (!alias.empty() && st.aliases.count("#" + alias + ":" + server_name_))
        return error(400, "M_ROOM_IN_USE", "Room alias already taken");
      // Checked before anything is made (Synapse may leave a room behind
      // when an invite fails; the invitee is never in it either way).
      for (const auto& u : invite)
        if (auto refused = st.check_invitee(u, server_name_)) return *refused;
      const auto id = st.create_room(session.user, preset, body.value("name", ""), body.value("topic", ""), alias,
                                     initial, invite, body.value("is_direct", false), server_name_);
      return answer({{"room_id", id}});
    }

    // room_send.yaml, with spec "Transaction identifiers": same device, same
    // path, same txnId -> the first answer again, and no second event.
    if (version == "v3" && is({"rooms", "*", "send", "*", "*"})) {
      if (m != "PUT") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      const std::string &room_id = p[1], &type = p[3], &txn = p[4];
      const std::string key = session.user + "\n" + session.device + "\n" + room_id + "\n" + type + "\n" + txn;
      std::lock_guard lock(st.mutex);
      if (auto t = st.txns.find(key); t != st.txns.end()) {
        // Checked before the rate limit: Synapse answers a retransmission
        // from its cache without sending anything.
        ++st.retransmissions;
        return FakeResponse{t->second.status, "application/json", {}, t->second.body};
      }
      if (auto limited = st.take_token(session.user, action)) return *limited;
      json content;
      std::optional<FakeResponse> err;
      if (!is_object_body(req.body, content, err)) return *err;
      if (st.membership(room_id, session.user) != "join")
        return error(403, "M_FORBIDDEN", "User " + session.user + " not in room " + room_id);
      if (content.contains("m.relates_to") && content["m.relates_to"].is_object()) {
        const auto& rel = content["m.relates_to"];
        const std::string rel_type = rel.value("rel_type", "");
        const std::string target = rel.value("event_id", "");
        if (rel_type == "m.annotation" && type == "m.reaction") {
          // Spec "Avoiding duplicate annotations".
          for (auto i : st.rooms.at(room_id).events) {
            const auto& e = st.events[i].ev;
            if (e["type"] == type && e["sender"] == session.user && e["content"].contains("m.relates_to") &&
                !e["unsigned"].contains("redacted_because") &&
                e["content"]["m.relates_to"].value("rel_type", "") == "m.annotation" &&
                e["content"]["m.relates_to"].value("event_id", "") == target &&
                e["content"]["m.relates_to"].value("key", "") == rel.value("key", ""))
              return error(400, "M_DUPLICATE_ANNOTATION", "Can't send same reaction twice");
          }
        }
        if (rel_type == "m.thread") {
          // Threading "Validation of m.thread relationships": not off an
          // event that itself relates to another.
          auto t = st.by_event_id.find(target);
          if (t != st.by_event_id.end()) {
            const auto& tc = st.events[t->second].ev["content"];
            if (tc.is_object() && tc.contains("m.relates_to") && tc["m.relates_to"].is_object() &&
                tc["m.relates_to"].contains("rel_type"))
              return error(400, "M_UNKNOWN", "Cannot start threads from an event with a relation");
          }
        }
      }
      const auto id = st.append(room_id, session.user, type, content, std::nullopt, txn, session.device);
      st.sent.push_back(SentEvent{room_id, id, type, txn, session.user, session.device, content});
      const std::string body = json{{"event_id", id}}.dump();
      st.txns[key] = State::Txn{200, body};
      return FakeResponse{200, "application/json", {}, body};
    }

    // redaction.yaml: PUT /rooms/{roomId}/redact/{eventId}/{txnId}, with the
    // same transaction rules as send. How a reaction is taken back.
    if (version == "v3" && is({"rooms", "*", "redact", "*", "*"})) {
      if (m != "PUT") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      const std::string &room_id = p[1], &target = p[3], &txn = p[4];
      const std::string key = session.user + "\n" + session.device + "\nredact\n" + room_id + "\n" + target + "\n" + txn;
      std::lock_guard lock(st.mutex);
      if (auto t = st.txns.find(key); t != st.txns.end()) {
        ++st.retransmissions;
        return FakeResponse{t->second.status, "application/json", {}, t->second.body};
      }
      if (auto limited = st.take_token(session.user, action)) return *limited;
      json body;
      std::optional<FakeResponse> err;
      if (!is_object_body(req.body, body, err)) return *err;
      if (st.membership(room_id, session.user) != "join")
        return error(403, "M_FORBIDDEN", "User " + session.user + " not in room " + room_id);
      auto e = st.by_event_id.find(target);
      if (e == st.by_event_id.end() || st.events[e->second].ev["room_id"] != room_id)
        return error(404, "M_NOT_FOUND", "Event not found.");
      const auto id = st.redact(room_id, session.user, target, body.value("reason", ""));
      const std::string out = json{{"event_id", id}}.dump();
      st.txns[key] = State::Txn{200, out};
      return FakeResponse{200, "application/json", {}, out};
    }

    // room_state.yaml: PUT /rooms/{roomId}/state/{eventType}/{stateKey}
    // (stateKey may be empty: the path then ends at the type or a '/').
    if (version == "v3" && p.size() >= 4 && p.size() <= 5 && p[0] == "rooms" && p[2] == "state") {
      // GET /rooms/{roomId}/state/{eventType}/{stateKey}: the content of the
      // current state event, 404 M_NOT_FOUND when there is none, 403 to a
      // non-member (Synapse; how a bot asks whether a room is encrypted).
      if (m == "GET") {
        std::lock_guard lock(st.mutex);
        if (!st.rooms.count(p[1]) || st.membership(p[1], session.user) != "join")
          return error(403, "M_FORBIDDEN", "User " + session.user + " not in room " + p[1]);
        const auto* content = st.state_content(p[1], p[3], p.size() == 5 ? p[4] : std::string{});
        if (!content) return error(404, "M_NOT_FOUND", "Event not found.");
        return answer(*content);
      }
      if (m != "PUT") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      json content;
      std::optional<FakeResponse> err;
      if (!is_object_body(req.body, content, err)) return *err;
      std::lock_guard lock(st.mutex);
      if (auto limited = st.take_token(session.user, action)) return *limited;
      if (st.membership(p[1], session.user) != "join")
        return error(403, "M_FORBIDDEN", "User " + session.user + " not in room " + p[1]);
      const auto id = st.append(p[1], session.user, p[3], content, p.size() == 5 ? p[4] : std::string{});
      return answer({{"event_id", id}});
    }

    // GET /rooms/{roomId}/event/{eventId}, with the thread aggregation.
    if (version == "v3" && is({"rooms", "*", "event", "*"})) {
      if (m != "GET") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      std::lock_guard lock(st.mutex);
      auto e = st.by_event_id.find(p[3]);
      if (e == st.by_event_id.end() || st.events[e->second].ev["room_id"] != p[1] ||
          st.membership(p[1], session.user) != "join")
        return error(404, "M_NOT_FOUND", "Event not found.");
      json ev = st.render(st.events[e->second], session, true);
      st.bundle_thread(ev, session);
      return answer(ev);
    }

    // message_pagination.yaml: back-fill after a `limited` timeline, from
    // its prev_batch (tokens are stream positions, as /sync's).
    if (version == "v3" && is({"rooms", "*", "messages"})) {
      if (m != "GET") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      std::lock_guard lock(st.mutex);
      if (st.membership(p[1], session.user) != "join")
        return error(403, "M_FORBIDDEN", "User " + session.user + " not in room " + p[1]);
      const bool backwards = query.count("dir") == 0 || query.at("dir") != "f";
      std::uint64_t from = backwards ? st.pos : 0;
      std::optional<std::uint64_t> to;
      std::size_t limit = 10;
      try {
        if (query.count("from") && query.at("from").rfind('s', 0) == 0) from = std::stoull(query.at("from").substr(1));
        if (query.count("to") && query.at("to").rfind('s', 0) == 0) to = std::stoull(query.at("to").substr(1));
        if (query.count("limit")) limit = std::max<std::size_t>(1, std::stoul(query.at("limit")));
      } catch (...) {
        return error(400, "M_INVALID_PARAM", "Bad pagination parameters");
      }
      // `to`: events up to that token are not returned (backwards: those
      // at or before it; forwards: those after it).
      std::vector<const State::Event*> window;
      for (auto i : st.rooms.at(p[1]).events) {
        const auto at = st.events[i].pos;
        if (backwards ? (at <= from && (!to || at > *to)) : (at > from && (!to || at <= *to)))
          window.push_back(&st.events[i]);
      }
      if (backwards) std::reverse(window.begin(), window.end());
      json chunk = json::array();
      for (std::size_t i = 0; i < window.size() && i < limit; ++i) chunk.push_back(st.render(*window[i], session, true));
      json out{{"start", "s" + std::to_string(from)}, {"chunk", chunk}};
      if (window.size() > limit) {
        const auto last = window[limit - 1]->pos;
        out["end"] = "s" + std::to_string(backwards ? last - 1 : last);
      }
      return answer(out);
    }

    // relations.yaml (v1): children of an event, newest first unless dir=f.
    if (version == "v1" && p.size() >= 4 && p.size() <= 6 && p[0] == "rooms" && p[2] == "relations") {
      if (m != "GET") return error(405, "M_UNRECOGNIZED", "Unrecognized request");
      std::lock_guard lock(st.mutex);
      auto e = st.by_event_id.find(p[3]);
      if (e == st.by_event_id.end() || st.events[e->second].ev["room_id"] != p[1] ||
          st.membership(p[1], session.user) != "join")
        return error(404, "M_NOT_FOUND", "Event not found.");
      std::vector<const State::Event*> children;
      for (auto i : st.rooms.at(p[1]).events) {
        const auto& ev = st.events[i].ev;
        const auto& c = ev["content"];
        if (!c.is_object() || !c.contains("m.relates_to") || !c["m.relates_to"].is_object()) continue;
        const auto& rel = c["m.relates_to"];
        if (rel.value("event_id", "") != p[3]) continue;
        if (p.size() >= 5 && rel.value("rel_type", "") != p[4]) continue;
        if (p.size() == 6 && ev["type"] != p[5]) continue;
        children.push_back(&st.events[i]);
      }
      if (query.count("dir") == 0 || query.at("dir") != "f") std::reverse(children.begin(), children.end());
      std::size_t from = 0, limit = 5;
      try {
        if (query.count("from") && query.at("from").rfind('r', 0) == 0) from = std::stoul(query.at("from").substr(1));
        if (query.count("limit")) limit = std::max<std::size_t>(1, std::stoul(query.at("limit")));
      } catch (...) {
        return error(400, "M_INVALID_PARAM", "Bad pagination parameters");
      }
      json chunk = json::array();
      for (std::size_t i = from; i < children.size() && i < from + limit; ++i)
        chunk.push_back(st.render(*children[i], session, true));
      json out{{"chunk", chunk}};
      if (from + limit < children.size()) out["next_batch"] = "r" + std::to_string(from + limit);
      return answer(out);
    }

    return error(404, "M_UNRECOGNIZED", "Unrecognized request");
  }();

  if (m != "GET") notify_syncs();
  if (drop_after) {
    out.drop = true;  // it took effect; the answer is lost on the way
  }
  return out;
}

}  // namespace relance::test
