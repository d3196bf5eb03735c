// StreamState stepped by hand: hello, seq order, gaps, resume, resync.
#include "adapters/mattermost/mattermost_stream.hpp"

#include <catch2/catch.hpp>

using namespace relance::mattermost;
using Action = StreamState::Action;

namespace {

Event hello(std::string id) { return Hello{0, std::move(id)}; }
Event posted(std::int64_t seq) {
  Posted p;
  p.seq = seq;
  p.post.id = "p" + std::to_string(seq);
  return p;
}
Event other(std::int64_t seq) { return OtherEvent{seq, "typing"}; }

}  // namespace

TEST_CASE("mattermost stream: a default server (no reliable websockets)", "[mattermost][adapter]") {
  StreamState s;
  CHECK(s.resume_query().empty());
  s.on_connect();
  CHECK(s.on_event(hello("")) == Action::ignore);  // the first session of a run: nothing to catch up
  CHECK(s.on_event(posted(1)) == Action::handle);
  CHECK(s.on_event(other(2)) == Action::handle);  // counted for seq too
  CHECK(s.on_event(Reply{}) == Action::ignore);
  CHECK(s.on_event(Undecodable{"x"}) == Action::ignore);
  CHECK(s.on_event(posted(3)) == Action::handle);
  CHECK(s.next_seq() == 4);
  // Connection lost: nothing to resume with, a fresh hello, catch up.
  CHECK(s.resume_query().empty());
  s.on_connect();
  CHECK(s.on_event(hello("")) == Action::resync);
  CHECK(s.on_event(posted(1)) == Action::handle);
  CHECK(s.sessions() == 2);
  CHECK(s.resumed() == 0);
}

TEST_CASE("mattermost stream: gaps and resumes with reliable websockets", "[mattermost][adapter]") {
  StreamState s;
  s.on_connect();
  CHECK(s.on_event(hello("conn1")) == Action::ignore);
  CHECK(s.on_event(posted(1)) == Action::handle);
  CHECK(s.on_event(posted(3)) == Action::reconnect);  // seq 2 was lost
  CHECK(s.gaps() == 1);
  CHECK(s.resume_query() == "?connection_id=conn1&sequence_number=2");

  SECTION("the server replays from the missing seq, without a hello") {
    s.on_connect();
    CHECK(s.on_event(posted(2)) == Action::handle);
    CHECK(s.on_event(posted(3)) == Action::handle);
    CHECK(s.resumed() == 1);
    CHECK(s.sessions() == 2);
  }
  SECTION("a hello with the same id is a resume too") {
    s.on_connect();
    CHECK(s.on_event(hello("conn1")) == Action::ignore);
    CHECK(s.on_event(posted(2)) == Action::handle);
    CHECK(s.resumed() == 1);
  }
  SECTION("it cannot: a new connection id, catch up over REST") {
    s.on_connect();
    CHECK(s.on_event(hello("conn2")) == Action::resync);
    CHECK(s.on_event(posted(1)) == Action::handle);
    CHECK(s.resume_query() == "?connection_id=conn2&sequence_number=2");
  }
}

TEST_CASE("mattermost stream: a saved position catches up on the first session", "[mattermost][adapter]") {
  StreamState s(true);
  s.on_connect();
  CHECK(s.on_event(hello("")) == Action::resync);
  s.on_connect();
  CHECK(s.on_event(hello("")) == Action::resync);
}
