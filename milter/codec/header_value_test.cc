// Tests of the HDR_LEADSPC rule, both directions.

#include "milter/codec/header_value.h"

#include "gtest/gtest.h"

namespace milter::codec {
namespace {

TEST(HeaderValueTest, WithoutLeadingSpaceTheMtaStripsOneSpace) {
  EXPECT_EQ(HeaderValueForFilter(" hi", false), "hi");
  EXPECT_EQ(HeaderValueForFilter("  hi", false), " hi");
  EXPECT_EQ(HeaderValueForFilter("hi", false), "hi");
  EXPECT_EQ(HeaderValueForFilter("", false), "");
  EXPECT_EQ(HeaderValueFromFilter("hi", false), " hi");
}

TEST(HeaderValueTest, WithLeadingSpaceValuesPassUnchanged) {
  EXPECT_EQ(HeaderValueForFilter(" hi", true), " hi");
  EXPECT_EQ(HeaderValueFromFilter("hi", true), "hi");
}

TEST(HeaderValueTest, TheTwoDirectionsAreInverse) {
  for (std::string_view v : {"a", " a", "", "\tb"}) {
    EXPECT_EQ(HeaderValueForFilter(HeaderValueFromFilter(v, false), false), v);
  }
}

}  // namespace
}  // namespace milter::codec
