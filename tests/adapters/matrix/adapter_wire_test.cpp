// The Matrix wire layer, pure: transaction ids, contents, /sync decoding.
#include "adapters/matrix/matrix_wire.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace relance::matrix;
using nlohmann::json;

TEST_CASE("matrix wire: transaction ids are stable and distinct", "[matrix][adapter][wire]") {
  CHECK(txn_for_post(42) == "relance.42");
  chat::Edit a{"!r:hs", "$e", "", "pris par Marie", "pris par Marie", true};
  chat::Edit b = a;
  CHECK(txn_for_edit(a) == txn_for_edit(b));
  b.plain = "pris par Paul";
  CHECK(txn_for_edit(a) != txn_for_edit(b));
  CHECK(txn_for_reply("$x") == txn_for_reply("$x"));
  CHECK(txn_for_reply("$x") != txn_for_reply("$y"));
  CHECK(encode_segment("!abc:fake.test") == "%21abc%3Afake.test");
}

TEST_CASE("matrix wire: commands and claim keys", "[matrix][adapter][wire]") {
  CHECK(command_line("!relance prendre 42", "!relance") == "prendre 42");
  CHECK(command_line("  !relance   aide  ", "!relance") == "aide");
  CHECK(command_line("!relance", "!relance") == "");
  CHECK_FALSE(command_line("!relancer aide", "!relance"));
  CHECK_FALSE(command_line("bonjour !relance aide", "!relance"));
  CHECK(command_line("> <@a:hs> Alerte\n\n!relance prendre 7", "!relance") == "prendre 7");
  CHECK(is_claim_key("✋"));
  CHECK(is_claim_key("✋\xEF\xB8\x8F"));
  CHECK(is_claim_key("✋\xF0\x9F\x8F\xBD"));  // medium skin tone
  CHECK(is_claim_key("✅"));
  CHECK(is_claim_key("✅\xEF\xB8\x8F"));
  CHECK_FALSE(is_claim_key("👍"));
  CHECK_FALSE(is_claim_key("✋✋"));
}

TEST_CASE("matrix wire: a /sync answer becomes typed events, bad events are skipped", "[matrix][adapter][wire]") {
  const json j = json::parse(R"({
    "next_batch": "s72",
    "rooms": {
      "invite": {"!inv:hs": {"invite_state": {"events": [
        {"type": "m.room.encryption", "state_key": "", "sender": "@a:hs", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
        {"type": "m.room.member", "state_key": "@bot:hs", "sender": "@a:hs", "content": {"membership": "invite"}, "event_id": "$i"}
      ]}}},
      "join": {"!r:hs": {
        "state": {"events": []},
        "timeline": {"limited": true, "prev_batch": "s60", "events": [
          {"type": "m.room.message", "event_id": "$1", "sender": "@a:hs", "content": {"msgtype": "m.text", "body": "!relance aide"}},
          {"type": "m.room.message", "event_id": "$2", "sender": "@a:hs", "content": {"msgtype": "m.text", "body": "x",
            "m.relates_to": {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": true}}},
          {"type": "m.room.message", "event_id": "$3", "sender": "@a:hs", "content": {"msgtype": "m.text", "body": "* y",
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$1"}}},
          {"type": "m.reaction", "event_id": "$4", "sender": "@a:hs", "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$alert", "key": "✋"}}},
          {"type": "m.room.encrypted", "event_id": "$5", "sender": "@a:hs", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
          {"type": "m.room.message", "event_id": "$6", "content": {"body": "no sender"}},
          42
        ]}
      }}
    }
  })");
  const auto b = parse_sync(j, "@bot:hs");
  CHECK(b.next_batch == "s72");
  REQUIRE(b.invites.size() == 1);
  CHECK(b.invites[0].room_id == "!inv:hs");
  CHECK(b.invites[0].inviter == "@a:hs");
  CHECK(b.invites[0].encrypted);
  REQUIRE(b.joined.size() == 1);
  const auto& r = b.joined[0];
  CHECK(r.encrypted);
  CHECK(r.limited);
  CHECK(b.skipped == 2);
  REQUIRE(r.timeline.size() == 5);
  CHECK(std::get<Message>(r.timeline[0]).body == "!relance aide");
  CHECK(std::get<Message>(r.timeline[1]).thread_root == "$root");
  CHECK(std::get<Message>(r.timeline[2]).is_edit);
  CHECK(std::get<Reaction>(r.timeline[3]).target == "$alert");
  CHECK(std::holds_alternative<Encrypted>(r.timeline[4]));
  CHECK_THROWS_AS(parse_sync(json::object(), "@bot:hs"), std::invalid_argument);
}

TEST_CASE("matrix wire: the sync filter keeps only what the bot acts on", "[matrix][adapter][wire]") {
  const auto f = sync_filter();
  CHECK(f["presence"]["types"] == json::array());
  CHECK(f["room"]["ephemeral"]["types"] == json::array());
  const auto& types = f["room"]["timeline"]["types"];
  for (const char* t : {"m.room.message", "m.reaction", "m.room.member", "m.room.encryption", "m.room.encrypted"})
    CHECK(std::find(types.begin(), types.end(), t) != types.end());
}

TEST_CASE("matrix wire: answers are escaped, mentions in them defused", "[matrix][adapter][wire]") {
  const auto c = notice_content("Dossier #4 — @room <b>Léa</b>", "$root", "$cmd");
  CHECK(c["body"].get<std::string>().find("@room") == std::string::npos);  // a word joiner after '@'
  CHECK(c["formatted_body"].get<std::string>().find("&lt;b&gt;Léa&lt;/b&gt;") != std::string::npos);
  CHECK(c["m.mentions"] == json::object());
  CHECK(c["m.relates_to"]["rel_type"] == "m.thread");
  CHECK(c["m.relates_to"]["event_id"] == "$root");
  CHECK(c["m.relates_to"]["m.in_reply_to"]["event_id"] == "$cmd");
}
