// The listener: accepting, the connection cap and shedding, stopping. The request loop of one
// connection is in session.cc.
#include "api/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hotrod {
namespace {

using tcp = asio::ip::tcp;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr auto kWarnEvery = std::chrono::seconds(10);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

}  // namespace

bool HttpServer::Throttled::Due(std::chrono::steady_clock::time_point now) {
  if (last != std::chrono::steady_clock::time_point{} && now - last < kWarnEvery) {
    ++held_back;
    return false;
  }
  last = now;
  return true;
}

HttpServer::HttpServer(asio::io_context& io, Router& router, HttpServerOptions options)
    : io_(io), router_(router), options_(options), acceptor_(io), drained_(io) {}

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
  for (auto& [id, stream] : streams_)
    if (auto state = table_.state(id); state != ConnectionState::kBusy && state != ConnectionState::kBody)
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored), stream->cancel();
}

asio::awaitable<void> HttpServer::Accept() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTok);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      // Out of file descriptors (or similar): the pending connection keeps the listener
      // readable, so retrying at once would spin. Give the fd of a connection that can be
      // spared to the new one, or back off; and say so now and then, not at every retry.
      const bool out_of_fds = ec == asio::error::no_descriptors || ec.value() == ENFILE;
      const auto victim = out_of_fds ? table_.ChooseVictim() : std::nullopt;
      if (accept_warning_.Due(std::chrono::steady_clock::now())) {
        spdlog::warn("accept failed: {} ({} more since the last warning); {}", ec.message(),
                     std::exchange(accept_warning_.held_back, 0),
                     victim ? "shedding an idle or slow connection" : "retrying every 100 ms");
      }
      if (victim) {
        Shed(*victim);
        continue;
      }
      asio::steady_timer pause(io_, kAcceptRetry);
      co_await pause.async_wait(kTok);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);  // small JSON replies must not wait for Nagle
    const auto peer = socket.remote_endpoint(ec);
    if (ec) continue;  // already gone
    auto stream = std::make_unique<Stream>(std::move(socket));
    ConnectionTable::Id id = 0;
    auto refusal = Admit(stream.get(), peer.address().to_string(), &id);
    asio::co_spawn(io_, Serve(std::move(stream), id, std::move(refusal)), asio::detached);
  }
}

std::optional<Response> HttpServer::Admit(Stream* stream, const std::string& address,
                                          ConnectionTable::Id* id) {
  const auto now = std::chrono::steady_clock::now();
  const bool over_address =
      options_.max_connections_per_address > 0 && table_.OpenFrom(address) >= options_.max_connections_per_address;
  if (table_.size() >= options_.max_connections) {
    // A connection refused for its address is not worth another client's idle connection:
    // for it, only a closing one is shed.
    auto victim = table_.ChooseVictim();
    if (victim && (!over_address || table_.state(*victim) == ConnectionState::kClosing)) Shed(*victim);
  }
  std::optional<Response> refusal;
  if (over_address) {
    refusal = ErrorResponse(http::status::service_unavailable,
                            fmt::format("Too many connections from {} (at most {}); reuse a keep-alive connection.",
                                        address, options_.max_connections_per_address));
  } else if (table_.size() >= options_.max_connections) {
    // Every connection is busy with a request. The refused one is closing, so the next new
    // connection sheds it first: refusals keep at most one fd over the cap.
    refusal = ErrorResponse(http::status::service_unavailable,
                            fmt::format("The server is at its connection limit ({}); retry later.", options_.max_connections));
  }
  *id = table_.Add(address, refusal ? ConnectionState::kClosing : ConnectionState::kHeader, now);
  streams_.emplace(*id, stream);
  return refusal;
}

void HttpServer::Shed(ConnectionTable::Id id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  // Closing now (not when its coroutine resumes) frees the fd for the connection that needs it;
  // the coroutine finds its operation aborted and ends.
  boost::system::error_code ignored;
  it->second->socket().close(ignored);
  Forget(id);
  if (shed_warning_.Due(std::chrono::steady_clock::now()))
    spdlog::warn("at the connection limit ({}) or out of fds: shed {} idle or slow connection(s) to accept new ones",
                 options_.max_connections, 1 + std::exchange(shed_warning_.held_back, 0));
}

void HttpServer::Forget(ConnectionTable::Id id) {
  table_.Remove(id);
  streams_.erase(id);
  if (stopping_ && streams_.empty()) drained_.cancel();
}

asio::awaitable<void> HttpServer::Drain(std::chrono::steady_clock::time_point deadline) {
  while (!streams_.empty() && std::chrono::steady_clock::now() < deadline) {
    drained_.expires_at(deadline);
    co_await drained_.async_wait(kTok);
  }
}

}  // namespace hotrod
