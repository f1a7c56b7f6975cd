#include "invoker/frame.h"

#include <gtest/gtest.h>

namespace hotrod {
namespace {

TEST(Frame, LengthIsBigEndian) {
  std::string out;
  AppendFrame(out, std::string(0x010203, 'a'));
  ASSERT_EQ(out.size(), 0x010203u + 4);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 1);
  EXPECT_EQ(out[2], 2);
  EXPECT_EQ(out[3], 3);
  EXPECT_EQ(DecodeFrameLength(reinterpret_cast<const unsigned char*>(out.data())), 0x010203u);
}

TEST(Frame, EmptyPayload) {
  std::string out;
  AppendFrame(out, "");
  EXPECT_EQ(out, std::string(4, '\0'));
}

}  // namespace
}  // namespace hotrod
