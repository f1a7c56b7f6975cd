// The request loop of one HTTP connection (HttpServer::Serve): header under the header
// timeout, body under the route's limit, the router, the response; keep-alive in between.
#include <fmt/format.h>

#include "api/request_errors.h"
#include "api/server.h"

namespace hotrod {
namespace {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

Response TooLarge(std::optional<uint64_t> declared, size_t limit) {
  return ErrorResponse(http::status::payload_too_large,
                       declared ? fmt::format("The request content was too large: {} bytes exceeds the limit of {} bytes.",
                                              *declared, limit)
                                : fmt::format("The request content was too large: it exceeds the limit of {} bytes.", limit));
}

}  // namespace

asio::awaitable<void> HttpServer::Serve(std::unique_ptr<Stream> owned, ConnectionTable::Id id,
                                        std::optional<Response> refusal) {
  Stream& stream = *owned;
  if (refusal) {
    refusal->keep_alive(false);
    stream.expires_after(options_.idle_timeout);
    co_await http::async_write(stream, *refusal, kTok);
    co_await LingeringClose(stream, id);
    co_return;
  }
  beast::flat_buffer buffer;
  for (bool first = true;; first = false) {
    if (!first) {
      // Between requests: idle until the next request's first byte (unless it is here already,
      // pipelined), then the header timeout runs from that byte.
      table_.Set(id, ConnectionState::kIdle, std::chrono::steady_clock::now());
      if (buffer.size() == 0) {
        stream.expires_after(options_.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kTok);
        if (ec) break;  // closed, idle timeout, stopping or shed
        buffer.commit(n);
      }
      table_.Set(id, ConnectionState::kHeader, std::chrono::steady_clock::now());
    }
    http::request_parser<http::string_body> parser;
    parser.header_limit(kRequestHeaderLimit);
    // Beast checks Content-Length against its default 1 MiB body limit while reading the
    // header; lift it so the per-route limit below decides (and answers 413).
    parser.body_limit(boost::none);
    stream.expires_after(options_.header_timeout);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kTok);
    Response response;
    bool close_after = false;
    if (hec) {
      // A timeout (slow header), the peer gone, stopping or shed: no one to answer. Otherwise
      // the header is malformed: say why, then close (where the next request starts is unknown).
      auto answer = AnswerToReadError(hec, parser.get());
      if (!answer) break;
      response = std::move(*answer);
      close_after = true;
    }
    table_.Set(id, ConnectionState::kBusy, std::chrono::steady_clock::now());
    stream.expires_after(options_.idle_timeout);  // the body, then the response, each at a client's pace

    const auto& header = parser.get();
    const size_t limit = hec ? 0 : router_.BodyLimit(header.method(), header.target());
    const std::optional<uint64_t> declared =
        !hec && parser.content_length() ? std::optional<uint64_t>(*parser.content_length()) : std::nullopt;
    if (hec) {
      // answered above
    } else if (auto unsupported = AnswerToUnsupported(header)) {
      response = std::move(*unsupported);
      close_after = true;  // the body, if any, cannot be delimited
    } else if (auto refused = router_.Precheck(header)) {
      response = std::move(*refused);
      close_after = !parser.is_done();  // the unread body is still on the wire
    } else if (declared && *declared > limit) {
      response = TooLarge(declared, limit);
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
        response = TooLarge(std::nullopt, limit);
        close_after = true;
      } else if (auto answer = bec ? AnswerToReadError(bec, header) : std::nullopt) {
        response = std::move(*answer);  // a malformed chunked body
        close_after = true;
      } else if (bec) {
        break;
      } else {
        stream.expires_never();  // a blocking invoke may take up to the action's timeout
        response = co_await router_.Handle(parser.release());
        stream.expires_after(options_.idle_timeout);
      }
    }
    if (close_after || stopping_) response.keep_alive(false);
    auto [wec, wn] = co_await http::async_write(stream, response, kTok);
    if (wec || !response.keep_alive() || stopping_) break;
  }
  co_await LingeringClose(stream, id);
}

asio::awaitable<void> HttpServer::LingeringClose(Stream& stream, ConnectionTable::Id id) {
  // After an early answer (413, a malformed request, a refusal) the client may still be
  // sending; reading (and dropping) what arrives for a moment lets it see our reply instead of
  // a connection reset. The connection is sheddable meanwhile.
  table_.Set(id, ConnectionState::kClosing, std::chrono::steady_clock::now());
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(2));
  for (;;) {
    char sink[16 * 1024];
    auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), kTok);
    if (rec) break;
  }
  Forget(id);
}

}  // namespace hotrod
