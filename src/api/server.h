// HttpServer: the HTTP/1.1 listener and its keep-alive sessions (Boost.Beast, C++20 coroutines).
//
// Contract:
//  - Runs on the io_context it is given; Start(), StopAccepting() and the session bookkeeping
//    happen on that thread only.
//  - At most max_connections connections are open. A new connection at the cap is still
//    accepted: the server sheds a closing connection, else the one idle longest, else the one
//    slowest to send its request header (ConnectionTable); never one busy with a request. When
//    every connection is busy, or when the peer's address already has
//    max_connections_per_address open, the new connection gets 503 and is closed.
//  - A request header must be complete within header_timeout of the connection being accepted,
//    or of the first byte of a later request; otherwise the connection is closed without an
//    answer. Between requests a keep-alive connection may stay idle for idle_timeout.
//  - Malformed requests get 400, 431 or 501 (api/request_errors.h), and the connection closes.
//  - Request bodies over the Router's limit get 413 before they are buffered (Content-Length
//    is checked after the header; chunked bodies are cut at the limit), then the connection closes.
//  - StopAccepting() closes the listener and every connection not busy; a connection busy with a
//    request finishes it, answers with `Connection: close` and closes.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include "api/connection_table.h"
#include "api/router.h"

namespace hotrod {

struct HttpServerOptions {
  size_t max_connections = 512;
  size_t max_connections_per_address = 0;  // 0: no per-address cap
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds idle_timeout{60};  // keep-alive between requests; also bounds body reads and writes
};

class HttpServer {
 public:
  HttpServer(asio::io_context& io, Router& router, HttpServerOptions options = {});

  // Binds and listens; the error says what failed (address in use...).
  Status Listen(const asio::ip::tcp::endpoint& endpoint);
  asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void Start();
  void StopAccepting();
  // Completes when every connection has closed (after StopAccepting) or at the deadline.
  asio::awaitable<void> Drain(std::chrono::steady_clock::time_point deadline);

 private:
  using Stream = boost::beast::tcp_stream;
  using RequestParser = http::request_parser<http::string_body>;
  struct Answer {
    Response response;
    bool close = false;  // the connection cannot carry another request
  };
  asio::awaitable<void> Accept();
  // Makes room for a connection from `address` and registers it; the refusal to send instead
  // of serving it, if it may not stay.
  std::optional<Response> Admit(Stream* stream, const std::string& address, ConnectionTable::Id* id);
  void Shed(ConnectionTable::Id id);
  // The request loop of one connection (session.cc). `refusal`: answer this and close.
  asio::awaitable<void> Serve(std::unique_ptr<Stream> stream, ConnectionTable::Id id,
                              std::optional<Response> refusal);
  // After a well-formed header: the refusals that need no body, the body, the router.
  // nullopt: the connection failed while the body was read.
  asio::awaitable<std::optional<Answer>> Respond(Stream& stream, boost::beast::flat_buffer& buffer,
                                                 RequestParser& parser, ConnectionTable::Id id);
  asio::awaitable<void> LingeringClose(Stream& stream, ConnectionTable::Id id);
  void Forget(ConnectionTable::Id id);

  // A warning at most every kWarnEvery, saying how many were held back in between.
  struct Throttled {
    std::chrono::steady_clock::time_point last{};
    size_t held_back = 0;
    bool Due(std::chrono::steady_clock::time_point now);
  };

  asio::io_context& io_;
  Router& router_;
  HttpServerOptions options_;
  asio::ip::tcp::acceptor acceptor_;
  ConnectionTable table_;
  std::unordered_map<ConnectionTable::Id, Stream*> streams_;  // every connection in table_
  bool stopping_ = false;
  asio::steady_timer drained_;  // cancelled when the last connection closes while stopping
  Throttled accept_warning_, shed_warning_;
};

}  // namespace hotrod
