// The console staff channel: a terminal where alerts are printed and staff
// commands typed (demo, local use). Lines are read on a thread of their own
// and handed to the app's thread through `post`, so the app stays
// single-threaded like with every other adapter.
#pragma once

#include <atomic>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace relance::console {

class ConsoleChannel {
public:
  using Post = std::function<void(std::function<void()>)>;
  ConsoleChannel(std::istream& in, std::ostream& out, std::string prompt);
  ~ConsoleChannel();

  // Starts reading; `on_line` and `on_eof` run through `post`.
  void start(Post post, std::function<void(std::string)> on_line, std::function<void()> on_eof);
  // Prints a block of text (an alert, a reply) followed by the prompt.
  void show(std::string_view text);
  void prompt();

private:
  std::istream& in_;
  std::ostream& out_;
  std::string prompt_;
  std::mutex out_mutex_;
  std::thread reader_;
};

// Words that end a console session ("quitter", "quit", "exit").
bool is_quit(std::string_view line);

}  // namespace relance::console
