#include "adapters/common/sleep.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace relance::net {

boost::asio::awaitable<void> async_sleep(boost::asio::any_io_executor ex, std::chrono::milliseconds d) {
  boost::asio::steady_timer t(ex, d);
  boost::system::error_code ec;
  co_await t.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

}  // namespace relance::net
