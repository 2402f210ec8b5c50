// Tests of codec::Status names and the severity order MTAs use when chaining
// filters.

#include "milter/codec/status.h"

#include "gtest/gtest.h"

namespace milter::codec {
namespace {

TEST(StatusTest, Names) {
  EXPECT_STREQ(StatusName(Status::kContinue), "continue");
  EXPECT_STREQ(StatusName(Status::kShutdown), "shutdown");
  EXPECT_STREQ(StatusName(Status::kConnectionFail), "connection-fail");
  EXPECT_STREQ(StatusName(Status::kNoReply), "no-reply");
}

TEST(StatusTest, SeverityOrder) {
  const Status order[] = {
      Status::kAccept,   Status::kSkip,     Status::kNoReply,
      Status::kContinue, Status::kTempfail, Status::kReject,
      Status::kDiscard,  Status::kShutdown, Status::kConnectionFail};
  for (size_t i = 1; i < std::size(order); ++i) {
    EXPECT_LT(StatusSeverity(order[i - 1]), StatusSeverity(order[i]))
        << StatusName(order[i]);
  }
}

}  // namespace
}  // namespace milter::codec
