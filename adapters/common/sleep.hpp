// A pause inside a coroutine (between retries, a reconnect's backoff). It
// cannot be cut short: a loop that must stop at once keeps its own timer and
// cancels it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>

namespace relance::net {

boost::asio::awaitable<void> async_sleep(boost::asio::any_io_executor ex, std::chrono::milliseconds d);

}  // namespace relance::net
