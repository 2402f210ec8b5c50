// JSON: what the status document uses, escaping round trips, and bad input
// refused with a position.

#include "manager/status/json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter::manager::status {
namespace {

using ::testing::HasSubstr;

TEST(JsonTest, ParsesValues) {
  absl::StatusOr<JsonValue> v = ParseJson(
      R"( {"a": [1, -2.5e1, true, false, null], "b": {"c": "d\u00e9\n"},
           "e": ""} )");
  ASSERT_TRUE(v.ok()) << v.status();
  const JsonValue* a = v->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items.size(), 5u);
  EXPECT_EQ(a->items[0].number, 1);
  EXPECT_EQ(a->items[1].number, -25);
  EXPECT_TRUE(a->items[2].boolean);
  EXPECT_EQ(a->items[3].type, JsonValue::Type::kBool);
  EXPECT_EQ(a->items[4].type, JsonValue::Type::kNull);
  EXPECT_EQ(v->Find("b")->StringOr("c", "?"), "d\xc3\xa9\n");
  EXPECT_EQ(v->StringOr("e", "?"), "");
  EXPECT_EQ(v->StringOr("missing", "?"), "?");
  EXPECT_EQ(v->NumberOr("e", 7), 7);  // not a number
}

TEST(JsonTest, StringsRoundTrip) {
  for (std::string text :
       {std::string("plain"), std::string("quote \" back \\ slash"),
        std::string("ctl \x01\t\r\n"), std::string("\xf0\x9f\x98\x80 emoji")}) {
    absl::StatusOr<JsonValue> v = ParseJson(JsonString(text));
    ASSERT_TRUE(v.ok()) << JsonString(text) << ": " << v.status();
    EXPECT_EQ(v->string, text);
  }
  EXPECT_EQ(JsonString("bad \xff byte"), "\"bad \\ufffd byte\"");
  absl::StatusOr<JsonValue> pair = ParseJson(R"("\ud83d\ude00")");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->string, "\xf0\x9f\x98\x80");
}

TEST(JsonTest, Numbers) {
  EXPECT_EQ(JsonNumber(3), "3");
  EXPECT_EQ(JsonNumber(0.25), "0.25");
  EXPECT_EQ(JsonNumber(1.0 / 0.0), "null");
}

TEST(JsonTest, RefusesBadInput) {
  for (const char* bad :
       {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\ud800\"", "\"\\x\"",
        "tru", "{} x", "\"a\nb\"", "\"\xff\"", "[1 2]", "-", "{1:2}"}) {
    absl::StatusOr<JsonValue> v = ParseJson(bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) {
      EXPECT_THAT(std::string(v.status().message()), HasSubstr("JSON at byte"));
    }
  }
}

TEST(JsonTest, DeepNestingIsRefusedNotACrash) {
  std::string deep(100000, '[');
  absl::StatusOr<JsonValue> v = ParseJson(deep);
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()),
              HasSubstr("nested too deeply"));
  std::string ok =
      std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseJson(ok).ok());
}

}  // namespace
}  // namespace milter::manager::status
