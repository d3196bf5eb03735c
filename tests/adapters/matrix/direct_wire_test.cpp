// The pure parts of learners' direct rooms: ids, the createRoom body, the
// message, and the read-modify-write of m.direct.
#include "adapters/matrix/matrix_wire.hpp"

#include <catch2/catch.hpp>

using namespace relance::matrix;
using nlohmann::json;

TEST_CASE("matrix direct wire: user ids, createRoom, the message", "[matrix][direct][wire]") {
  CHECK(is_user_id("@lea:example.org"));
  CHECK(is_user_id("@lea.martin:matrix.example.org:8448"));
  CHECK_FALSE(is_user_id("lea:example.org"));
  CHECK_FALSE(is_user_id("@lea"));
  CHECK_FALSE(is_user_id("@:example.org"));
  CHECK_FALSE(is_user_id("@lea:"));
  CHECK_FALSE(is_user_id("@le a:example.org"));

  const json create = direct_room_request("@lea:example.org");
  CHECK(create["is_direct"] == true);
  CHECK(create["invite"] == json::array({"@lea:example.org"}));
  CHECK(create["preset"] == "trusted_private_chat");
  CHECK_FALSE(create.contains("initial_state"));  // no m.room.encryption: relance does not do E2EE

  const json m = direct_message_content("Bonjour", "<b>Bonjour</b>");
  CHECK(m["msgtype"] == "m.text");
  CHECK(m["body"] == "Bonjour");
  CHECK(m["format"] == "org.matrix.custom.html");
  CHECK(m["formatted_body"] == "<b>Bonjour</b>");
  const json plain = direct_message_content("Bonjour", "");
  CHECK_FALSE(plain.contains("formatted_body"));
  CHECK_FALSE(plain.contains("format"));
}

TEST_CASE("matrix direct wire: m.direct is changed for one user, the rest kept", "[matrix][direct][wire]") {
  const json before = json::parse(R"({"@a:hs": ["!1:hs", 7, "!2:hs"], "@b:hs": ["!3:hs"], "@odd:hs": {"x": 1}})");
  CHECK(direct_rooms_of(before, "@a:hs") == std::vector<std::string>{"!1:hs", "!2:hs"});
  CHECK(direct_rooms_of(before, "@odd:hs").empty());
  CHECK(direct_rooms_of(json::array(), "@a:hs").empty());

  const json added = direct_updated(before, "@b:hs", "!4:hs", {});
  CHECK(added["@b:hs"] == json::array({"!3:hs", "!4:hs"}));
  CHECK(added["@a:hs"] == before["@a:hs"]);  // even the entry it cannot read
  CHECK(added["@odd:hs"] == before["@odd:hs"]);
  CHECK(direct_updated(added, "@b:hs", "!4:hs", {}) == added);  // already there: no change

  const json replaced = direct_updated(before, "@b:hs", "!5:hs", {"!3:hs"});
  CHECK(replaced["@b:hs"] == json::array({"!5:hs"}));
  const json dropped = direct_updated(before, "@b:hs", "", {"!3:hs"});
  CHECK_FALSE(dropped.contains("@b:hs"));
  CHECK(direct_updated(json("nonsense"), "@c:hs", "!6:hs", {}) == json::parse(R"({"@c:hs": ["!6:hs"]})"));
}
