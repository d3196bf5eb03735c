// Name resolution bounded by a deadline, for the HTTP and WebSocket clients.
// getaddrinfo cannot be cancelled mid-flight (it runs on a helper thread), so
// the lookup runs detached and we stop waiting for it at the deadline; a late
// answer lands in a state kept alive by the detached coroutine.
#pragma once

#include "adapters/common/http_client.hpp"
#include "adapters/common/url_target.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace relance::net {

struct Resolved {
  Failure failure = Failure::none;  // bad_url (a bad IP literal), timeout or resolve
  std::string error;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
};

// An IP literal is used as is; a host name is resolved before `deadline`.
boost::asio::awaitable<Resolved> resolve_within(boost::asio::any_io_executor ex, const UrlTarget& target,
                                                std::chrono::steady_clock::time_point deadline);

}  // namespace relance::net
