// The HTTP status -> SendResult rule, in one place for every learner channel
// that speaks HTTP (the SMS gateways). A 2xx is the adapter's to read (an id
// in the body, or a refusal inside a 200); everything else is decided here.
#pragma once

#include "adapters/channel/learner_port.hpp"
#include "adapters/common/http_client.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace relance::channel {

// No answer (connect, TLS, timeout, ...): retry. The error is
// "<prefix><failure>[: <detail>]".
SendResult http_unanswered(const net::HttpResult& r, std::string_view prefix = {});

// An answer that is not 2xx: 429 and 5xx are retried (after the server's
// Retry-After, seconds or an HTTP-date, when it gives one); 3xx and other
// 4xx are failed (bad number, refused, auth, a wrong URL: sending again
// changes nothing). `error` is the adapter's line for it ("HTTP 400: ...").
SendResult http_refused(const net::HttpResult& r, std::string error, std::chrono::system_clock::time_point now,
                        std::string code = {});

// "HTTP <status>"
std::string http_head(const net::HttpResult& r);

}  // namespace relance::channel
