// X-Twilio-Signature (NOTES §5): the helper library's test vector, sorting,
// repeated names, port variants, forgeries, token rotation. The fake computes
// signatures with its own code: each implementation checks the other.
#include "adapters/sms/twilio/twilio.hpp"
#include "tests/support/fake_twilio.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using relance::sms::twilio::compute_signature;
using relance::sms::twilio::valid_signature;
using relance::test::FakeTwilio;

namespace {

const std::string vector_url = "https://mycompany.com/myapp.php?foo=1&bar=2";
const net::FormFields vector_params{{"CallSid", "CA1234567890ABCDE"},
                                    {"Caller", "+14158675309"},
                                    {"Digits", "1234"},
                                    {"From", "+14158675309"},
                                    {"To", "+18005551212"}};
const std::string vector_signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

}  // namespace

TEST_CASE("twilio signature: the NOTES test vector", "[sms][twilio]") {
  CHECK(compute_signature(vector_url, vector_params, "12345") == vector_signature);
  CHECK(FakeTwilio::signature(vector_url, vector_params, "12345") == vector_signature);
  CHECK(valid_signature(vector_url, vector_params, vector_signature, "12345"));

  // The order the parameters arrive in does not matter: they are sorted.
  net::FormFields shuffled(vector_params.rbegin(), vector_params.rend());
  CHECK(valid_signature(vector_url, shuffled, vector_signature, "12345"));
}

TEST_CASE("twilio signature: forged, altered or missing is refused", "[sms][twilio]") {
  SECTION("another signature") {
    CHECK_FALSE(valid_signature(vector_url, vector_params, "RSOYDt4T1cUTdK1PDd93/VVr8B9=", "12345"));
    CHECK_FALSE(valid_signature(vector_url, vector_params, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "12345"));
    CHECK_FALSE(valid_signature(vector_url, vector_params, vector_signature + "x", "12345"));
  }
  SECTION("missing header or token") {
    CHECK_FALSE(valid_signature(vector_url, vector_params, "", "12345"));
    CHECK_FALSE(valid_signature(vector_url, vector_params, vector_signature, ""));
  }
  SECTION("another token") { CHECK_FALSE(valid_signature(vector_url, vector_params, vector_signature, "12346")); }
  SECTION("an altered parameter, an added one, a removed one") {
    auto altered = vector_params;
    altered[2].second = "1235";
    CHECK_FALSE(valid_signature(vector_url, altered, vector_signature, "12345"));
    auto added = vector_params;
    added.emplace_back("Body", "");
    CHECK_FALSE(valid_signature(vector_url, added, vector_signature, "12345"));
    auto removed = vector_params;
    removed.pop_back();
    CHECK_FALSE(valid_signature(vector_url, removed, vector_signature, "12345"));
  }
  SECTION("an altered URL") {
    CHECK_FALSE(valid_signature("https://mycompany.com/myapp.php?foo=1&bar=3", vector_params, vector_signature, "12345"));
    CHECK_FALSE(valid_signature("http://mycompany.com/myapp.php?foo=1&bar=2", vector_params, vector_signature, "12345"));
    CHECK_FALSE(valid_signature("https://mycompany.com/myapp.php", vector_params, vector_signature, "12345"));
    CHECK_FALSE(valid_signature("https://evil.example/myapp.php?foo=1&bar=2", vector_params, vector_signature, "12345"));
  }
}

TEST_CASE("twilio signature: with and without the port", "[sms][twilio]") {
  // NOTES §5.4: the helpers accept the URL with the default port inserted or without any.
  const std::string with_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
  CHECK(valid_signature(with_443, vector_params, vector_signature, "12345"));
  const auto sig_443 = compute_signature(with_443, vector_params, "12345");
  CHECK(sig_443 != vector_signature);
  CHECK(valid_signature(vector_url, vector_params, sig_443, "12345"));
  CHECK(valid_signature(with_443, vector_params, sig_443, "12345"));

  const std::string plain = "http://bot.example.org/hooks/sms/twilio";
  const auto sig_80 = compute_signature("http://bot.example.org:80/hooks/sms/twilio", vector_params, "12345");
  CHECK(valid_signature(plain, vector_params, sig_80, "12345"));
  // 443 is not http's default port.
  CHECK_FALSE(valid_signature(plain, vector_params, compute_signature("http://bot.example.org:443/hooks/sms/twilio",
                                                                      vector_params, "12345"), "12345"));

  // A non-default port: signed with it, or (the helpers strip any port) without.
  const std::string custom = "https://bot.example.org:8443/hooks/sms/twilio";
  CHECK(valid_signature(custom, vector_params, compute_signature(custom, vector_params, "12345"), "12345"));
  CHECK(valid_signature(custom, vector_params,
                        compute_signature("https://bot.example.org/hooks/sms/twilio", vector_params, "12345"), "12345"));
  CHECK_FALSE(valid_signature(custom, vector_params,
                              compute_signature("https://bot.example.org:9443/hooks/sms/twilio", vector_params, "12345"),
                              "12345"));
  // Credentials and IPv6 literals in the authority.
  const std::string v6 = "https://[2001:db8::1]/hooks";
  CHECK(valid_signature(v6, {}, compute_signature("https://[2001:db8::1]:443/hooks", {}, "k"), "k"));
  const std::string creds = "https://user:pw@bot.example.org/hooks";
  CHECK(valid_signature(creds, {}, compute_signature("https://user:pw@bot.example.org:443/hooks", {}, "k"), "k"));
}

TEST_CASE("twilio signature: byte order and repeated names", "[sms][twilio]") {
  // "To" sorts before "body" (uppercase first), names before their values.
  const net::FormFields p{{"body", "b"}, {"To", "t"}};
  CHECK(compute_signature("https://x.example/h", p, "k") ==
        compute_signature("https://x.example/hTotbodyb", {}, "k"));
  // A repeated name: once per distinct value, values sorted.
  const net::FormFields rep{{"MediaUrl", "z"}, {"A", "1"}, {"MediaUrl", "a"}, {"MediaUrl", "z"}};
  CHECK(compute_signature("https://x.example/h", rep, "k") ==
        compute_signature("https://x.example/hA1MediaUrlaMediaUrlz", {}, "k"));
  CHECK(compute_signature("https://x.example/h", rep, "k") == FakeTwilio::signature("https://x.example/h", rep, "k"));
  // Empty values still contribute their names (FromCity= ...).
  const net::FormFields empty{{"FromCity", ""}, {"Body", "Oui"}};
  CHECK(compute_signature("https://x.example/h", empty, "k") ==
        compute_signature("https://x.example/hBodyOuiFromCity", {}, "k"));
  // UTF-8 values are signed as bytes.
  const net::FormFields accents{{"Body", "Zoé 😀"}};
  CHECK(compute_signature("https://x.example/h", accents, "k") ==
        FakeTwilio::signature("https://x.example/h", accents, "k"));
}

TEST_CASE("twilio signature: a token rotation accepts the previous token", "[sms][twilio]") {
  sms::twilio::TwilioConfig c;
  c.auth_token = "new-token";
  c.previous_auth_tokens = {"old-token"};
  const auto by_old = compute_signature(vector_url, vector_params, "old-token");
  const auto by_new = compute_signature(vector_url, vector_params, "new-token");
  CHECK(valid_signature(vector_url, vector_params, by_old, c));
  CHECK(valid_signature(vector_url, vector_params, by_new, c));
  CHECK_FALSE(valid_signature(vector_url, vector_params, compute_signature(vector_url, vector_params, "other"), c));
  c.previous_auth_tokens.clear();
  CHECK_FALSE(valid_signature(vector_url, vector_params, by_old, c));
}

TEST_CASE("twilio signature: the URL that was signed", "[sms][twilio]") {
  using sms::twilio::signed_url;
  CHECK(signed_url("https://relance.example.org/hooks/sms/twilio", "/hooks/sms/twilio") ==
        "https://relance.example.org/hooks/sms/twilio");
  CHECK(signed_url("https://relance.example.org/hooks/sms/twilio", "/hooks/sms/twilio?org=cfa&x=1") ==
        "https://relance.example.org/hooks/sms/twilio?org=cfa&x=1");
  CHECK(signed_url("https://relance.example.org/hooks/sms/twilio?org=cfa", "/hooks/sms/twilio?org=cfa") ==
        "https://relance.example.org/hooks/sms/twilio?org=cfa");
  // A proxy that drops the query: the configured one is what Twilio signed.
  CHECK(signed_url("https://relance.example.org/hooks/sms/twilio?org=cfa", "/hooks/sms/twilio") ==
        "https://relance.example.org/hooks/sms/twilio?org=cfa");
}
