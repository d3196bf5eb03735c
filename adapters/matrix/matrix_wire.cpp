#include "adapters/matrix/matrix_wire.hpp"

#include "messages/render/staff.hpp"
#include "adapters/common/form.hpp"
#include "messages/text/markup.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace relance::matrix {

using nlohmann::json;

namespace {

// Spec "User and room mentions": a pill is a matrix.to permalink.
std::string pill(std::string_view user_id) {
  const std::string id = text::html_entities(user_id);
  return "<a href=\"https://matrix.to/#/" + id + "\">" + id + "</a>";
}

// "a, b" for the plain body and the pills of the HTML one.
std::string mention_prefix(const std::vector<std::string>& mentions, bool html) {
  std::string out;
  for (const auto& m : mentions) {
    if (!out.empty()) out += ", ";
    out += html ? pill(m) : m;
  }
  if (!out.empty()) out += " : ";
  return out;
}

json thread_relation(std::string_view root, std::string_view in_reply_to) {
  json rel = json::object();
  rel["rel_type"] = "m.thread";
  rel["event_id"] = std::string(root);
  // Spec "Threading", fallback for clients without threads: a reply to the
  // latest event we know of in the thread (the root when it is ours).
  rel["is_falling_back"] = true;
  rel["m.in_reply_to"] = json::object({{"event_id", std::string(in_reply_to.empty() ? root : in_reply_to)}});
  return rel;
}

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string str(const json& j, const char* key) {
  const json* v = member(j, key);
  return v && v->is_string() ? v->get<std::string>() : std::string{};
}

const json& events_of(const json& section) {
  static const json empty = json::array();
  const json* ev = member(section, "events");
  return ev && ev->is_array() ? *ev : empty;
}

// One timeline event; nullopt when it is not even an event (skipped).
std::optional<TimelineEvent> read_event(const json& ev) {
  if (!ev.is_object()) return std::nullopt;
  const std::string type = str(ev, "type");
  const std::string id = str(ev, "event_id");
  const std::string sender = str(ev, "sender");
  if (type.empty() || sender.empty()) return std::nullopt;
  const json* content = member(ev, "content");
  if (!content || !content->is_object()) return std::nullopt;
  const json* rel = member(*content, "m.relates_to");
  if (rel && !rel->is_object()) rel = nullptr;

  if (type == "m.room.encrypted" || (type == "m.room.encryption" && ev.contains("state_key")))
    return Encrypted{id, sender};
  if (type == "m.room.message") {
    Message m{id, sender, str(*content, "msgtype"), str(*content, "body"), {}, false};
    if (rel) {
      const std::string rel_type = str(*rel, "rel_type");
      if (rel_type == "m.thread") m.thread_root = str(*rel, "event_id");
      if (rel_type == "m.replace") m.is_edit = true;
    }
    // A redacted message has an empty content: nothing to act on.
    if (m.body.empty() && !m.is_edit) return Unknown{id, sender, type};
    return m;
  }
  if (type == "m.reaction") {
    if (!rel || str(*rel, "rel_type") != "m.annotation") return Unknown{id, sender, type};
    return Reaction{id, sender, str(*rel, "event_id"), str(*rel, "key")};
  }
  return Unknown{id, sender, type};
}

// m.room.member of ourselves with membership join.
bool is_own_join(const json& ev, std::string_view own_user_id) {
  if (str(ev, "type") != "m.room.member" || str(ev, "state_key") != own_user_id) return false;
  const json* content = member(ev, "content");
  return content && str(*content, "membership") == "join";
}

}  // namespace

std::string encode_segment(std::string_view s) { return net::percent_encode(s); }
std::string encode_query(std::string_view s) { return net::percent_encode(s); }

std::string stable_hash(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = "0123456789abcdef"[h & 15];
    h >>= 4;
  }
  return out;
}

std::string txn_for_post(std::int64_t outbox_id) { return "relance." + std::to_string(outbox_id); }

std::string txn_for_edit(const chat::Edit& e) {
  // The same edit retried is one event; a different text is a new edit.
  std::string key = e.destination;
  for (const std::string* part : {&e.remote_id, &e.plain, &e.html}) {
    key += '\n';
    key += *part;
  }
  key += e.keep_actions ? "\n1" : "\n0";
  return "relance.edit." + stable_hash(key);
}

std::string txn_for_reply(std::string_view to_event_id) { return "relance.reply." + stable_hash(to_event_id); }

std::string txn_for_e2ee_notice(std::string_view room_id) { return "relance.e2ee." + stable_hash(room_id); }

ErrorBody parse_error(std::string_view body) {
  ErrorBody out;
  if (body.empty() || body.front() != '{') return out;
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return out;
  out.errcode = str(j, "errcode");
  out.error = str(j, "error");
  return out;
}

json post_content(const chat::Post& post, std::string_view claim_hint) {
  std::string body = mention_prefix(post.mentions, false) + post.plain;
  std::string html = mention_prefix(post.mentions, true) + post.html;
  if (!claim_hint.empty()) {
    body += "\n";
    body += claim_hint;
    html += "<br>";
    html += text::html_entities(claim_hint);
  }
  json c = json::object();
  c["msgtype"] = "m.notice";
  c["body"] = std::move(body);
  c["format"] = "org.matrix.custom.html";
  c["formatted_body"] = std::move(html);
  json ids = json::array();
  for (const auto& m : post.mentions) ids.push_back(m);
  // Always present (possibly empty): a client that sees m.mentions does not
  // fall back to scanning the body for the bot's name (spec "Mentions").
  c["m.mentions"] = json::object({{"user_ids", std::move(ids)}});
  if (!post.thread_root.empty())
    c["m.relates_to"] = thread_relation(post.thread_root, post.reply_to);
  else if (!post.reply_to.empty())
    c["m.relates_to"] = json::object({{"m.in_reply_to", json::object({{"event_id", post.reply_to}})}});
  return c;
}

json edit_content(const chat::Edit& edit, std::string_view claim_hint) {
  std::string body = edit.plain;
  std::string html = edit.html;
  if (edit.keep_actions && !claim_hint.empty()) {
    body += "\n";
    body += claim_hint;
    html += "<br>";
    html += text::html_entities(claim_hint);
  }
  json fresh = json::object();
  fresh["msgtype"] = "m.notice";
  fresh["body"] = body;
  fresh["format"] = "org.matrix.custom.html";
  fresh["formatted_body"] = html;
  fresh["m.mentions"] = json::object();
  json c = json::object();
  c["msgtype"] = "m.notice";
  c["body"] = "* " + body;
  c["format"] = "org.matrix.custom.html";
  c["formatted_body"] = "* " + html;
  // Spec "Event replacements" + "Mentions": an edit notifies nobody again.
  c["m.mentions"] = json::object();
  c["m.new_content"] = std::move(fresh);
  c["m.relates_to"] = json::object({{"rel_type", "m.replace"}, {"event_id", edit.remote_id}});
  return c;
}

json notice_content(std::string_view text, std::string_view thread_root, std::string_view in_reply_to) {
  json c = json::object();
  c["msgtype"] = "m.notice";
  // The app's answers quote learners: "@room" in a name must not ping anyone.
  c["body"] = render::escape_plain(text);
  c["format"] = "org.matrix.custom.html";
  c["formatted_body"] = render::escape_html(text);
  c["m.mentions"] = json::object();
  if (!thread_root.empty())
    c["m.relates_to"] = thread_relation(thread_root, in_reply_to);
  else if (!in_reply_to.empty())
    c["m.relates_to"] = json::object({{"m.in_reply_to", json::object({{"event_id", std::string(in_reply_to)}})}});
  return c;
}

bool is_user_id(std::string_view s) {
  if (s.size() < 4 || s[0] != '@') return false;
  const auto colon = s.find(':');
  if (colon == std::string_view::npos || colon < 2 || colon + 1 >= s.size()) return false;
  return std::none_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) || c < 0x20; });
}

json direct_room_request(std::string_view learner) {
  json r = json::object();
  r["is_direct"] = true;
  r["invite"] = json::array({std::string(learner)});
  // trusted_private_chat: invite-only, and the learner gets the same power
  // as the bot (what clients do for a DM). Deliberately no
  // initial_state m.room.encryption: relance does not do end-to-end
  // encryption, and clients would otherwise default DMs to encrypted.
  r["preset"] = "trusted_private_chat";
  return r;
}

json direct_message_content(std::string_view body, std::string_view html) {
  json c = json::object();
  c["msgtype"] = "m.text";
  c["body"] = std::string(body);
  if (!html.empty()) {
    c["format"] = "org.matrix.custom.html";
    c["formatted_body"] = std::string(html);
  }
  // Nobody to notify but the learner, who is notified of a DM anyway.
  c["m.mentions"] = json::object();
  return c;
}

std::vector<std::string> direct_rooms_of(const json& m_direct, std::string_view user) {
  std::vector<std::string> out;
  if (!m_direct.is_object()) return out;
  auto it = m_direct.find(std::string(user));
  if (it == m_direct.end() || !it->is_array()) return out;
  for (const auto& r : *it)
    if (r.is_string()) out.push_back(r.get<std::string>());
  return out;
}

json direct_updated(const json& m_direct, std::string_view user, std::string_view add,
                    const std::vector<std::string>& drop) {
  json out = m_direct.is_object() ? m_direct : json::object();
  const std::string key(user);
  json list = out.contains(key) && out[key].is_array() ? out[key] : json::array();
  json kept = json::array();
  for (const auto& r : list)
    if (!r.is_string() || std::find(drop.begin(), drop.end(), r.get<std::string>()) == drop.end()) kept.push_back(r);
  if (!add.empty() && std::find(kept.begin(), kept.end(), json(std::string(add))) == kept.end())
    kept.push_back(std::string(add));
  if (kept.empty()) out.erase(key);
  else out[key] = std::move(kept);
  return out;
}

json backfill_filter() {
  json f = json::object();
  f["types"] = json::array({"m.room.message", "m.reaction", "m.room.member", "m.room.encryption", "m.room.encrypted"});
  return f;
}

json sync_filter(std::int64_t timeline_limit) {
  const json none = json::object({{"types", json::array()}});
  json timeline = backfill_filter();
  timeline["limit"] = timeline_limit;
  json room = json::object();
  room["timeline"] = std::move(timeline);
  room["state"] = json::object({{"types", json::array({"m.room.encryption"})}});
  room["ephemeral"] = none;
  room["account_data"] = none;
  json f = json::object();
  f["room"] = std::move(room);
  f["presence"] = none;
  f["account_data"] = none;
  return f;
}

json password_login(std::string_view user, std::string_view password, std::string_view device_id) {
  json j = json::object();
  j["type"] = "m.login.password";
  j["identifier"] = json::object({{"type", "m.id.user"}, {"user", std::string(user)}});
  j["password"] = std::string(password);
  j["device_id"] = std::string(device_id);
  j["initial_device_display_name"] = "relance";
  return j;
}

SyncBatch parse_sync(const json& j, std::string_view own_user_id) {
  if (!j.is_object() || !j.contains("next_batch") || !j["next_batch"].is_string())
    throw std::invalid_argument("sync answer without next_batch");
  SyncBatch out;
  out.next_batch = j["next_batch"].get<std::string>();
  const json* rooms = member(j, "rooms");
  if (!rooms || !rooms->is_object()) return out;

  if (const json* invites = member(*rooms, "invite"); invites && invites->is_object()) {
    for (const auto& [room_id, entry] : invites->items()) {
      Invite inv{room_id, {}, false};
      const json* state = member(entry, "invite_state");
      if (!state) continue;
      for (const auto& ev : events_of(*state)) {
        const std::string type = str(ev, "type");
        if (type == "m.room.encryption") inv.encrypted = true;
        if (type == "m.room.member" && str(ev, "state_key") == own_user_id && member(ev, "content") &&
            str(ev["content"], "membership") == "invite")
          inv.inviter = str(ev, "sender");
      }
      out.invites.push_back(std::move(inv));
    }
  }

  if (const json* joined = member(*rooms, "join"); joined && joined->is_object()) {
    for (const auto& [room_id, entry] : joined->items()) {
      JoinedRoom room{room_id, false, false, {}};
      if (const json* state = member(entry, "state"))
        for (const auto& ev : events_of(*state))
          if (str(ev, "type") == "m.room.encryption") room.encrypted = true;
      if (const json* timeline = member(entry, "timeline")) {
        if (const json* limited = member(*timeline, "limited"); limited && limited->is_boolean())
          room.limited = limited->get<bool>();
        room.prev_batch = str(*timeline, "prev_batch");
        for (const auto& ev : events_of(*timeline)) {
          if (is_own_join(ev, own_user_id)) room.joined_here = true;
          auto e = read_event(ev);
          if (!e) {
            ++out.skipped;
            continue;
          }
          if (std::holds_alternative<Encrypted>(*e)) room.encrypted = true;
          room.timeline.push_back(std::move(*e));
        }
      }
      out.joined.push_back(std::move(room));
    }
  }
  return out;
}

BackfillPage parse_backfill_page(const json& j, std::string_view own_user_id) {
  BackfillPage out;
  if (!j.is_object()) return out;
  out.end = str(j, "end");
  const json* chunk = member(j, "chunk");
  if (chunk && chunk->is_array()) {
    // dir=b: newest first. Stop at our own join: older events are history.
    for (const auto& ev : *chunk) {
      if (is_own_join(ev, own_user_id)) {
        out.reached_own_join = true;
        break;
      }
      auto e = read_event(ev);
      if (!e) {
        ++out.skipped;
        continue;
      }
      out.events.push_back(std::move(*e));
    }
  }
  std::reverse(out.events.begin(), out.events.end());
  // message_pagination.yaml: no `end` (or an empty chunk) means no more.
  if (out.reached_own_join || !chunk || !chunk->is_array() || chunk->empty()) out.end.clear();
  return out;
}

bool is_claim_key(std::string_view key) {
  // Strip the emoji presentation selector and skin tone modifiers.
  std::string k(key);
  for (std::string_view tail : {"\xEF\xB8\x8F" /* U+FE0F */}) {
    for (auto at = k.find(tail); at != std::string::npos; at = k.find(tail)) k.erase(at, tail.size());
  }
  for (unsigned char tone = 0xBB; tone <= 0xBF; ++tone) {
    const std::string modifier{'\xF0', '\x9F', '\x8F', static_cast<char>(tone)};  // U+1F3FB..U+1F3FF
    for (auto at = k.find(modifier); at != std::string::npos; at = k.find(modifier)) k.erase(at, modifier.size());
  }
  return k == "\xE2\x9C\x8B" /* ✋ U+270B */ || k == "\xE2\x9C\x85" /* ✅ U+2705 */;
}

std::optional<std::string> command_line(std::string_view body, std::string_view prefix) {
  // Reply fallback (before v1.13 clients quoted the parent): "> ..." lines,
  // then an empty line.
  while (body.substr(0, 2) == "> ") {
    auto nl = body.find('\n');
    body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
    if (body.substr(0, 1) == "\n") body.remove_prefix(1);
  }
  while (!body.empty() && (body.front() == ' ' || body.front() == '\t')) body.remove_prefix(1);
  if (prefix.empty() || body.substr(0, prefix.size()) != prefix) return std::nullopt;
  body.remove_prefix(prefix.size());
  if (!body.empty() && !std::isspace(static_cast<unsigned char>(body.front()))) return std::nullopt;
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.front()))) body.remove_prefix(1);
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.remove_suffix(1);
  return std::string(body);
}

}  // namespace relance::matrix
