#include "api/request_errors.h"

#include <iterator>

#include <fmt/format.h>

namespace hotrod {

std::optional<Response> AnswerToReadError(const boost::system::error_code& ec, const http::request_header<>& partial) {
  if (ec.category() != http::make_error_code(http::error::bad_method).category()) return std::nullopt;
  switch (static_cast<http::error>(ec.value())) {
    case http::error::header_limit:
      return ErrorResponse(http::status::request_header_fields_too_large,
                           fmt::format("The request header is larger than the limit of {} bytes.", kRequestHeaderLimit));
    case http::error::bad_transfer_encoding:
      // Beast refuses a second Transfer-Encoding after a `chunked` one, and one that follows a
      // Content-Length. The first is a coding we do not implement; the second is a
      // contradiction (RFC 9112 section 6.3), hence a bad request.
      if (partial.count(http::field::content_length) == 0)
        return ErrorResponse(http::status::not_implemented,
                             "Transfer-Encoding is not supported here; only a single 'chunked' is.");
      return ErrorResponse(http::status::bad_request,
                           "The request is not valid HTTP/1.1: it has both Content-Length and Transfer-Encoding.");
    case http::error::bad_version:  // also a well-formed version other than 1.0 and 1.1
    case http::error::bad_line_ending:
    case http::error::bad_method:
    case http::error::bad_target:
    case http::error::bad_field:
    case http::error::bad_value:
    case http::error::bad_content_length:
    case http::error::multiple_content_length:
    case http::error::bad_chunk:
    case http::error::bad_chunk_extension:
    case http::error::bad_obs_fold:
      return ErrorResponse(http::status::bad_request, fmt::format("The request is not valid HTTP/1.1: {}.", ec.message()));
    default:
      // end_of_stream and partial_message (the peer closed), body_limit (the caller's 413),
      // and the parser's internal conditions.
      return std::nullopt;
  }
}

std::optional<Response> AnswerToUnsupported(const http::request_header<>& header) {
  if (header.method() == http::verb::unknown)
    return ErrorResponse(http::status::not_implemented,
                         fmt::format("The method '{}' is not implemented.", std::string_view(header.method_string())));
  auto [first, last] = header.equal_range(http::field::transfer_encoding);
  if (first == last) return std::nullopt;
  // Exactly one field whose only coding is `chunked` (any case, optional whitespace).
  if (std::next(first) == last) {
    http::token_list codings{first->value()};
    auto coding = codings.begin();
    if (coding != codings.end() && boost::beast::iequals(*coding, "chunked") && std::next(coding) == codings.end())
      return std::nullopt;
  }
  return ErrorResponse(http::status::not_implemented,
                       fmt::format("Transfer-Encoding '{}' is not supported; only 'chunked' is.",
                                   std::string_view(first->value())));
}

}  // namespace hotrod
