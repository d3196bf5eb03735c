#include "adapters/console/console.hpp"

#include <istream>
#include <ostream>

namespace relance::console {

ConsoleChannel::ConsoleChannel(std::istream& in, std::ostream& out, std::string prompt)
    : in_(in), out_(out), prompt_(std::move(prompt)) {}

ConsoleChannel::~ConsoleChannel() {
  // std::getline cannot be interrupted portably; the reader ends at EOF or
  // when the process exits, so it is detached rather than joined.
  if (reader_.joinable()) reader_.detach();
}

void ConsoleChannel::start(Post post, std::function<void(std::string)> on_line, std::function<void()> on_eof) {
  reader_ = std::thread([this, post = std::move(post), on_line = std::move(on_line), on_eof = std::move(on_eof)] {
    std::string line;
    while (std::getline(in_, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      post([on_line, line] { on_line(line); });
    }
    post(on_eof);
  });
}

void ConsoleChannel::show(std::string_view text) {
  std::lock_guard lock(out_mutex_);
  out_ << "\r" << text << "\n" << prompt_ << std::flush;
}

void ConsoleChannel::prompt() {
  std::lock_guard lock(out_mutex_);
  out_ << prompt_ << std::flush;
}

bool is_quit(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  return line == "quitter" || line == "quit" || line == "exit" || line == "sortir";
}

}  // namespace relance::console
