// Reply texts ('y'): validation and formatting as libmilter and the MTAs
// enforce them; body chunking.

#include "milter/codec/reply.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "milter/codec/protocol.h"

namespace milter::codec {
namespace {

absl::StatusOr<std::string> Format(std::string_view code,
                                   std::string_view enhanced,
                                   std::vector<std::string_view> lines) {
  return FormatReply(code, enhanced, lines);
}

TEST(FormatReply, SingleLine) {
  EXPECT_EQ(*Format("550", "5.7.1", {"Go away"}), "550 5.7.1 Go away");
  EXPECT_EQ(*Format("451", "4.3.0", {"Try later"}), "451 4.3.0 Try later");
  EXPECT_EQ(*Format("550", "", {"No enhanced"}), "550 No enhanced");
  EXPECT_EQ(*Format("550", "5.7.1", {}), "550 5.7.1");
  EXPECT_EQ(*Format("550", "5.7.1", {""}), "550 5.7.1");
  EXPECT_EQ(*Format("421", "", {}), "421 ");
}

TEST(FormatReply, MultiLine) {
  EXPECT_EQ(*Format("550", "5.7.1", {"one", "two", "three"}),
            "550-5.7.1 one\r\n550-5.7.1 two\r\n550 5.7.1 three");
  EXPECT_EQ(*Format("450", "", {"a", "b"}), "450-a\r\n450 b");
}

TEST(FormatReply, PercentIsDoubled) {
  EXPECT_EQ(*Format("550", "5.7.1", {"100% spam", "%%"}),
            "550-5.7.1 100%% spam\r\n550 5.7.1 %%%%");
}

TEST(FormatReply, OnlyFourOrFiveHundredCodes) {
  EXPECT_FALSE(Format("250", "", {"ok"}).ok());
  EXPECT_FALSE(Format("350", "", {"x"}).ok());
  EXPECT_FALSE(Format("55", "", {"x"}).ok());
  EXPECT_FALSE(Format("5500", "", {"x"}).ok());
  EXPECT_FALSE(Format("5x0", "", {"x"}).ok());
  EXPECT_FALSE(Format("", "", {"x"}).ok());
  auto s = Format("250", "", {"ok"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FormatReply, EnhancedClassMustMatch) {
  auto mismatch = Format("550", "4.7.1", {"x"});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("does not match"),
            std::string::npos)
      << mismatch.status();
  EXPECT_FALSE(Format("451", "5.7.1", {"x"}).ok());
  EXPECT_FALSE(Format("550", "2.0.0", {"x"}).ok());
  EXPECT_FALSE(Format("550", "5.7", {"x"}).ok());
  EXPECT_FALSE(Format("550", "5.7.1.1", {"x"}).ok());
  EXPECT_FALSE(Format("550", "5.1000.1", {"x"}).ok());
  EXPECT_FALSE(Format("550", "5..1", {"x"}).ok());
  EXPECT_FALSE(Format("550", "x.7.1", {"x"}).ok());
  EXPECT_TRUE(Format("550", "5.123.456", {"x"}).ok());
}

TEST(FormatReply, CrLfAndNulRefused) {
  EXPECT_FALSE(Format("550", "5.7.1", {"a\r\nb"}).ok());
  EXPECT_FALSE(Format("550", "5.7.1", {"a\nb"}).ok());
  EXPECT_FALSE(Format("550", "5.7.1", {"a\rb"}).ok());
  EXPECT_FALSE(Format("550", "5.7.1", {"ok", "bad\n"}).ok());
  EXPECT_FALSE(Format("550", "5.7.1", {std::string_view("a\0b", 3)}).ok());
}

TEST(FormatReply, AtMost32Lines) {
  std::vector<std::string_view> lines(32, "line");
  auto ok = Format("550", "5.7.1", lines);
  ASSERT_TRUE(ok.ok());
  auto parsed = ParseReply(*ok);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->lines.size(), 32u);
  lines.push_back("one too many");
  auto bad = Format("550", "5.7.1", lines);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("33"), std::string::npos);
}

TEST(IsEnhancedStatusCode, Forms) {
  EXPECT_TRUE(IsEnhancedStatusCode("2.0.0"));
  EXPECT_TRUE(IsEnhancedStatusCode("4.7.1"));
  EXPECT_TRUE(IsEnhancedStatusCode("5.999.999"));
  EXPECT_FALSE(IsEnhancedStatusCode("3.0.0"));
  EXPECT_FALSE(IsEnhancedStatusCode("5.0"));
  EXPECT_FALSE(IsEnhancedStatusCode("5.0.0."));
  EXPECT_FALSE(IsEnhancedStatusCode("55.0.0"));
  EXPECT_FALSE(IsEnhancedStatusCode("5.a.0"));
  EXPECT_FALSE(IsEnhancedStatusCode(""));
}

TEST(ParseReply, SingleAndMultiLine) {
  auto p = ParseReply("550 5.7.1 Go away");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->code, "550");
  EXPECT_EQ(p->enhanced, "5.7.1");
  EXPECT_EQ(p->lines, (std::vector<std::string>{"Go away"}));

  p = ParseReply("451-4.3.0 first\r\n451 4.3.0 second");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->code, "451");
  EXPECT_EQ(p->enhanced, "4.3.0");
  EXPECT_EQ(p->lines, (std::vector<std::string>{"first", "second"}));

  p = ParseReply("550 plain text");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->enhanced, "");
  EXPECT_EQ(p->lines, (std::vector<std::string>{"plain text"}));

  p = ParseReply("550 4.7.1 class mismatch is text");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->enhanced, "");
  EXPECT_EQ(p->lines[0], "4.7.1 class mismatch is text");
}

TEST(ParseReply, Refusals) {
  EXPECT_FALSE(ParseReply("").ok());
  EXPECT_FALSE(ParseReply("250 ok").ok());
  EXPECT_FALSE(ParseReply("550-last line uses dash").ok());
  EXPECT_FALSE(ParseReply("550 a\r\n550 b").ok());  // first must be ddd-
  EXPECT_FALSE(ParseReply("550-a\r\n451 b").ok());  // codes differ
  EXPECT_FALSE(ParseReply("55").ok());
}

TEST(FormatThenParse, RoundTrip) {
  auto text = Format("550", "5.7.1", {"a", "b c", ""});
  ASSERT_TRUE(text.ok());
  auto p = ParseReply(*text);
  ASSERT_TRUE(p.ok()) << p.status() << " " << *text;
  EXPECT_EQ(p->code, "550");
  EXPECT_EQ(p->enhanced, "5.7.1");
  EXPECT_EQ(p->lines, (std::vector<std::string>{"a", "b c", ""}));
}

TEST(SplitBody, Chunks) {
  std::string body(65535 * 2 + 10, 'x');
  auto chunks = SplitBody(body, kBodyChunkSize);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].size(), 65535u);
  EXPECT_EQ(chunks[1].size(), 65535u);
  EXPECT_EQ(chunks[2].size(), 10u);
  EXPECT_EQ(chunks[0].data(), body.data());
  EXPECT_EQ(chunks[2].data(), body.data() + 131070);
  EXPECT_TRUE(SplitBody("", kBodyChunkSize).empty());
  EXPECT_EQ(SplitBody(std::string(65535, 'y'), kBodyChunkSize).size(), 1u);
  EXPECT_EQ(SplitBody("abc", 0).size(), 3u);  // 0 acts as 1
}

}  // namespace
}  // namespace milter::codec
