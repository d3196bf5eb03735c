#include "adapters/mattermost/mattermost_wire.hpp"

#include "adapters/common/digest.hpp"
#include "adapters/common/pacer.hpp"

#include <openssl/crypto.h>

#include <algorithm>

namespace relance::mattermost {

using nlohmann::json;

std::string action_mac(std::string_view secret, std::string_view action, std::string_view case_id) {
  std::string data;
  data.reserve(action.size() + 1 + case_id.size());
  data.append(action).append(":").append(case_id);
  return net::hmac_sha256_hex(secret, data);
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  // Compare over a fixed length so the time does not tell how much matched;
  // a length mismatch is not secret (the MAC length is public).
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool verify_action_mac(std::string_view secret, std::string_view action, std::string_view case_id,
                       std::string_view mac) {
  if (secret.empty() || mac.empty()) return false;
  return constant_time_equals(action_mac(secret, action, case_id), mac);
}

const std::vector<MenuOption>& menu_options() {
  // "SMS envoyé" / "Email envoyé" log a message left: the parser refuses the
  // result "envoye" (a sent message is the bot's own step, not a relaunch).
  static const std::vector<MenuOption> options = {
      {"telreached", Means::phone, Result::reached, "mattermost.option.phone_reached", "Téléphone — joint"},
      {"telnoanswer", Means::phone, Result::no_answer, "mattermost.option.phone_no_answer",
       "Téléphone — pas de réponse"},
      {"telmessage", Means::phone, Result::message_left, "mattermost.option.phone_message",
       "Téléphone — message laissé"},
      {"smssent", Means::sms, Result::message_left, "mattermost.option.sms_sent", "SMS envoyé"},
      {"emailsent", Means::email, Result::message_left, "mattermost.option.email_sent", "Email envoyé"},
  };
  return options;
}

namespace {

bool digits_only(std::string_view s) {
  return !s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

json action_json(std::string_view id, std::string_view type, std::string name, std::string_view style,
                 const std::string& url, std::string_view action, const std::string& case_id,
                 std::string_view secret) {
  json context = json::object();
  context["action"] = std::string(action);
  context["case"] = case_id;
  context["mac"] = action_mac(secret, action, case_id);
  json integration = json::object();
  integration["url"] = url;
  integration["context"] = std::move(context);
  json a = json::object();
  a["id"] = std::string(id);  // NOTES "Observed": [A-Za-z0-9]+ only
  a["type"] = std::string(type);
  a["name"] = std::move(name);
  if (!style.empty()) a["style"] = std::string(style);
  a["integration"] = std::move(integration);
  return a;
}

}  // namespace

std::optional<Command> action_command(std::string_view action, std::string_view case_id,
                                      std::string_view selected_option) {
  if (!digits_only(case_id)) return std::nullopt;
  const std::int64_t id = std::stoll(std::string(case_id));  // at most 15 digits
  if (id <= 0) return std::nullopt;
  if (action == action_claim) return ClaimCmd{id};
  if (action == action_resumed) return ResumedCmd{id, {}};
  if (action == action_dropout) return DropoutCmd{id, {}};
  if (action == action_log) {
    for (const auto& o : menu_options())
      if (o.value == selected_option) return LogCmd{id, o.means, o.result, {}};
  }
  return std::nullopt;
}

json post_body(const chat::Post& post, const std::string& action_url, std::string_view action_secret,
               const Text& text) {
  std::string message;
  for (const auto& m : post.mentions)
    if (!m.empty()) message += "@" + m + " ";
  message += post.markdown;
  json body = json::object();
  body["channel_id"] = post.destination;
  body["message"] = std::move(message);
  if (!post.thread_root.empty()) body["root_id"] = post.thread_root;
  json props = json::object();
  props[std::string(outbox_prop)] = std::to_string(post.outbox_id);
  if (post.alert && post.case_id && !action_url.empty()) {
    const std::string case_id = std::to_string(*post.case_id);
    json actions = json::array();
    actions.push_back(action_json("claim", "button", text("mattermost.claim", "Je prends"), "primary", action_url,
                                  action_claim, case_id, action_secret));
    json menu = action_json("relaunch", "select", text("mattermost.log", "Relance faite…"), "", action_url,
                            action_log, case_id, action_secret);
    json options = json::array();
    for (const auto& o : menu_options()) {
      json opt = json::object();
      opt["text"] = text(o.label_key, o.fallback);
      opt["value"] = std::string(o.value);
      options.push_back(std::move(opt));
    }
    menu["options"] = std::move(options);
    actions.push_back(std::move(menu));
    actions.push_back(action_json("resumed", "button", text("mattermost.resumed", "Repris"), "success", action_url,
                                  action_resumed, case_id, action_secret));
    actions.push_back(action_json("dropout", "button", text("mattermost.dropout", "Abandon"), "danger", action_url,
                                  action_dropout, case_id, action_secret));
    json attachment = json::object();
    attachment["text"] = "";
    attachment["fallback"] = text("mattermost.fallback", "Dossier") + " #" + case_id;
    attachment["actions"] = std::move(actions);
    props["attachments"] = json::array({std::move(attachment)});
  }
  body["props"] = std::move(props);
  return body;
}

json closed_props(const Text& text) {
  json attachment = json::object();
  attachment["text"] = text("mattermost.closed", "Dossier clos.");
  json props = json::object();
  props["attachments"] = json::array({std::move(attachment)});
  return props;
}

json patch_body(const chat::Edit& edit, const Text& text) {
  json body = json::object();
  body["message"] = edit.markdown;
  if (!edit.keep_actions) body["props"] = closed_props(text);
  return body;
}

json reply_body(const std::string& channel_id, const std::string& root_id, const std::string& message) {
  json body = json::object();
  body["channel_id"] = channel_id;
  body["message"] = message;
  if (!root_id.empty()) body["root_id"] = root_id;
  return body;
}

std::optional<std::string> find_outbox_post(std::string_view post_list_body, std::int64_t outbox_id) {
  auto list = json::parse(post_list_body, nullptr, false);
  if (!list.is_object() || !list.contains("posts") || !list["posts"].is_object()) return std::nullopt;
  const std::string wanted = std::to_string(outbox_id);
  for (const auto& [id, p] : list["posts"].items()) {
    if (!p.is_object() || !p.contains("props") || !p["props"].is_object()) continue;
    if (p.value("delete_at", std::int64_t{0}) != 0) continue;
    const auto& props = p["props"];
    auto it = props.find(std::string(outbox_prop));
    if (it != props.end() && it->is_string() && it->get<std::string>() == wanted) return p.value("id", id);
  }
  return std::nullopt;
}

std::string error_message(const net::HttpResult& r) {
  if (!r.answered()) return std::string(net::to_string(r.failure)) + ": " + r.error;
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    std::string m = "HTTP " + std::to_string(r.status) + ": " + j["message"].get<std::string>();
    if (j.contains("id") && j["id"].is_string()) m += " (" + j["id"].get<std::string>() + ")";
    return m;
  }
  std::string head = r.body.substr(0, 200);
  for (auto& c : head)
    if (c == '\n' || c == '\r') c = ' ';
  return "HTTP " + std::to_string(r.status) + (head.empty() ? "" : ": " + head);
}

chat::SendResult to_send_result(const net::HttpResult& r, std::chrono::system_clock::time_point now) {
  using Status = chat::SendResult::Status;
  chat::SendResult out;
  if (!r.answered()) {
    out.status = Status::retry;
    out.error = error_message(r);
    return out;
  }
  if (r.status == 200 || r.status == 201) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("id") && j["id"].is_string()) {
      out.status = Status::sent;
      out.remote_id = j["id"].get<std::string>();
      return out;
    }
    // It reached the server but we cannot tell its id: the retry (with
    // maybe_sent) finds it by its outbox id.
    out.status = Status::retry;
    out.error = "HTTP " + std::to_string(r.status) + " without a post id";
    return out;
  }
  if (r.status == 429 || r.status >= 500) {
    out.status = Status::retry;
    auto sig = net::rate_signal(r, now);
    if (sig.retry_after) out.retry_after = sig.retry_after;
    else if (r.status == 429 && sig.reset_in) out.retry_after = sig.reset_in;
    out.error = error_message(r);
    return out;
  }
  out.status = Status::failed;
  out.error = error_message(r);
  return out;
}

std::optional<WirePost> decode_post(const json& j) {
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) return std::nullopt;
  WirePost p;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  auto num = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : std::int64_t{0};
  };
  p.id = str("id");
  p.user_id = str("user_id");
  p.channel_id = str("channel_id");
  p.root_id = str("root_id");
  p.message = str("message");
  p.type = str("type");
  p.create_at = num("create_at");
  p.update_at = num("update_at");
  p.delete_at = num("delete_at");
  return p;
}

Event decode_event(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Undecodable{"not a JSON object"};
  if (j.contains("seq_reply")) return Reply{};
  if (!j.contains("event") || !j["event"].is_string()) return Undecodable{"no event"};
  const std::string event = j["event"].get<std::string>();
  const std::int64_t seq = j.contains("seq") && j["seq"].is_number_integer() ? j["seq"].get<std::int64_t>() : -1;
  const json data = j.contains("data") && j["data"].is_object() ? j["data"] : json::object();
  auto data_str = [&](const char* k) {
    auto it = data.find(k);
    return it != data.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  if (event == "hello") return Hello{seq, data_str("connection_id")};
  if (event == "posted") {
    // NOTES §3: data.post is a JSON string; parse it a second time.
    auto post = decode_post(json::parse(data_str("post"), nullptr, false));
    if (!post) return OtherEvent{seq, event};  // counted, not handled
    return Posted{seq, std::move(*post), data_str("channel_type"), data_str("sender_name")};
  }
  if (event == "reaction_added") {
    auto r = json::parse(data_str("reaction"), nullptr, false);
    if (!r.is_object()) return OtherEvent{seq, event};
    ReactionAdded out;
    out.seq = seq;
    out.user_id = r.value("user_id", std::string{});
    out.post_id = r.value("post_id", std::string{});
    out.emoji_name = r.value("emoji_name", std::string{});
    out.channel_id = r.value("channel_id", std::string{});
    if (out.channel_id.empty() && j.contains("broadcast") && j["broadcast"].is_object())
      out.channel_id = j["broadcast"].value("channel_id", std::string{});
    return out;
  }
  return OtherEvent{seq, event};
}

std::vector<WirePost> decode_post_list(std::string_view body) {
  std::vector<WirePost> out;
  auto list = json::parse(body, nullptr, false);
  if (!list.is_object() || !list.contains("order") || !list["order"].is_array() || !list.contains("posts") ||
      !list["posts"].is_object())
    return out;
  const auto& posts = list["posts"];
  for (auto it = list["order"].rbegin(); it != list["order"].rend(); ++it) {
    if (!it->is_string()) continue;
    auto p = posts.find(it->get<std::string>());
    if (p == posts.end()) continue;
    if (auto post = decode_post(*p)) out.push_back(std::move(*post));
  }
  return out;
}

std::optional<std::int64_t> next_since(const std::vector<WirePost>& page, std::int64_t since) {
  if (page.size() < since_listing_cap) return std::nullopt;
  std::int64_t newest = since;
  for (const auto& p : page) newest = std::max(newest, p.update_at);
  if (newest - 1 > since) return newest - 1;
  if (newest > since) return newest;
  return std::nullopt;  // nothing newer than `since`: no progress possible
}

std::optional<std::string> command_line(std::string_view message, bool direct, std::string_view bot_username) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
      s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
      s.remove_suffix(1);
    return s;
  };
  std::string_view m = trim(message);
  bool mentioned = false;
  if (!bot_username.empty() && m.size() > bot_username.size() && m.front() == '@' &&
      m.substr(1, bot_username.size()) == bot_username) {
    const std::string_view rest = m.substr(1 + bot_username.size());
    // "@relance-bot2" is somebody else; "@relance-bot:", "@relance-bot," are us.
    if (rest.empty() || rest.front() == ' ' || rest.front() == ':' || rest.front() == ',' || rest.front() == '\t' ||
        rest.front() == '\n') {
      mentioned = true;
      m = rest;
      if (!m.empty() && (m.front() == ':' || m.front() == ',')) m.remove_prefix(1);
      m = trim(m);
    }
  }
  if (!direct && !mentioned) return std::nullopt;
  return std::string(m.empty() ? std::string_view("aide") : m);
}

}  // namespace relance::mattermost
