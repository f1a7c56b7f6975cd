#include "common/json_limits.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <functional>
#include <limits>
#include <string>

#include "common/json_finite.h"

namespace hotrod {
namespace {

namespace json = boost::json;

// {"a":{"a":...{}...}} with `depth` objects.
std::string NestedObjects(std::size_t depth) {
  std::string s;
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s.pop_back();
  s.pop_back();
  s.pop_back();
  s.pop_back();
  s.pop_back();
  s += "{}";
  for (std::size_t i = 1; i < depth; ++i) s += '}';
  return s;
}

std::string NestedArrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::size_t Depth(const json::value& v) {
  std::size_t d = 0;
  for (const json::value* p = &v;;) {
    if (p->is_object() && !p->get_object().empty()) {
      p = &p->get_object().begin()->value();
    } else if (p->is_array() && !p->get_array().empty()) {
      p = &p->get_array()[0];
    } else {
      return d + ((p->is_object() || p->is_array()) ? 1 : 0);
    }
    ++d;
  }
}

TEST(JsonLimits, ParsesDocumentsAtTheLimit) {
  for (const std::string& text : {NestedObjects(kMaxJsonDepth), NestedArrays(kMaxJsonDepth)}) {
    boost::system::error_code ec;
    json::value v = ParseJsonDocument(text, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(Depth(v), kMaxJsonDepth);
    EXPECT_EQ(json::serialize(v), text);  // the round trip is exact
  }
}

TEST(JsonLimits, RefusesOneLevelMoreAndSaysTheLimit) {
  for (const std::string& text : {NestedObjects(kMaxJsonDepth + 1), NestedArrays(kMaxJsonDepth + 1)}) {
    boost::system::error_code ec;
    json::value v = ParseJsonDocument(text, ec);
    EXPECT_EQ(ec, json::error::too_deep);
    EXPECT_TRUE(v.is_null());
    EXPECT_EQ(JsonErrorMessage(ec), "nested deeper than 512 levels");
  }
}

TEST(JsonLimits, EnvelopeOptionsLeaveRoomAboveAFullDepthDocument) {
  // A runtime's reply {"ok":true,"result":R} around a result R of full depth.
  const std::string reply = "{\"ok\":true,\"result\":" + NestedObjects(kMaxJsonDepth) + "}";
  boost::system::error_code ec;
  ParseJsonDocument(reply, ec);
  EXPECT_EQ(ec, json::error::too_deep);
  ec = {};
  ParseJsonDocument(reply, ec, JsonParseOptions(kMaxJsonDepth + 1));
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(JsonErrorMessage(json::error::too_deep, kMaxEnvelopedJsonDepth), "nested deeper than 528 levels");
}

TEST(JsonLimits, RefusesNumbersBeyondDouble) {
  boost::system::error_code ec;
  ParseJsonDocument(R"({"a":[1,{"b":1e400}]})", ec);
  EXPECT_EQ(ec, json::error::exponent_overflow);
  EXPECT_EQ(JsonErrorMessage(ec), "a number is beyond the range of a double");
  ec = {};
  ParseJsonDocument(R"({"a":[1,{"b":1e300}]})", ec);
  EXPECT_FALSE(ec);
}

TEST(JsonLimits, OtherErrorsKeepBoostsMessage) {
  boost::system::error_code ec;
  ParseJsonDocument("{\"a\":", ec);
  ASSERT_TRUE(ec);
  EXPECT_EQ(JsonErrorMessage(ec), ec.message());
}

// Runs `body` on a thread with a `stack_bytes` stack (far below the 8 MiB a thread gets by
// default): a recursion that grew with the input instead of the limit would overflow it.
void OnSmallStack(std::size_t stack_bytes, std::function<void()> body) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, stack_bytes), 0);
  pthread_t thread;
  auto run = [](void* arg) -> void* {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, run, &body), 0);
  ASSERT_EQ(pthread_join(thread, nullptr), 0);
  pthread_attr_destroy(&attr);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kSmallStack = 4 << 20;  // ASan's redzones make every frame several times larger
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr std::size_t kSmallStack = 4 << 20;
#else
constexpr std::size_t kSmallStack = 512 << 10;
#endif
#else
constexpr std::size_t kSmallStack = 512 << 10;
#endif

TEST(JsonLimits, DeepestAllowedDocumentFitsASmallStack) {
  bool done = false;
  OnSmallStack(kSmallStack, [&] {
    for (const std::string& text : {NestedObjects(kMaxEnvelopedJsonDepth), NestedArrays(kMaxEnvelopedJsonDepth)}) {
      boost::system::error_code ec;
      json::value v = ParseJsonDocument(text, ec, JsonParseOptions(kMaxEnvelopedJsonDepth));
      ASSERT_FALSE(ec);
      json::value copy = v;  // copy and destruction recurse per level
      EXPECT_EQ(json::serialize(copy), text);
      EXPECT_TRUE(AllNumbersFinite(copy));
    }
    done = true;
  });
  EXPECT_TRUE(done);
}

TEST(JsonLimits, HostileDepthStopsAtTheLimitOnASmallStack) {
  // 100,000 levels fit in 200 KB, under every body size limit: the parser must give up at the
  // limit rather than descend.
  bool done = false;
  OnSmallStack(kSmallStack, [&] {
    for (const std::string& text : {NestedArrays(100'000), std::string(100'000, '[') + std::string(50'000, '{')}) {
      boost::system::error_code ec;
      json::value v = ParseJsonDocument(text, ec);
      EXPECT_EQ(ec, json::error::too_deep);
      EXPECT_TRUE(v.is_null());
    }
    done = true;
  });
  EXPECT_TRUE(done);
}

TEST(JsonFinite, WalksAValueDeeperThanAnyParserAllowsWithoutRecursion) {
  // Built in code, not parsed: nothing bounded its depth. A monotonic resource frees it all at
  // once, so not even the destructor descends.
  json::monotonic_resource resource;
  json::storage_ptr sp(&resource);  // not shared: containers skip destroying their elements
  json::value root = json::array(sp);
  json::array* leaf = &root.as_array();
  for (int i = 0; i < 200'000; ++i) leaf = &leaf->emplace_back(json::array(sp)).as_array();
  bool finite = false;
  OnSmallStack(kSmallStack, [&] { finite = AllNumbersFinite(root); });
  EXPECT_TRUE(finite);
  leaf->emplace_back(std::numeric_limits<double>::infinity());  // at the bottom
  OnSmallStack(kSmallStack, [&] { finite = AllNumbersFinite(root); });
  EXPECT_FALSE(finite);
}

}  // namespace
}  // namespace hotrod
