// Tests of ApplyModifications (the MTA's header index rules, envelope and
// body changes) and of RFC 5322 parsing and writing.

#include "milter/server/mail_message.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter::server {
namespace {

using ::testing::ElementsAre;

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

Modification Add(std::string name, std::string value) {
  return mod::AddHeader{std::move(name), std::move(value)};
}
Modification Change(uint32_t index, std::string name, std::string value) {
  return mod::ChangeHeader{index, std::move(name), std::move(value)};
}
Modification Insert(uint32_t index, std::string name, std::string value) {
  return mod::InsertHeader{index, std::move(name), std::move(value)};
}

TEST(ApplyModificationsTest, AddHeaderAppendsWithLeadingSpace) {
  MailMessage m = Sample();
  ASSERT_TRUE(ApplyModifications({Add("X-A", "yes")}, false, &m).ok());
  EXPECT_EQ(m.headers.back(), (HeaderField{"X-A", " yes"}));
  ASSERT_TRUE(ApplyModifications({Add("X-B", "raw")}, true, &m).ok());
  EXPECT_EQ(m.headers.back(), (HeaderField{"X-B", "raw"}));
}

TEST(ApplyModificationsTest, ChangeHeaderCountsOccurrencesOfTheName) {
  MailMessage m = Sample();
  ASSERT_TRUE(
      ApplyModifications({Change(2, "received", "TWO")}, false, &m).ok());
  EXPECT_THAT(Names(m), ElementsAre("From: a@example.com", "Received: one",
                                    "Subject: hello", "Received: TWO"));
  // 0 acts as 1.
  ASSERT_TRUE(
      ApplyModifications({Change(0, "Received", "ONE")}, false, &m).ok());
  EXPECT_EQ(m.headers[1].value, " ONE");
}

TEST(ApplyModificationsTest, ChangeHeaderWithEmptyValueDeletes) {
  MailMessage m = Sample();
  ASSERT_TRUE(ApplyModifications({Change(1, "Subject", "")}, false, &m).ok());
  EXPECT_THAT(Names(m), ElementsAre("From: a@example.com", "Received: one",
                                    "Received: two"));
  // Deleting what is not there changes nothing.
  ASSERT_TRUE(ApplyModifications({Change(5, "Received", "")}, false, &m).ok());
  EXPECT_EQ(m.headers.size(), 3u);
}

TEST(ApplyModificationsTest, ChangeHeaderThatDoesNotExistAdds) {
  MailMessage m = Sample();
  ASSERT_TRUE(ApplyModifications({Change(1, "X-New", "v")}, false, &m).ok());
  EXPECT_EQ(m.headers.back(), (HeaderField{"X-New", " v"}));
}

TEST(ApplyModificationsTest, InsertHeaderIndexIsGlobal) {
  MailMessage m = Sample();
  ASSERT_TRUE(ApplyModifications({Insert(0, "X-0", "a"), Insert(2, "X-2", "b"),
                                  Insert(99, "X-End", "c")},
                                 false, &m)
                  .ok());
  EXPECT_THAT(Names(m), ElementsAre("X-0: a", "From: a@example.com", "X-2: b",
                                    "Received: one", "Subject: hello",
                                    "Received: two", "X-End: c"));
}

// Postfix's cleanup (cleanup_milter.c), as measured end to end: its own
// Received header is first and never shown; insert-header index i lands
// before the i-th header counting it (0: above it); change-header skips the
// first header, whatever it is by then.
TEST(ApplyModificationsTest, MtaOwnFirstHeaderRules) {
  MailMessage m;
  m.headers = {{"Received", " by mta"},
               {"X-Multi", " one"},
               {"Subject", " hello"},
               {"X-Multi", " two"}};
  constexpr auto kMta = HeaderIndexRules::kMtaOwnFirstHeader;
  ASSERT_TRUE(
      ApplyModifications({Insert(1, "X-At1", "1"), Insert(3, "X-At3", "3"),
                          Change(1, "Received", "changed")},
                         false, &m, kMta)
          .ok());
  // Inserts count the hidden header; no Received shown: appended.
  EXPECT_THAT(
      Names(m),
      ElementsAre("Received: by mta", "X-At1: 1", "X-Multi: one", "X-At3: 3",
                  "Subject: hello", "X-Multi: two", "Received: changed"));
  // Above the MTA's header: from then on change-header skips the inserted
  // header and counts the MTA's like any other.
  ASSERT_TRUE(ApplyModifications(
                  {Insert(0, "X-Top", "t"), Change(1, "X-Top", "not shown"),
                   Change(1, "Received", ""), Change(2, "X-Multi", "TWO")},
                  false, &m, kMta)
                  .ok());
  EXPECT_THAT(Names(m),
              ElementsAre("X-Top: t", "X-At1: 1", "X-Multi: one", "X-At3: 3",
                          "Subject: hello", "X-Multi: TWO", "Received: changed",
                          "X-Top: not shown"));
}

TEST(ApplyModificationsTest, EnvelopeAndBody) {
  MailMessage m = Sample();
  std::vector<Modification> mods = {
      mod::ChangeFrom{"<new@example.com>", "SIZE=10"},
      mod::AddRecipient{"<d@example.com>", std::nullopt},
      mod::AddRecipient{"<e@example.com>", "NOTIFY=NEVER"},
      mod::DeleteRecipient{"B@example.com"},
      mod::Quarantine{"leaves the message alone"},
      mod::ReplaceBody{"new\r\n"},
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
  EXPECT_FALSE(ApplyModifications({Add("", "x")}, false, &m).ok());
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

}  // namespace
}  // namespace milter::server
