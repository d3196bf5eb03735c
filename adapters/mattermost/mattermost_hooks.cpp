#include "adapters/mattermost/mattermost_hooks.hpp"

#include "messages/render/staff.hpp"
#include "adapters/common/form.hpp"
#include "adapters/mattermost/mattermost_sender.hpp"
#include "adapters/mattermost/mattermost_wire.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace relance::mattermost {

using nlohmann::json;

namespace {

HookReply reply(int status, const json& j) { return HookReply{status, j.dump()}; }

// A refusal the clicker reads: ephemeral on every server, and the custom
// error under the post on servers >= 10.5 (NOTES §5).
HookReply refuse_click(const std::string& text) {
  json j = json::object();
  j["ephemeral_text"] = text;
  j["error"] = json{{"message", text}};
  return reply(200, j);
}

std::string field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

MattermostHooks::MattermostHooks(const MattermostConfig& config, chat::Hooks hooks)
    : config_(config), hooks_(std::move(hooks)) {}

HookReply MattermostHooks::handle_action(std::string_view json_body) const {
  auto body = json::parse(json_body, nullptr, false);
  if (!body.is_object() || !body.contains("context") || !body["context"].is_object()) {
    spdlog::warn("mattermost action: unreadable request");
    return refuse_click(text_or(hooks_, "mattermost.error.bad_request", "Action illisible : rien n'a été fait."));
  }
  const auto& context = body["context"];
  const std::string action = field(context, "action");
  const std::string case_id = field(context, "case");
  const std::string mac = field(context, "mac");
  const std::string user = field(body, "user_name");
  if (!verify_action_mac(config_.action_secret, action, case_id, mac)) {
    // Mattermost keeps `context` server-side: a bad MAC is a forged call
    // (or a rotated secret: old buttons stop working, commands still do).
    spdlog::warn("mattermost action: refused a click with a bad signature (action '{}', case '{}', user '{}')",
                 action, case_id, user);
    return refuse_click(text_or(hooks_, "mattermost.error.forged",
                                "Ce bouton n'est pas valide (signature refusée). Utilisez la commande à la place."));
  }
  auto command = action_command(action, case_id, field(context, "selected_option"));
  if (!command || user.empty()) {
    spdlog::warn("mattermost action: unknown action '{}' or option for case {}", action, case_id);
    return refuse_click(text_or(hooks_, "mattermost.error.bad_request", "Action illisible : rien n'a été fait."));
  }
  const auto& run = hooks_.click ? hooks_.click : hooks_.command;
  if (!run) return refuse_click("relance is not ready");
  // The answer below carries the alert's update: the app does not edit it again.
  const auto answer = run(chat::Network::mattermost, user, chat::Input(*command));
  json out = json::object();
  std::string ephemeral = answer.text;
  if (!answer.staff && ephemeral.empty())
    ephemeral = text_or(hooks_, "mattermost.error.not_staff", "Vous ne faites pas partie de l'équipe relance.");
  out["ephemeral_text"] = render::escape_markdown(ephemeral);
  if (answer.staff && answer.ok && hooks_.alert_status) {
    std::int64_t id = std::stoll(case_id);  // digits only (action_command checked)
    if (auto edit = hooks_.alert_status(chat::Network::mattermost, id)) {
      json update = json::object();
      update["message"] = edit->markdown;
      // NOTES "Update semantics": no props keeps the buttons; the
      // attachment without actions consumes them once the case is over.
      if (!edit->keep_actions) update["props"] = closed_props([this](std::string_view k, std::string_view f) {
        return text_or(hooks_, k, f);
      });
      out["update"] = std::move(update);
    }
  }
  spdlog::debug("mattermost action: {} on case {} by {} -> {}", action, case_id, user,
               !answer.staff ? "not staff" : answer.ok ? "ok" : "refused");
  return reply(200, out);
}

HookReply MattermostHooks::handle_command(std::string_view authorization_header, std::string_view form_body) const {
  const auto fields = net::form_decode(form_body);
  const std::string* token_field = net::form_find(fields, "token");
  std::string_view header_token;
  const auto auth = trim(authorization_header);
  if (auth.size() > 6 && (auth.substr(0, 6) == "Token " || auth.substr(0, 6) == "token "))
    header_token = trim(auth.substr(6));
  auto error = [](int status, const char* id, const char* message) {
    json j = json::object();
    j["id"] = id;
    j["message"] = message;
    j["status_code"] = status;
    return reply(status, j);
  };
  if (config_.command_token.empty()) {
    spdlog::warn("mattermost command: refused (no command token configured)");
    return error(403, "relance.command.disabled", "Slash commands are not configured.");
  }
  if (header_token.empty() && (!token_field || token_field->empty()))
    return error(401, "relance.command.no_token", "Missing command token.");
  // Every token given must match (a header and a field that disagree are refused).
  bool good = true;
  if (!header_token.empty()) good = constant_time_equals(header_token, config_.command_token) && good;
  if (token_field && !token_field->empty()) good = constant_time_equals(*token_field, config_.command_token) && good;
  if (!good) {
    spdlog::warn("mattermost command: refused a wrong command token");
    return error(403, "relance.command.bad_token", "Invalid command token.");
  }
  const std::string* user = net::form_find(fields, "user_name");
  const std::string* text = net::form_find(fields, "text");
  std::string line(trim(text ? std::string_view(*text) : std::string_view{}));
  if (line.empty()) line = "aide";
  json out = json::object();
  out["response_type"] = "ephemeral";
  if (!user || user->empty() || !hooks_.command) {
    out["text"] = render::escape_markdown(text_or(hooks_, "mattermost.error.bad_request", "Action illisible : rien n'a été fait."));
    return reply(200, out);
  }
  const auto answer = hooks_.command(chat::Network::mattermost, *user, chat::Typed{line});
  std::string t = answer.text;
  if (!answer.staff && t.empty())
    t = text_or(hooks_, "mattermost.error.not_staff", "Vous ne faites pas partie de l'équipe relance.");
  out["text"] = render::escape_markdown(t);
  spdlog::debug("mattermost command by {} -> {}", *user, !answer.staff ? "not staff" : answer.ok ? "ok" : "refused");
  return reply(200, out);
}

}  // namespace relance::mattermost
