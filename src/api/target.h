// Request-target parsing for the Router: the decoded path segments and query parameters of an
// origin-form target ("/a/b?x=1"), or nullopt when the target is not valid origin-form.
//
// Contract: ParseTarget(t) returns exactly what ParseTargetWithUrl(t) (Boost.URL, the
// reference) returns, for every t. The common API target (plain characters, no escapes) is
// split by hand; anything else goes to Boost.URL. Why: Boost.URL's parse plus its segment and
// parameter views cost ~5% of the server's CPU on a warm invoke, for targets that need no
// decoding at all. target_test.cc checks the two agree on a corpus of edge cases.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hotrod {

struct ParsedTarget {
  std::vector<std::string> segments;  // decoded; a trailing empty segment (trailing '/') dropped
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
};

std::optional<ParsedTarget> ParseTarget(std::string_view target);
std::optional<ParsedTarget> ParseTargetWithUrl(std::string_view target);

}  // namespace hotrod
