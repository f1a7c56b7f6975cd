#include "invoker/log_buffer.h"

#include <gtest/gtest.h>

#include <regex>

namespace hotrod {
namespace {

std::string Body(const std::string& line) {
  // "<time> stdout: text" -> "stdout: text"
  return line.substr(line.find(' ') + 1);
}

TEST(LogBuffer, SplitsChunksIntoTimestampedLines) {
  LogBuffer b(1 << 20);
  EXPECT_EQ(b.Feed(LogStream::kStdout, "hel"), 0);
  EXPECT_EQ(b.Feed(LogStream::kStderr, "oops\n"), 0);
  EXPECT_EQ(b.Feed(LogStream::kStdout, "lo\nworld\n"), 0);
  auto lines = b.Take(1 << 20);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(std::regex_match(lines[0], std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stderr: oops)"))) << lines[0];
  EXPECT_EQ(Body(lines[1]), "stdout: hello");
  EXPECT_EQ(Body(lines[2]), "stdout: world");
  EXPECT_TRUE(b.Take(1 << 20).empty());
}

TEST(LogBuffer, CountsSentinelsWithoutStoringThem) {
  LogBuffer b(1 << 20);
  EXPECT_EQ(b.Feed(LogStream::kStdout, "a\nXXX_THE_END_OF_A_WHISK"), 0);
  EXPECT_EQ(b.Feed(LogStream::kStdout, "_ACTIVATION_XXX\nb\n"), 1);
  auto lines = b.Take(1 << 20);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Body(lines[1]), "stdout: b");
}

TEST(LogBuffer, SentinelAfterOutputWithoutNewline) {
  LogBuffer b(1 << 20);
  EXPECT_EQ(b.Feed(LogStream::kStdout, "partial" + std::string(kActivationSentinel) + "\n"), 1);
  auto lines = b.Take(1 << 20);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Body(lines[0]), "stdout: partial");
}

TEST(LogBuffer, TruncatesAtTheCapWithOneMarker) {
  LogBuffer b(10);
  b.Feed(LogStream::kStdout, "12345\n67890\nabc\ndef\n");
  EXPECT_EQ(b.Feed(LogStream::kStdout, std::string(kActivationSentinel) + "\n"), 1);
  auto lines = b.Take(10);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[2].find("Logs were truncated"), std::string::npos);
  EXPECT_NE(lines[2].find("10 bytes"), std::string::npos);
}

TEST(LogBuffer, EndlessLineIsCutIntoPieces) {
  LogBuffer b(1 << 20);
  b.Feed(LogStream::kStdout, std::string(200 * 1024, 'x'));
  EXPECT_GE(b.Take(1 << 20).size(), 3u);
}

TEST(LogBuffer, CuttingALongLineNeverSplitsASentinel) {
  // A long unterminated line followed by the sentinel, read in 16 KiB chunks as the invoker does:
  // wherever the chunks end, the sentinel must still be counted.
  const std::string stream = std::string(2 * 65536 - 10, 'a') + std::string(kActivationSentinel) + "\n";
  for (size_t chunk : {size_t{16 * 1024}, size_t{4096}, size_t{7}}) {
    LogBuffer b(1 << 20);
    int sentinels = 0;
    for (size_t at = 0; at < stream.size(); at += chunk)
      sentinels += b.Feed(LogStream::kStdout, std::string_view(stream).substr(at, chunk));
    EXPECT_EQ(sentinels, 1) << "chunk " << chunk;
  }
}

TEST(LogBuffer, FlushPartialOnEof) {
  LogBuffer b(1 << 20);
  b.Feed(LogStream::kStderr, "no newline");
  b.FlushPartial(LogStream::kStderr);
  auto lines = b.Take(1 << 20);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Body(lines[0]), "stderr: no newline");
}

}  // namespace
}  // namespace hotrod
