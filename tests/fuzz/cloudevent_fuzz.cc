// libFuzzer target for the CloudEvents parsers and the cron parser (src/controller/cloudevent.h,
// cron.h): both take bytes straight from the network (fire bodies, ce-* headers, alarm PUTs).
// Beyond crashes and sanitizer reports it aborts when an accepted event breaks the contract
// (missing required attributes, both data forms) or a cron's next time is not in the future.
//
// Build (not wired into CMake, like zip_fuzz):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I src tests/fuzz/cloudevent_fuzz.cc \
//     src/controller/cloudevent.cc src/controller/cron.cc src/common/base64.cc -lboost_json -lfmt -o cloudevent_fuzz
//   ./cloudevent_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "controller/cloudevent.h"
#include "controller/cron.h"

namespace {

void CheckEvent(const boost::json::object& e) {
  for (const char* k : {"specversion", "id", "source", "type"})
    if (!e.contains(k) || !e.at(k).is_string()) std::abort();
  if (e.contains("data") && e.contains("data_base64")) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto e = hotrod::CloudEventFromStructured(input); e.ok()) CheckEvent(*e);
  if (auto b = hotrod::CloudEventsFromBatch(input); b.ok())
    for (const auto& e : *b) CheckEvent(e);
  // Binary mode: the first line is a header value for ce-id and content-type; the rest is the body.
  const auto nl = input.find('\n');
  const std::string head(input.substr(0, nl == std::string_view::npos ? input.size() : nl));
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"ce-specversion", "1.0"}, {"ce-id", head}, {"ce-source", "/f"}, {"ce-type", "t"}, {"content-type", head}};
  if (auto e = hotrod::CloudEventFromBinary(headers, body); e.ok()) CheckEvent(*e);
  if (auto c = hotrod::CronSchedule::Parse(input); c.ok()) {
    const int64_t after = 1'800'000'000'000;
    if (auto next = c->NextAfter(after); next && *next <= after) std::abort();
  }
  return 0;
}
