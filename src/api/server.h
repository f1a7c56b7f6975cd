// HttpServer: the HTTP/1.1 listener and its keep-alive sessions (Boost.Beast, C++20 coroutines).
//
// Contract:
//  - Runs on the io_context it is given; Start(), StopAccepting() and the session bookkeeping
//    happen on that thread only.
//  - Request bodies over the Router's limit get 413 before they are buffered (Content-Length
//    is checked after the header; chunked bodies are cut at the limit), then the connection closes.
//  - StopAccepting() closes the listener and every idle connection; a connection busy with a
//    request finishes it, answers with `Connection: close` and closes.
#pragma once

#include <chrono>
#include <list>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include "api/router.h"

namespace hotrod {

class HttpServer {
 public:
  HttpServer(asio::io_context& io, Router& router);

  // Binds and listens; the error says what failed (address in use...).
  Status Listen(const asio::ip::tcp::endpoint& endpoint);
  asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void Start();
  void StopAccepting();
  // Completes when every connection has closed (after StopAccepting) or at the deadline.
  asio::awaitable<void> Drain(std::chrono::steady_clock::time_point deadline);

 private:
  struct Connection {
    boost::beast::tcp_stream* stream = nullptr;
    bool busy = false;
  };
  asio::awaitable<void> Accept();
  asio::awaitable<void> Serve(asio::ip::tcp::socket socket);

  asio::io_context& io_;
  Router& router_;
  asio::ip::tcp::acceptor acceptor_;
  std::list<Connection> connections_;
  bool stopping_ = false;
  asio::steady_timer drained_;  // cancelled when the last connection closes while stopping
  std::chrono::seconds idle_timeout_{60};
};

}  // namespace hotrod
