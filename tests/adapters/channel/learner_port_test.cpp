// The learner-channel port: the HTTP status rule every HTTP gateway shares,
// and the SMTP and Matrix answers as the port's one result.
#include "adapters/channel/http_send.hpp"
#include "adapters/email/smtp_port.hpp"
#include "adapters/matrix/matrix_direct.hpp"

#include <catch2/catch.hpp>

using namespace relance;
using namespace std::chrono_literals;
using Sent = channel::SendResult;

namespace {

net::HttpResult answer(int status, std::string retry_after = {}) {
  net::HttpResult r;
  r.status = status;
  if (!retry_after.empty()) r.headers.push_back(net::Header{"Retry-After", std::move(retry_after)});
  return r;
}

}  // namespace

TEST_CASE("http_send: 429 and 5xx are retried after Retry-After, 3xx and 4xx failed", "[channel]") {
  const auto now = std::chrono::sys_days{std::chrono::year{2026} / 10 / 21} + 7h + 28min;
  for (int s : {429, 500, 502, 503, 504}) {
    const auto r = channel::http_refused(answer(s), "HTTP " + std::to_string(s), now);
    CHECK(r.status == Sent::retry);
    CHECK_FALSE(r.retry_after);
    CHECK(r.error == "HTTP " + std::to_string(s));
  }
  CHECK(channel::http_refused(answer(503, "7"), "x", now).retry_after == 7000ms);
  CHECK(channel::http_refused(answer(429, "Wed, 21 Oct 2026 07:30:00 GMT"), "x", now).retry_after == 120000ms);
  CHECK_FALSE(channel::http_refused(answer(503, "soon"), "x", now).retry_after);
  for (int s : {301, 400, 401, 403, 404, 422}) {
    const auto r = channel::http_refused(answer(s, "7"), "no", now, "21211");
    CHECK(r.status == Sent::failed);
    CHECK_FALSE(r.retry_after);
    CHECK(r.code == "21211");
    CHECK_FALSE(r.recipient_opted_out);
  }
  net::HttpResult none;
  none.failure = net::Failure::timeout;
  none.error = "deadline passed";
  CHECK(channel::http_unanswered(none, "kannel ").error == "kannel timeout: deadline passed");
  CHECK(channel::http_unanswered(none).status == Sent::retry);
  CHECK(channel::http_head(answer(418)) == "HTTP 418");
}

TEST_CASE("the port's result: sent, retry and failed built one way", "[channel]") {
  CHECK(channel::sent("SM1").status == Sent::sent);
  CHECK(channel::sent("SM1").remote_id == "SM1");
  CHECK(channel::retry("HTTP 503", 2s).retry_after == 2000ms);
  CHECK(channel::failed("HTTP 400", "21610").code == "21610");
  CHECK(channel::to_string(Sent::failed) == "failed");
}

TEST_CASE("SMTP and Matrix answers become the port's result", "[channel][email][matrix]") {
  email::SendOutcome o;
  o.status = email::SendOutcome::failed;
  o.smtp_code = 550;
  o.error = "550 no such user";
  auto r = email::to_send_result(o);
  CHECK(r.status == Sent::failed);
  CHECK(r.error == "550 no such user");
  CHECK(r.code == "550");
  o.status = email::SendOutcome::retry;
  CHECK(email::to_send_result(o).status == Sent::retry);
  o = {};
  o.status = email::SendOutcome::sent;
  CHECK(email::to_send_result(o).status == Sent::sent);

  matrix::DirectResult d;
  d.status = chat::SendResult::Status::sent;
  d.event_id = "$ev";
  CHECK(matrix::to_send_result(d).remote_id == "$ev");
  d.status = chat::SendResult::Status::retry;
  d.retry_after = 2500ms;
  d.error = "M_LIMIT_EXCEEDED";
  r = matrix::to_send_result(d);
  CHECK(r.status == Sent::retry);
  CHECK(r.retry_after == 2500ms);
  d.status = chat::SendResult::Status::failed;
  CHECK(matrix::to_send_result(d).status == Sent::failed);
}
