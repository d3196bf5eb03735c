// The long-running service: one io_context thread running the HTTP server,
// the scheduler (sleeps until the next due time, or until something changes),
// the Moodle poller and, for local use, the console staff channel.
#pragma once

#include "bot/app/engine.hpp"

#include <cstdint>
#include <functional>
#include <iosfwd>

namespace boost::asio {
class io_context;
}

namespace relance::app {

struct RunOptions {
  bool console = false;           // staff channel in this terminal
  bool http = true;               // serve the HTTP port
  bool moodle = true;             // poll Moodle when configured
  bool chat = true;               // Mattermost / Matrix when configured
  bool learner_channels = true;   // SMS gateway, SMTP (and their webhooks) when configured
  std::function<Timestamp()> clock;  // defaults to the system clock
  // Called on the service thread once everything started, with the
  // io_context (post io.stop() to end the service) and the HTTP port.
  std::function<void(boost::asio::io_context&, std::uint16_t http_port)> on_ready;
};

// Runs until SIGINT/SIGTERM, or "quitter" / end of input on the console.
// Returns the process exit code.
int run_service(Engine& engine, const RunOptions& opts, std::istream& in, std::ostream& out);

// The fictional sample cohort of `relance demo`, with activity relative to
// `now`, so that alerts appear at once. Returns how many learners.
int load_demo_cohort(Engine& engine, Timestamp now);
// The demo's configuration (deploy/demo.toml, compiled in).
std::string_view demo_config_text();

Timestamp system_now();

}  // namespace relance::app
