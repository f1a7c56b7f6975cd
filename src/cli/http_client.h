// A small blocking HTTP/1.1 client for the CLI's calls to the REST API (docs/api.md).
//
// Contract:
// - One request per connection: Send() resolves, connects, writes, reads the whole reply and closes.
//   A CLI command makes one or two calls, so keep-alive would buy nothing.
// - Send() blocks the calling thread until the reply is complete or the deadline passes. The
//   deadline covers connect, write and read together; name resolution uses the system resolver's
//   own timeouts.
// - Every failure is a value: kUnavailable when the server cannot be reached (resolve or connect
//   failed, e.g. connection refused), kTimeout when the deadline passed, kInternal for a broken
//   reply. Messages name the apihost. Any HTTP status, 4xx and 5xx included, is a successful
//   exchange: interpreting it is the caller's job.
// - Only http:// is supported; ParseApiHost rejects https:// with a clear message.
// - Thread-safety: an HttpClient is immutable after construction; Send() may be called from
//   several threads at once (each call owns its io_context and socket).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace hotrod {

// Where the REST API lives, parsed from an apihost such as "http://127.0.0.1:3233" or
// "localhost:3233" (no scheme means http, as wsk accepts a bare host).
struct ApiEndpoint {
  std::string host;       // name or address, without brackets for IPv6
  std::string port;       // numeric string; "80" when the URL names none
  std::string base_path;  // path prefix from the URL without a trailing '/', usually ""

  // "http://host:port" + base_path, for messages.
  std::string ToString() const;
};

// Parses an apihost. Errors (kInvalidArgument): empty, unparsable, https ("not supported yet"),
// another scheme, a query or fragment, or user info in the URL.
Result<ApiEndpoint> ParseApiHost(std::string_view apihost);

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order

  // The first header with this name (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  // auth: "uuid:key" sent as HTTP Basic credentials; empty sends no Authorization header.
  HttpClient(ApiEndpoint endpoint, std::string auth,
             std::chrono::milliseconds timeout = std::chrono::seconds(120));

  // Sends `method target` where target is an already-escaped path plus optional query, relative to
  // the endpoint's base path (e.g. "/api/v1/namespaces/_/actions?limit=5"). A non-empty body is
  // sent as application/json. The reply body is limited to 256 MB (the biggest legitimate reply is
  // a 48 MB zip action returned as base64).
  Result<HttpResponse> Send(std::string_view method, std::string_view target,
                            std::string_view body = {}) const;

  const ApiEndpoint& endpoint() const { return endpoint_; }

 private:
  ApiEndpoint endpoint_;
  std::string authorization_;  // the full header value, "Basic ..." or ""
  std::chrono::milliseconds timeout_;
};

}  // namespace hotrod
