#include "cli/http_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <exception>
#include <optional>

#include "common/base64.h"

namespace hotrod {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr uint64_t kMaxReplyBody = 256ull << 20;

bool IEquals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

std::string HostForHeader(const ApiEndpoint& e) {
  // IPv6 literals need their brackets back in the Host header and in messages.
  std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
  return host + ":" + e.port;
}

// The state one exchange needs; lives on Send()'s stack while its io_context runs.
struct Exchange {
  const ApiEndpoint& endpoint;
  http::request<http::string_body> request;
  std::chrono::milliseconds timeout;
  std::optional<Result<HttpResponse>> outcome;

  void Fail(ErrorCode code, const std::string& what) {
    outcome.emplace(MakeError(code, what));
  }

  asio::awaitable<void> Run() {
    const std::string where = endpoint.ToString();
    auto executor = co_await asio::this_coro::executor;
    beast::error_code ec;

    tcp::resolver resolver(executor);
    beast::tcp_stream stream(executor);
    // One deadline for connect, write and read: tcp_stream applies it to every operation started
    // after this call. Name resolution is left to the system resolver's own timeouts.
    stream.expires_after(timeout);

    auto endpoints = co_await resolver.async_resolve(endpoint.host, endpoint.port,
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      Fail(ErrorCode::kUnavailable, "cannot resolve " + where + ": " + ec.message());
      co_return;
    }
    co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout) {
      Fail(ErrorCode::kTimeout, "timed out connecting to " + where);
      co_return;
    }
    if (ec) {
      Fail(ErrorCode::kUnavailable, "cannot connect to " + where + ": " + ec.message() +
                                        " (is `hotrod serve` running there?)");
      co_return;
    }
    co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout) {
      Fail(ErrorCode::kTimeout, "timed out sending to " + where);
      co_return;
    }
    // A server that refuses a body early (413) may reset the connection while we still write;
    // its reply may still be readable, so a write error is reported only if the read fails too.
    const beast::error_code write_ec = ec;

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxReplyBody);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout) {
      Fail(ErrorCode::kTimeout, "timed out after " + std::to_string(timeout.count()) +
                                    " ms waiting for " + where);
      co_return;
    }
    if (ec) {
      const auto& cause = write_ec ? write_ec : ec;
      Fail(ErrorCode::kInternal, "broken reply from " + where + ": " + cause.message());
      co_return;
    }
    auto& reply = parser.get();
    HttpResponse out;
    out.status = static_cast<int>(reply.result_int());
    for (const auto& field : reply) {
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.content_type = std::string(reply[http::field::content_type]);
    out.body = std::move(reply.body());
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    outcome.emplace(std::move(out));
  }
};

}  // namespace

std::string ApiEndpoint::ToString() const { return "http://" + HostForHeader(*this) + base_path; }

Result<ApiEndpoint> ParseApiHost(std::string_view apihost) {
  if (apihost.empty()) return MakeError(ErrorCode::kInvalidArgument, "the apihost is empty");
  std::string text(apihost);
  // wsk accepts a bare "host:port"; without a scheme the URL parser would take "host" as one.
  if (text.find("://") == std::string::npos) text = "http://" + text;
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "cannot parse apihost '" + std::string(apihost) + "': " + parsed.error().message());
  }
  const boost::urls::url_view& url = *parsed;
  const std::string scheme(url.scheme());
  if (IEquals(scheme, "https")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "https apihosts are not supported yet: use http:// ('" + std::string(apihost) + "')");
  }
  if (!IEquals(scheme, "http")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unsupported scheme '" + scheme + "' in apihost '" + std::string(apihost) + "'");
  }
  if (url.has_userinfo() || url.has_query() || url.has_fragment()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the apihost must be scheme://host[:port][/path] ('" + std::string(apihost) + "')");
  }
  ApiEndpoint e;
  if (url.host_type() == boost::urls::host_type::ipv6) {
    e.host = url.host_ipv6_address().to_string();
  } else {
    e.host = url.host();
  }
  if (e.host.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no host in apihost '" + std::string(apihost) + "'");
  }
  e.port = url.has_port() && !url.port().empty() ? std::string(url.port()) : "80";
  e.base_path = std::string(url.encoded_path());
  while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
  return e;
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return "";
}

HttpClient::HttpClient(ApiEndpoint endpoint, std::string auth, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {
  if (!auth.empty()) authorization_ = "Basic " + Base64Encode(auth);
}

Result<HttpResponse> HttpClient::Send(std::string_view method, std::string_view target,
                                      std::string_view body) const {
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    return MakeError(ErrorCode::kInvalidArgument, "unknown HTTP method " + std::string(method));
  }
  Exchange exchange{endpoint_, {}, timeout_, std::nullopt};
  auto& req = exchange.request;
  req.method(verb);
  req.target(endpoint_.base_path + std::string(target));
  req.version(11);
  req.set(http::field::host, HostForHeader(endpoint_));
  req.set(http::field::user_agent, "hotrod-cli");
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  if (!authorization_.empty()) req.set(http::field::authorization, authorization_);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.prepare_payload();

  // Beast's coroutine API gives the whole exchange one deadline, which its blocking API cannot;
  // a private io_context run to completion keeps the call synchronous for the caller.
  asio::io_context ioc;
  std::exception_ptr failure;
  asio::co_spawn(ioc, exchange.Run(), [&](std::exception_ptr e) { failure = e; });
  try {
    ioc.run();
    if (failure) std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal,
                     "talking to " + endpoint_.ToString() + " failed: " + e.what());
  }
  if (!exchange.outcome) {
    return MakeError(ErrorCode::kInternal, "no reply from " + endpoint_.ToString());
  }
  return std::move(*exchange.outcome);
}

}  // namespace hotrod
