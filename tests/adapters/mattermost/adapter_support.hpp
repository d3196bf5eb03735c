// Shared by the Mattermost adapter tests: a config pointing at a
// FakeMattermost, and a tiny staff-command handler standing in for the app
// (the lead tests the real app path). Hooks may run on another thread (the
// integration server's), hence the mutex.
#pragma once

#include "adapters/chat/chat.hpp"
#include "bot/app/config.hpp"
#include "messages/catalog.hpp"
#include "tests/support/fake_mattermost.hpp"

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace relance::test {

struct StaffDesk {
  struct Call {
    std::string user;
    std::string line;   // as typed, or the command a click or reaction is (chat::line_of)
    bool typed = true;  // false: it came as a command, not as text to parse
  };
  std::set<std::string> staff{"alice"};
  std::set<std::int64_t> closed;        // cases over: alert_status removes the buttons
  std::map<std::string, std::int64_t> alerts;  // remote post id -> case

  std::vector<Call> calls() const {
    std::lock_guard lock(mutex);
    return calls_;
  }
  std::size_t call_count() const {
    std::lock_guard lock(mutex);
    return calls_.size();
  }
  void add_alert(const std::string& post_id, std::int64_t case_id) {
    std::lock_guard lock(mutex);
    alerts[post_id] = case_id;
  }

  chat::Hooks hooks() {
    static const auto catalog = messages::Catalog::load(messages::Catalog::default_dir());
    chat::Hooks h;
    h.command = [this](chat::Network, std::string_view user, const chat::Input& input) {
      const std::string line = chat::line_of(input);
      std::lock_guard lock(mutex);
      calls_.push_back({std::string(user), line, std::holds_alternative<chat::Typed>(input)});
      chat::Answer a;
      if (!staff.count(std::string(user))) {
        a.staff = false;
        a.ok = false;
        a.text = "Refusé : " + std::string(user) + " n'est pas de l'équipe.";
        return a;
      }
      const std::string l(line);
      if (l.rfind("prendre ", 0) == 0) {
        a.case_id = std::stoll(l.substr(8));
        a.text = "Dossier #" + l.substr(8) + " pris en charge par " + std::string(user) + ".";
      } else if (l.rfind("abandon ", 0) == 0) {
        a.case_id = std::stoll(l.substr(8));
        closed.insert(*a.case_id);
        a.text = "Dossier #" + l.substr(8) + " clos (abandon).";
      } else if (l == "aide") {
        a.text = "Commandes : prendre <dossier>, relance <dossier> <moyen> <résultat>";
      } else {
        a.text = "Fait : " + l;
      }
      return a;
    };
    h.case_of_post = [this](chat::Network, std::string_view id) -> std::optional<std::int64_t> {
      std::lock_guard lock(mutex);
      auto it = alerts.find(std::string(id));
      if (it == alerts.end()) return std::nullopt;
      return it->second;
    };
    h.alert_status = [this](chat::Network, std::int64_t id) -> std::optional<chat::Edit> {
      std::lock_guard lock(mutex);
      chat::Edit e;
      e.markdown = "✋ Dossier #" + std::to_string(id) + " — pris en charge";
      e.keep_actions = !closed.count(id);
      return e;
    };
    h.first_seen = [this](std::string_view source, std::string_view id) {
      std::lock_guard lock(mutex);
      return seen_.insert(std::string(source) + "/" + std::string(id)).second;
    };
    h.load = [this](std::string_view key) -> std::optional<std::string> {
      std::lock_guard lock(mutex);
      auto it = kv_.find(std::string(key));
      if (it == kv_.end()) return std::nullopt;
      return it->second;
    };
    h.save = [this](std::string_view key, std::string_view value) {
      std::lock_guard lock(mutex);
      kv_[std::string(key)] = std::string(value);
    };
    h.text = [](std::string_view key, const std::vector<std::pair<std::string, std::string>>& params) {
      Params p(params.begin(), params.end());
      return catalog.render("fr", key, p);
    };
    return h;
  }

  mutable std::mutex mutex;

private:
  std::vector<Call> calls_;
  std::set<std::string> seen_;
  std::map<std::string, std::string> kv_;
};

inline mattermost::MattermostConfig config_for(const FakeMattermost& mm, const std::string& channel_id,
                                        const std::string& public_url = {}) {
  mattermost::MattermostConfig c;
  c.enabled = true;
  c.url = mm.url();
  c.bot_token = mm.options().bot_token;
  c.command_token = "cmdtokencmdtokencmdtokencm";
  c.action_secret = "a secret for the button contexts";
  c.public_url = public_url;
  c.default_channel = channel_id;
  return c;
}

}  // namespace relance::test
