#include "api/request_errors.h"

#include <string>

#include <gtest/gtest.h>

namespace hotrod {
namespace {

// What the server would answer to these header bytes: the status of the refusal, or 0 when the
// header is taken.
struct Outcome {
  int status = 0;
  std::string body;
};

Outcome Parse(const std::string& bytes) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(kRequestHeaderLimit);
  parser.body_limit(boost::none);
  parser.eager(false);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(bytes), ec);
  std::optional<Response> answer;
  if (ec) {
    answer = AnswerToReadError(ec, parser.get());
    if (!answer) ADD_FAILURE() << "no answer to " << ec.message();
  } else {
    EXPECT_TRUE(parser.is_header_done()) << bytes;
    answer = AnswerToUnsupported(parser.get());
  }
  if (!answer) return {};
  EXPECT_EQ((*answer)[http::field::content_type], "application/json");
  return {static_cast<int>(answer->result_int()), answer->body()};
}

TEST(RequestErrors, WellFormedRequestsAreTaken) {
  EXPECT_EQ(Parse("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 0);
  EXPECT_EQ(Parse("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").status, 0);
  EXPECT_EQ(Parse("POST /a HTTP/1.1\r\nTransfer-Encoding:  Chunked \r\n\r\n").status, 0);
  EXPECT_EQ(Parse("PATCH /a HTTP/1.0\r\n\r\n").status, 0);  // known method: the router's 405, if any
}

TEST(RequestErrors, BadSyntaxIs400) {
  EXPECT_EQ(Parse("GARBAGE\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("G@T / HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET  HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET / HTTX/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET / HTTP/2.0\r\n\r\n").status, 400);  // Beast reads 1.0 and 1.1 only
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nNo colon here\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n").status, 400);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").status, 400);
  auto both = Parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(both.status, 400);
  EXPECT_NE(both.body.find("Content-Length"), std::string::npos) << both.body;
}

TEST(RequestErrors, OversizedHeaderIs431) {
  auto r = Parse("GET / HTTP/1.1\r\nX-Big: " + std::string(kRequestHeaderLimit, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
}

TEST(RequestErrors, TransferEncodingOtherThanChunkedIs501) {
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").status, 501);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").status, 501);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").status, 501);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n").status, 501);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n").status, 501);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n").status, 501);
}

TEST(RequestErrors, UnknownMethodIs501) {
  auto r = Parse("BREW /pot HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 501);
  EXPECT_NE(r.body.find("BREW"), std::string::npos);
}

TEST(RequestErrors, PeerGoneIsNotAnswered) {
  http::request_header<> none;
  EXPECT_EQ(AnswerToReadError(http::error::end_of_stream, none), std::nullopt);
  EXPECT_EQ(AnswerToReadError(http::error::partial_message, none), std::nullopt);
  EXPECT_EQ(AnswerToReadError(boost::asio::error::operation_aborted, none), std::nullopt);
  EXPECT_EQ(AnswerToReadError(boost::beast::error::timeout, none), std::nullopt);
}

}  // namespace
}  // namespace hotrod
