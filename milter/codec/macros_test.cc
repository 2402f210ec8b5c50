// Macro storage: bare and braced names, stage shadowing, ClearAbove.

#include "milter/codec/macros.h"

#include <string>

#include "gtest/gtest.h"
#include "milter/codec/encoder.h"

namespace milter::codec {
namespace {

using namespace std::string_literals;

TEST(CanonicalMacroName, StripsBraces) {
  EXPECT_EQ(CanonicalMacroName("{i}"), "i");
  EXPECT_EQ(CanonicalMacroName("i"), "i");
  EXPECT_EQ(CanonicalMacroName("{daemon_name}"), "daemon_name");
  EXPECT_EQ(CanonicalMacroName("{"), "{");
  EXPECT_EQ(CanonicalMacroName("{}"), "");
  EXPECT_EQ(CanonicalMacroName("{x"), "{x");
}

TEST(MacroMap, BareAndBracedSpellingsBothFound) {
  MacroMap m;
  std::string raw =
      "i\0"
      "4ABC123\0{daemon_name}\0smtpd\0j\0mx.example\0"s;
  m.SetStage(MacroStage::kData, StringList(raw));
  raw.assign(raw.size(), 'X');  // the map owns copies
  EXPECT_EQ(m.Get("i"), "4ABC123");
  EXPECT_EQ(m.Get("{i}"), "4ABC123");
  EXPECT_EQ(m.Get("{daemon_name}"), "smtpd");
  EXPECT_EQ(m.Get("daemon_name"), "smtpd");
  EXPECT_EQ(m.Get("{j}"), "mx.example");
  EXPECT_FALSE(m.Get("{nope}").has_value());
  EXPECT_FALSE(m.Get("").has_value());
  EXPECT_EQ(m.GetInStage(MacroStage::kData, "{i}"), "4ABC123");
  EXPECT_FALSE(m.GetInStage(MacroStage::kConnect, "i").has_value());
  // Names are kept as received.
  ASSERT_EQ(m.stage(MacroStage::kData).size(), 3u);
  EXPECT_EQ(m.stage(MacroStage::kData)[0].first, "i");
  EXPECT_EQ(m.stage(MacroStage::kData)[1].first, "{daemon_name}");
}

TEST(MacroMap, BracedSingleLetterReceivedFoundBare) {
  MacroMap m;
  m.Set(MacroStage::kConnect, "{j}", "host");
  EXPECT_EQ(m.Get("j"), "host");
  EXPECT_EQ(m.Get("{j}"), "host");
}

TEST(MacroMap, OddTrailingNameIgnoredAndEmptyValuesKept) {
  MacroMap m;
  std::string raw = "{auth_type}\0\0dangling\0"s;
  m.SetStage(MacroStage::kMail, StringList(raw));
  EXPECT_EQ(m.stage(MacroStage::kMail).size(), 1u);
  EXPECT_EQ(m.Get("{auth_type}"), "");
  EXPECT_FALSE(m.Get("dangling").has_value());
}

TEST(MacroMap, LaterStagesShadowEarlierOnes) {
  MacroMap m;
  m.Set(MacroStage::kConnect, "j", "connect-j");
  m.Set(MacroStage::kConnect, "{v}", "Postfix");
  m.Set(MacroStage::kMail, "{mail_addr}", "a@b");
  m.Set(MacroStage::kMail, "j", "mail-j");
  EXPECT_EQ(m.Get("j"), "mail-j");
  EXPECT_EQ(m.Get("v"), "Postfix");
  // Search is by stage index, highest first: end of headers (6) shadows end
  // of message (5), as in libmilter's smfi_getsymval.
  m.Set(MacroStage::kEndOfMessage, "i", "eom");
  m.Set(MacroStage::kEndOfHeaders, "i", "eoh");
  m.Set(MacroStage::kData, "i", "data");
  EXPECT_EQ(m.Get("{i}"), "eoh");
  EXPECT_EQ(m.GetInStage(MacroStage::kData, "i"), "data");
}

TEST(MacroMap, SetReplacesSameCanonicalName) {
  MacroMap m;
  m.Set(MacroStage::kRcpt, "{rcpt_addr}", "one");
  m.Set(MacroStage::kRcpt, "rcpt_addr", "two");
  EXPECT_EQ(m.stage(MacroStage::kRcpt).size(), 1u);
  EXPECT_EQ(m.Get("{rcpt_addr}"), "two");
}

TEST(MacroMap, SetStageReplacesTheStage) {
  MacroMap m;
  m.Set(MacroStage::kRcpt, "{rcpt_addr}", "first");
  m.Set(MacroStage::kRcpt, "{extra}", "x");
  std::string raw = "{rcpt_addr}\0second\0"s;
  m.SetStage(MacroStage::kRcpt, StringList(raw));
  EXPECT_EQ(m.Get("rcpt_addr"), "second");
  EXPECT_FALSE(m.Get("extra").has_value());
}

TEST(MacroMap, ClearAbove) {
  MacroMap m;
  for (int s = 0; s < kNumMacroStages; ++s) {
    m.Set(static_cast<MacroStage>(s), "s" + std::to_string(s), "v");
  }
  // A new MAIL clears rcpt, data, eom and eoh macros but keeps connect/helo.
  m.ClearAbove(MacroStage::kMail);
  EXPECT_TRUE(m.Get("s0").has_value());
  EXPECT_TRUE(m.Get("s1").has_value());
  EXPECT_TRUE(m.Get("s2").has_value());
  for (int s = 3; s < kNumMacroStages; ++s) {
    EXPECT_FALSE(m.Get("s" + std::to_string(s)).has_value()) << s;
  }
  m.ClearAbove(MacroStage::kConnect);
  EXPECT_TRUE(m.Get("s0").has_value());
  EXPECT_FALSE(m.Get("s1").has_value());
  m.ClearAbove(MacroStage::kEndOfHeaders);  // nothing above 6
  EXPECT_TRUE(m.Get("s0").has_value());
  m.Clear();
  EXPECT_FALSE(m.Get("s0").has_value());
}

}  // namespace
}  // namespace milter::codec
