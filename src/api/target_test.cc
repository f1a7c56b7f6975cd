#include "api/target.h"

#include <gtest/gtest.h>

namespace hotrod {
namespace {

// The fast split must agree with Boost.URL on every target, plain or not.
TEST(ParseTarget, AgreesWithBoostUrl) {
  const char* corpus[] = {
      "/", "/api", "/api/v1", "/api/v1/", "/api/v1/namespaces", "/api/v1/namespaces/_/actions/hello",
      "/api/v1/namespaces/_/actions/hello?blocking=true&result=true",
      "/api/v1/namespaces/_/actions/hello?blocking=true&result=true&timeout=100",
      "/api/v1/namespaces/_/actions/hello/", "/api/v1/namespaces/_/actions/hello/?blocking=true",
      "/a?x", "/a?x=", "/a?=x", "/a?x=1=2", "/a?x=1&x=2", "/a?", "/a?&", "/a?x&&y", "/a?&x", "/a?x&",
      "/a?x=1?y", "/a?q=a+b", "/a?q=a%20b", "/a%2Fb", "/a/%7Euser", "//a", "/a//b", "/a/./b", "/a/../b",
      "/.", "/..", "/a/.", "/a b", "/a\"b", "/a#frag", "/a?x#f", "", "a/b", "*", "http://h/a",
      "/api/v1/namespaces/guest@x.y/actions/a-b_c~d!$'()*,;:@", "/a?k=v;w", "/%", "/a?x=%zz",
      "/a/b/c/d/e/f/g/h/i/j/k", "/api/v1/namespaces/_/activations?limit=5&skip=2&name=x",
  };
  for (const char* t : corpus) {
    SCOPED_TRACE(t);
    auto fast = ParseTarget(t);
    auto ref = ParseTargetWithUrl(t);
    ASSERT_EQ(fast.has_value(), ref.has_value());
    if (!fast) continue;
    EXPECT_EQ(fast->segments, ref->segments);
    EXPECT_EQ(fast->query, ref->query);
  }
}

TEST(ParseTarget, SplitsAnInvokeTarget) {
  auto t = ParseTarget("/api/v1/namespaces/_/actions/hello?blocking=true&result");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->segments, (std::vector<std::string>{"api", "v1", "namespaces", "_", "actions", "hello"}));
  EXPECT_EQ(t->query, (std::vector<std::pair<std::string, std::string>>{{"blocking", "true"}, {"result", ""}}));
}

TEST(ParseTarget, DecodesEscapesThroughBoostUrl) {
  auto t = ParseTarget("/api/v1/namespaces/_/actions/a%20b?q=x+y");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->segments.back(), "a b");
  ASSERT_EQ(t->query.size(), 1u);
  EXPECT_EQ(t->query[0].second, "x y");
}

TEST(ParseTarget, RejectsWhatIsNotOriginForm) {
  EXPECT_FALSE(ParseTarget("a/b"));
  EXPECT_FALSE(ParseTarget("/a b"));
  EXPECT_FALSE(ParseTarget(""));
}

}  // namespace
}  // namespace hotrod
