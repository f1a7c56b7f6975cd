// The answers to requests the HTTP server cannot take: malformed syntax and HTTP features it
// does not implement (docs/api.md, "Errors"). Each is the usual JSON error body; the server
// sends it with `Connection: close` and closes, since after such a request it cannot know
// where the next one would start.
//
// Thread-safe (no state).
#pragma once

#include <cstddef>
#include <optional>

#include <boost/beast/http.hpp>
#include <boost/system/error_code.hpp>

#include "api/http.h"

namespace hotrod {

// The largest request header section (request line and fields) the server reads.
inline constexpr size_t kRequestHeaderLimit = 64 * 1024;

// The answer to an error from reading a request (its header or body), when the error says the
// request is malformed: 431 when the header section is over the limit, 501 for a repeated
// Transfer-Encoding, 400 for any other syntax error (request line, field, Content-Length,
// chunk; Beast also refuses HTTP versions other than 1.0 and 1.1 as syntax). nullopt when the error is not the client's syntax (the peer closed, a timeout, the
// server stopping): then there is no one to answer.
// `partial` is the header as far as it was read (Beast stops at the first bad field).
std::optional<Response> AnswerToReadError(const boost::system::error_code& ec,
                                          const http::request_header<>& partial);

// The 501 for a well-formed header that asks for what the server does not implement: a method
// it does not know (methods it knows but a route does not allow get the router's 405), or a
// Transfer-Encoding other than exactly `chunked` (`gzip, chunked` included: its body would
// otherwise be taken for plain chunked data; `gzip` alone would leave the body to be read as
// the next request). nullopt: go on.
std::optional<Response> AnswerToUnsupported(const http::request_header<>& header);

}  // namespace hotrod
