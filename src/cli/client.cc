// Calling the REST API on behalf of a client command: configuration, credentials, error lines.
#include <boost/json/parse.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/json_limits.h"

namespace hotrod {

void AddClientFlags(CLI::App& cmd, CliContext& ctx) {
  cmd.add_option("--apihost", ctx.flags.apihost, "API host URL (default: HOTROD_APIHOST, ~/.hotrod/config, " +
                                                     std::string(kDefaultApiHost) + ")");
  cmd.add_option("--auth", ctx.flags.auth, "credentials uuid:key (default: HOTROD_AUTH, ~/.hotrod/config, guest.key)");
  cmd.add_flag("--json", ctx.json, "print the server's raw JSON reply");
}

Result<ApiReply> CallApi(const CliContext& ctx, std::string_view method, const std::string& target,
                         std::string_view body) {
  const ClientConfig config = ResolveClientConfig(ctx.flags);
  auto endpoint = ParseApiHost(config.apihost);
  if (!endpoint.ok()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     endpoint.error().message + " (from " + config.apihost_source + ")");
  }
  if (config.auth.empty()) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "no credentials: pass --auth UUID:KEY, set HOTROD_AUTH, run `hotrod property set "
                     "--auth UUID:KEY`, or start `hotrod serve` once so it writes " +
                         DefaultDataDir() + "/guest.key");
  }
  HttpClient client(std::move(*endpoint), config.auth);
  HOTROD_ASSIGN_OR_RETURN(auto response, client.Send(method, target, body));
  ApiReply reply;
  reply.status = response.status;
  reply.body = std::move(response.body);
  reply.activation_id = response.Header("x-openwhisk-activation-id");
  if (!reply.body.empty()) {
    boost::system::error_code ec;
    // A reply wraps what users and functions wrote (an activation's response.result).
    reply.json = ParseJsonDocument(reply.body, ec, JsonParseOptions(kMaxEnvelopedJsonDepth));
    reply.is_json = !ec;
    if (ec) reply.json = nullptr;
  }
  return reply;
}

int ReportError(const CliContext& ctx, const Error& error) {
  ctx.err << "error: " << error.message << '\n';
  return error.code == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

int ReportHttpError(const CliContext& ctx, const ApiReply& reply) {
  ctx.err << FormatApiError(reply.status, reply.body) << '\n';
  return kExitFailure;
}

int PrintReply(const CliContext& ctx, const ApiReply& reply, const std::function<std::string()>& human) {
  if (ctx.json) {
    ctx.out << reply.body;
    if (!reply.body.empty() && reply.body.back() != '\n') ctx.out << '\n';
  } else {
    ctx.out << human();
  }
  return kExitOk;
}

int CallAndPrint(const CliContext& ctx, std::string_view method, const std::string& target,
                 std::string_view body, const std::function<std::string(const ApiReply&)>& human) {
  auto reply = CallApi(ctx, method, target, body);
  if (!reply.ok()) return ReportError(ctx, reply.error());
  if (!reply->ok()) return ReportHttpError(ctx, *reply);
  return PrintReply(ctx, *reply, [&] { return human(*reply); });
}

}  // namespace hotrod
