// The one way to include Asio: <utility> first (Boost's awaitable.hpp needs
// std::exchange and libstdc++ 12 no longer brings it in), then Asio and its SSL part.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

namespace edge {
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
}  // namespace edge
