#include "api/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hotrod {
namespace {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

}  // namespace

HttpServer::HttpServer(asio::io_context& io, Router& router)
    : io_(io), router_(router), acceptor_(io), drained_(io) {}

Status HttpServer::Listen(const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("cannot listen on {}:{}: {}", endpoint.address().to_string(), endpoint.port(), ec.message()));
  return Status::Ok();
}

void HttpServer::Start() { asio::co_spawn(io_, Accept(), asio::detached); }

void HttpServer::StopAccepting() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& c : connections_)
    if (!c.busy) c.stream->socket().shutdown(tcp::socket::shutdown_both, ignored), c.stream->cancel();
}

asio::awaitable<void> HttpServer::Accept() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTok);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      // Out of file descriptors (or similar): the pending connection keeps the listener
      // readable, so retrying at once would spin. Back off and say so once per pause.
      spdlog::warn("accept failed: {}; retrying in 100 ms", ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(kTok);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);  // small JSON replies must not wait for Nagle
    asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::Serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  auto self = connections_.insert(connections_.end(), Connection{&stream, false});
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    // Beast checks Content-Length against its default 1 MiB body limit while reading the
    // header; lift it so the per-route limit below decides (and answers 413).
    parser.body_limit(boost::none);
    stream.expires_after(idle_timeout_);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kTok);
    if (hec) break;  // closed, idle timeout, stop, or a malformed header: drop the connection
    self->busy = true;

    Response response;
    bool close_after = false;
    const auto& header = parser.get();
    const size_t limit = router_.BodyLimit(header.method(), header.target());
    const auto declared = parser.content_length();
    if (auto refused = router_.Precheck(header)) {
      response = std::move(*refused);
      close_after = !parser.is_done();  // the unread body is still on the wire
    } else if (declared && *declared > limit) {
      response = ErrorResponse(http::status::payload_too_large,
                               fmt::format("The request content was too large: {} bytes exceeds the limit of {} bytes.",
                                           *declared, limit));
      close_after = true;  // the unread body is still on the wire
    } else {
      parser.body_limit(limit);
      if (beast::iequals(header[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        co_await http::async_write(stream, cont, kTok);
      }
      boost::system::error_code bec;
      if (!parser.is_done()) std::tie(bec, std::ignore) = co_await http::async_read(stream, buffer, parser, kTok);
      if (bec == http::error::body_limit) {
        response = ErrorResponse(http::status::payload_too_large,
                                 fmt::format("The request content was too large: it exceeds the limit of {} bytes.", limit));
        close_after = true;
      } else if (bec) {
        break;
      } else {
        stream.expires_never();  // a blocking invoke may take up to the action's timeout
        response = co_await router_.Handle(parser.release());
      }
    }
    if (close_after || stopping_) response.keep_alive(false);
    stream.expires_after(idle_timeout_);
    auto [wec, wn] = co_await http::async_write(stream, response, kTok);
    self->busy = false;
    if (wec || !response.keep_alive() || stopping_) break;
  }
  // Lingering close: after an early 413 the client may still be sending; reading (and dropping)
  // what arrives for a moment lets it see our reply instead of a connection reset.
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(2));
  for (;;) {
    char sink[16 * 1024];
    auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), kTok);
    if (rec) break;
  }
  connections_.erase(self);
  if (stopping_ && connections_.empty()) drained_.cancel();
}

asio::awaitable<void> HttpServer::Drain(std::chrono::steady_clock::time_point deadline) {
  while (!connections_.empty() && std::chrono::steady_clock::now() < deadline) {
    drained_.expires_at(deadline);
    co_await drained_.async_wait(kTok);
  }
}

}  // namespace hotrod
