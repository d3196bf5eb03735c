// One way in for learners: the route of a message, the same for every channel.
#include "bot/domain/inbound.hpp"

#include <catch2/catch.hpp>

using namespace relance;

TEST_CASE("who it is from comes first: mail nobody we know sent is not ours, anyone else unknown is shown", "[inbound]") {
  CHECK(route_inbound({"email", "Bonjour", false, false, false}) == InboundRoute::not_ours);
  CHECK(route_inbound({"sms", "STOP", false, false, false}) == InboundRoute::unknown_sender);
  CHECK(route_inbound({"matrix", "coucou", false, false, true}) == InboundRoute::unknown_sender);
  CHECK(route_inbound({"web", "bonjour", false, false, false}) == InboundRoute::unknown_sender);
}

TEST_CASE("a consent keyword by SMS wins over an open form, elsewhere it is just words", "[inbound]") {
  CHECK(route_inbound({"sms", "STOP", true, false, true}) == InboundRoute::opt_out);
  CHECK(route_inbound({"sms", "Start", true, false, false}) == InboundRoute::opt_in);
  CHECK(route_inbound({"email", "STOP", true, false, false}) == InboundRoute::case_reply);
  CHECK(route_inbound({"matrix", "STOP", true, false, true}) == InboundRoute::form_answer);
}

TEST_CASE("an open form takes the answer, an automatic answer is never one, the rest is the case's reply", "[inbound]") {
  CHECK(route_inbound({"sms", "2", true, false, true}) == InboundRoute::form_answer);
  CHECK(route_inbound({"email", "Je suis absent", true, true, true}) == InboundRoute::auto_reply);
  CHECK(route_inbound({"email", "Je suis absent", true, true, false}) == InboundRoute::auto_reply);
  CHECK(route_inbound({"sms", "Je reprends lundi", true, false, false}) == InboundRoute::case_reply);
}
