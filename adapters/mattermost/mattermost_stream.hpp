// The event stream's bookkeeping as a pure state machine (no I/O, no clock):
// the listener feeds it each connection start and each decoded frame and
// does what it answers. NOTES §3 and "Observed / Reconnection":
// - `hello` carries connection_id (empty unless reliable WebSockets are on)
//   and starts `seq` at 0 for a fresh connection;
// - a reconnect may send ?connection_id=&sequence_number=<last seq + 1>; a
//   server that can resume replays from there without a new `hello`, else
//   it sends a fresh `hello` and the client catches up over REST;
// - a gap in `seq` means events were lost: reconnect (and resume or resync).
#pragma once

#include "adapters/mattermost/mattermost_wire.hpp"

#include <cstdint>
#include <string>

namespace relance::mattermost {

class StreamState {
public:
  enum class Action {
    ignore,     // replies, undecodable frames, a resumed hello
    handle,     // a new event in order: act on it
    resync,     // a fresh session after an earlier one: catch up over REST, then go on
    reconnect,  // a gap in seq: drop this connection and reconnect (resuming)
  };

  // `catch_up_first`: the first fresh session resyncs too (a saved position
  // from an earlier run exists).
  explicit StreamState(bool catch_up_first = false) : catch_up_(catch_up_first) {}

  // The query for the next upgrade: "?connection_id=…&sequence_number=…" once
  // a connection id is known, else empty.
  std::string resume_query() const;
  // A new connection is open (before its first frame).
  void on_connect() { first_frame_ = true; }
  Action on_event(const Event& ev);

  std::int64_t next_seq() const { return next_seq_; }
  const std::string& connection_id() const { return connection_id_; }
  std::size_t sessions() const { return sessions_; }
  std::size_t resumed() const { return resumed_; }
  std::size_t gaps() const { return gaps_; }

private:
  std::string connection_id_;
  std::int64_t next_seq_ = 0;
  bool first_frame_ = true;
  bool had_session_ = false;
  bool catch_up_ = false;
  std::size_t sessions_ = 0, resumed_ = 0, gaps_ = 0;
};

}  // namespace relance::mattermost
