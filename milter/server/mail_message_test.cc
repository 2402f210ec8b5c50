#include "milter/server/mail_message.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter::server {
namespace {

using ::testing::ElementsAre;
using T = Modification::Type;

MailMessage Sample() {
  MailMessage m;
  m.envelope_from = "<a@example.com>";
  m.recipients = {"<b@example.com>", "<c@example.com>"};
  m.headers = {{"From", " a@example.com"},
               {"Received", " one"},
               {"Subject", " hello"},
               {"Received", " two"}};
  m.body = "body\r\n";
  return m;
}

std::vector<std::string> Names(const MailMessage& m) {
  std::vector<std::string> out;
  for (const auto& h : m.headers) out.push_back(h.name + ":" + h.value);
  return out;
}

Modification Header(T type, uint32_t index, std::string name,
                    std::string value) {
  return Modification{type, index, std::move(name), std::move(value), ""};
}

TEST(ApplyModificationsTest, AddHeaderAppendsWithLeadingSpace) {
  MailMessage m = Sample();
  ASSERT_TRUE(
      ApplyModifications({Header(T::kAddHeader, 0, "X-A", "yes")}, false, &m)
          .ok());
  EXPECT_EQ(m.headers.back(), (HeaderField{"X-A", " yes"}));
  ASSERT_TRUE(
      ApplyModifications({Header(T::kAddHeader, 0, "X-B", "raw")}, true, &m)
          .ok());
  EXPECT_EQ(m.headers.back(), (HeaderField{"X-B", "raw"}));
}

TEST(ApplyModificationsTest, ChangeHeaderCountsOccurrencesOfTheName) {
  MailMessage m = Sample();
  ASSERT_TRUE(ApplyModifications(
                  {Header(T::kChangeHeader, 2, "received", "TWO")}, false, &m)
                  .ok());
  EXPECT_THAT(Names(m), ElementsAre("From: a@example.com", "Received: one",
                                    "Subject: hello", "Received: TWO"));
  // 0 acts as 1.
  ASSERT_TRUE(ApplyModifications(
                  {Header(T::kChangeHeader, 0, "Received", "ONE")}, false, &m)
                  .ok());
  EXPECT_EQ(m.headers[1].value, " ONE");
}

TEST(ApplyModificationsTest, ChangeHeaderWithEmptyValueDeletes) {
  MailMessage m = Sample();
  ASSERT_TRUE(ApplyModifications({Header(T::kChangeHeader, 1, "Subject", "")},
                                 false, &m)
                  .ok());
  EXPECT_THAT(Names(m), ElementsAre("From: a@example.com", "Received: one",
                                    "Received: two"));
  // Deleting what is not there changes nothing.
  ASSERT_TRUE(ApplyModifications({Header(T::kChangeHeader, 5, "Received", "")},
                                 false, &m)
                  .ok());
  EXPECT_EQ(m.headers.size(), 3u);
}

TEST(ApplyModificationsTest, ChangeHeaderThatDoesNotExistAdds) {
  MailMessage m = Sample();
  ASSERT_TRUE(
      ApplyModifications({Header(T::kChangeHeader, 1, "X-New", "v")}, false, &m)
          .ok());
  EXPECT_EQ(m.headers.back(), (HeaderField{"X-New", " v"}));
}

TEST(ApplyModificationsTest, InsertHeaderIndexIsGlobal) {
  MailMessage m = Sample();
  ASSERT_TRUE(ApplyModifications({Header(T::kInsertHeader, 0, "X-0", "a"),
                                  Header(T::kInsertHeader, 2, "X-2", "b"),
                                  Header(T::kInsertHeader, 99, "X-End", "c")},
                                 false, &m)
                  .ok());
  EXPECT_THAT(Names(m), ElementsAre("X-0: a", "From: a@example.com", "X-2: b",
                                    "Received: one", "Subject: hello",
                                    "Received: two", "X-End: c"));
}

TEST(ApplyModificationsTest, EnvelopeAndBody) {
  MailMessage m = Sample();
  std::vector<Modification> mods = {
      {T::kChangeFrom, 0, "", "<new@example.com>", "SIZE=10"},
      {T::kAddRecipient, 0, "", "<d@example.com>", ""},
      {T::kAddRecipientWithArgs, 0, "", "<e@example.com>", "NOTIFY=NEVER"},
      {T::kDeleteRecipient, 0, "", "B@example.com", ""},
      {T::kReplaceBody, 0, "", "new\r\n", ""},
  };
  ASSERT_TRUE(ApplyModifications(mods, false, &m).ok());
  EXPECT_EQ(m.envelope_from, "<new@example.com>");
  EXPECT_EQ(m.envelope_from_args, "SIZE=10");
  EXPECT_THAT(m.recipients, ElementsAre("<c@example.com>", "<d@example.com>",
                                        "<e@example.com>"));
  EXPECT_THAT(m.recipient_args, ElementsAre("", "", "NOTIFY=NEVER"));
  EXPECT_EQ(m.body, "new\r\n");
}

TEST(ApplyModificationsTest, EmptyHeaderNameIsAnError) {
  MailMessage m = Sample();
  EXPECT_FALSE(
      ApplyModifications({Header(T::kAddHeader, 0, "", "x")}, false, &m).ok());
}

TEST(HeaderValueTest, LeadingSpaceRule) {
  EXPECT_EQ(HeaderValueForFilter(" hello", false), "hello");
  EXPECT_EQ(HeaderValueForFilter("  two", false), " two");
  EXPECT_EQ(HeaderValueForFilter("none", false), "none");
  EXPECT_EQ(HeaderValueForFilter(" hello", true), " hello");
  EXPECT_EQ(HeaderValueFromFilter("v", false), " v");
  EXPECT_EQ(HeaderValueFromFilter("v", true), "v");
}

TEST(ParseRfc5322Test, HeadersFoldingAndBody) {
  auto m = ParseRfc5322(
      "From: A <a@example.com>\r\nSubject: one\r\n two\r\nX-Raw:x\n\nline 1\n"
      "line 2\r\n");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(Names(*m), ElementsAre("From: A <a@example.com>",
                                     "Subject: one\n two", "X-Raw:x"));
  EXPECT_EQ(m->body, "line 1\r\nline 2\r\n");
  EXPECT_EQ(SerializeMessage(*m, false),
            "From: A <a@example.com>\r\nSubject: one\r\n two\r\nX-Raw:x\r\n"
            "\r\nline 1\r\nline 2\r\n");
  EXPECT_EQ(SerializeMessage(*m, true),
            "From: A <a@example.com>\nSubject: one\n two\nX-Raw:x\n\nline 1\n"
            "line 2\n");
}

TEST(ParseRfc5322Test, Errors) {
  EXPECT_FALSE(ParseRfc5322(" folded first\n\nbody").ok());
  EXPECT_FALSE(ParseRfc5322("no colon here\n\nbody").ok());
  auto empty = ParseRfc5322("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->headers.empty());
}

TEST(ExtractAddressesTest, Lists) {
  EXPECT_THAT(ExtractAddresses(" A <a@x.org>, b@y.org,\n \"C, D\" <c@z.org>"),
              ElementsAre("<a@x.org>", "<b@y.org>", "<c@z.org>"));
  EXPECT_THAT(ExtractAddresses(" b@y.org (comment, here)"),
              ElementsAre("<b@y.org>"));
  EXPECT_TRUE(ExtractAddresses("  ").empty());
}

TEST(ModificationTest, ToString) {
  EXPECT_EQ(ToString({T::kAddHeader, 0, "X-A", "yes", ""}),
            "add-header X-A: \"yes\"");
  EXPECT_EQ(ToString({T::kChangeHeader, 2, "Subject", "", ""}),
            "change-header[2] Subject: \"\"");
  EXPECT_EQ(ToString({T::kAddRecipient, 0, "", "<a@b>", ""}),
            "add-recipient <a@b>");
  EXPECT_EQ(ToString({T::kReplaceBody, 0, "", "x\r\n", ""}),
            "replace-body (3 bytes) \"x\\r\\n\"");
}

}  // namespace
}  // namespace milter::server
