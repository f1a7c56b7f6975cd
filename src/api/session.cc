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

// Parses a request header that is buffered whole already: the read that ended the idle wait
// nearly always holds all of it, and parsing it here spares the event-loop trip an
// async_read_header would take to complete. True when the header is done, or malformed (`ec`
// set); false when more must be read (nothing is consumed then).
bool ParseBufferedHeader(beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser,
                         boost::system::error_code& ec) {
  if (buffer.size() == 0) return false;
  const size_t used = parser.put(buffer.data(), ec);
  buffer.consume(used);
  if (ec == http::error::need_more) {
    ec = {};
    return false;
  }
  return ec || parser.is_header_done();
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
    }
    RequestParser parser;
    parser.header_limit(kRequestHeaderLimit);
    // Beast checks Content-Length against its default 1 MiB body limit while reading the
    // header; lift it so the per-route limit below decides (and answers 413).
    parser.body_limit(boost::none);
    boost::system::error_code hec;
    if (!ParseBufferedHeader(buffer, parser, hec)) {
      // Part of a header (or none yet, on a new connection, which starts in kHeader): it is
      // read under the header timeout, and sheddable as a slow header meanwhile.
      if (!first) table_.Set(id, ConnectionState::kHeader, std::chrono::steady_clock::now());
      stream.expires_after(options_.header_timeout);
      std::tie(hec, std::ignore) = co_await http::async_read_header(stream, buffer, parser, kTok);
    }
    std::optional<Answer> answer;
    if (hec) {
      // A timeout (slow header), the peer gone, stopping or shed: no one to answer. Otherwise
      // the header is malformed: say why, then close (where the next request starts is unknown).
      auto malformed = AnswerToReadError(hec, parser.get());
      if (!malformed) break;
      answer = Answer{std::move(*malformed), true};
    }
    table_.Set(id, ConnectionState::kBusy, {});  // in no queue: its time is never read
    stream.expires_after(options_.idle_timeout);  // the body, then the response, each at a client's pace
    if (!answer) answer = co_await Respond(stream, buffer, parser, id);
    if (!answer) break;  // the connection failed while reading the body
    auto& [response, close_after] = *answer;
    if (close_after || stopping_) response.keep_alive(false);
    auto [wec, wn] = co_await http::async_write(stream, response, kTok);
    if (wec || !response.keep_alive() || stopping_) break;
  }
  co_await LingeringClose(stream, id);
}

asio::awaitable<std::optional<HttpServer::Answer>> HttpServer::Respond(Stream& stream, beast::flat_buffer& buffer,
                                                                      RequestParser& parser, ConnectionTable::Id id) {
  const auto& header = parser.get();
  if (auto unsupported = AnswerToUnsupported(header))
    co_return Answer{std::move(*unsupported), true};  // the body, if any, cannot be delimited
  if (auto refused = router_.Precheck(header))
    co_return Answer{std::move(*refused), !parser.is_done()};  // close if the unread body is on the wire
  const size_t limit = router_.BodyLimit(header.method(), header.target());
  if (const auto declared = parser.content_length(); declared && *declared > limit)
    co_return Answer{TooLarge(*declared, limit), true};  // the unread body is still on the wire
  parser.body_limit(limit);
  if (beast::iequals(header[http::field::expect], "100-continue")) {
    http::response<http::empty_body> cont{http::status::continue_, 11};
    co_await http::async_write(stream, cont, kTok);
  }
  boost::system::error_code ec;
  if (!parser.is_done()) {
    table_.Set(id, ConnectionState::kBody, std::chrono::steady_clock::now());  // sheddable while it trickles
    std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, kTok);
    table_.Set(id, ConnectionState::kBusy, {});
  }
  if (ec == http::error::body_limit) co_return Answer{TooLarge(std::nullopt, limit), true};
  if (ec) {
    auto malformed = AnswerToReadError(ec, header);  // a malformed chunked body
    if (!malformed) co_return std::nullopt;
    co_return Answer{std::move(*malformed), true};
  }
  stream.expires_never();  // a blocking invoke may take up to the action's timeout
  Response response = co_await router_.Handle(parser.release());
  stream.expires_after(options_.idle_timeout);
  co_return Answer{std::move(response), false};
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
