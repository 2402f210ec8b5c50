#include "manager/conditions/name_list.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter::manager::conditions {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

template <typename List>
List FromEntriesOrDie(const std::vector<std::string>& entries) {
  absl::StatusOr<List> list = List::FromEntries(entries);
  EXPECT_TRUE(list.ok()) << list.status();
  return list.ok() ? *std::move(list) : List();
}

// Writes `contents` to a new file under $TEST_TMPDIR; returns its path.
std::string WriteTempFile(const std::string& name,
                          const std::string& contents) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return path;
}

std::string MatchedPattern(const NameList& list, std::string_view name) {
  const ListEntry* entry = list.Find(name);
  return entry != nullptr ? entry->pattern : "";
}

TEST(NameListTest, EmptyMatchesNothing) {
  NameList list;
  EXPECT_TRUE(list.empty());
  EXPECT_FALSE(list.Matches("example.com"));
  EXPECT_FALSE(list.Matches(""));
}

TEST(NameListTest, ExactNames) {
  auto list = FromEntriesOrDie<NameList>({"example.com", "Mail.Example.NET."});
  EXPECT_EQ(list.size(), 2u);
  EXPECT_TRUE(list.Matches("example.com"));
  EXPECT_TRUE(list.Matches("EXAMPLE.com"));
  EXPECT_TRUE(list.Matches("example.com."));
  EXPECT_TRUE(list.Matches(" example.com "));
  EXPECT_TRUE(list.Matches("mail.example.net"));
  EXPECT_FALSE(list.Matches("www.example.com"));
  EXPECT_FALSE(list.Matches("example.co"));
  EXPECT_FALSE(list.Matches("xexample.com"));
  EXPECT_FALSE(list.Matches("example.net"));
}

TEST(NameListTest, Subdomains) {
  auto list = FromEntriesOrDie<NameList>({".example.com"});
  EXPECT_TRUE(list.Matches("mail.example.com"));
  EXPECT_TRUE(list.Matches("a.b.c.Example.COM."));
  EXPECT_FALSE(list.Matches("example.com"));
  EXPECT_FALSE(list.Matches("badexample.com"));
  EXPECT_FALSE(list.Matches("example.com.evil.net"));
}

TEST(NameListTest, Regexes) {
  auto list = FromEntriesOrDie<NameList>(
      {"/dynamic/", R"(/^mx[0-9]+\.example\.org$/)"});
  EXPECT_TRUE(list.Matches("host-1.DYNAMIC.example.net"));
  EXPECT_TRUE(list.Matches("mx12.example.org"));
  EXPECT_TRUE(list.Matches("MX12.example.org."));  // final dot stripped
  EXPECT_FALSE(list.Matches("a.mx12.example.org"));
  EXPECT_FALSE(list.Matches("mx12.example.org.uk"));
  EXPECT_FALSE(list.Matches("static.example.net"));
}

TEST(NameListTest, FindReportsTheMostSpecificEntry) {
  auto list = FromEntriesOrDie<NameList>(
      {"/example/", ".com", ".example.com", "mail.example.com"});
  EXPECT_EQ(MatchedPattern(list, "mail.example.com"), "mail.example.com");
  EXPECT_EQ(MatchedPattern(list, "www.example.com"), ".example.com");
  EXPECT_EQ(MatchedPattern(list, "example.com"), ".com");
  EXPECT_EQ(MatchedPattern(list, "example.org"), "/example/");
  EXPECT_EQ(MatchedPattern(list, "other.org"), "");
  const ListEntry* entry = list.Find("www.example.com");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->Describe(), "'.example.com'");
}

TEST(NameListTest, FirstMatchingRegexInListOrder) {
  const std::vector<std::string> entries = {"/zzz/", "/mail/", "/example/",
                                            "/^mail\\./"};
  auto list = FromEntriesOrDie<NameList>(entries);
  EXPECT_EQ(MatchedPattern(list, "mail.example.com"), "/mail/");
  EXPECT_EQ(MatchedPattern(list, "www.example.com"), "/example/");
  EXPECT_EQ(MatchedPattern(list, "www.example.org"), "/example/");
  EXPECT_EQ(MatchedPattern(list, "other.org"), "");
  NameList from_file;
  ASSERT_TRUE(from_file.AddText("/example/\n/mail/\n", "inline").ok());
  EXPECT_EQ(MatchedPattern(from_file, "mail.example.com"), "/example/");
  ASSERT_TRUE(from_file.Add("/^www/").ok());
  EXPECT_EQ(MatchedPattern(from_file, "www.example.com"), "/example/");
  EXPECT_EQ(MatchedPattern(from_file, "www.other.org"), "/^www/");
}

TEST(NameListTest, BadEntries) {
  struct Case {
    std::string entry;
    std::string message;
  };
  const Case cases[] = {
      {"/[a-/", "invalid entry '/[a-/': bad regex: "},
      {"/(/", "invalid entry '/(/': bad regex: missing )"},
      {"/abc", "invalid entry '/abc': a regex must end with '/'"},
      {"/", "a regex must end with '/'"},
      {"//", "invalid entry '//': empty regex"},
      {"*.example.com", "'*' is not supported"},
      {"user@example.com", "'@' in a host name"},
      {"a..example.com", "empty label"},
      {"..example.com", "empty label"},
      {".", "empty name"},
      {"example .com", "whitespace"},
      {"  ", "empty entry"},
  };
  for (const Case& c : cases) {
    NameList list;
    absl::Status status = list.Add(c.entry);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.entry;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
    EXPECT_TRUE(list.empty());
  }
  absl::StatusOr<NameList> list =
      NameList::FromEntries({"example.com", "/[z-a]/"});
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(std::string(list.status().message()),
              StartsWith("invalid entry '/[z-a]/': bad regex: "));
}

TEST(NameListTest, File) {
  std::string path = WriteTempFile("names.txt",
                                   "# Partners\n"
                                   "\n"
                                   "  partner.example   # the main one\n"
                                   ".partner.example\r\n"
                                   "/^relay[0-9]+\\.example\\.net$/\n"
                                   "/a#b/\n"
                                   "last.example");  // no final newline
  absl::StatusOr<NameList> list = NameList::FromFile(path);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 5u);
  EXPECT_TRUE(list->Matches("partner.example"));
  EXPECT_TRUE(list->Matches("mx.partner.example"));
  EXPECT_TRUE(list->Matches("relay7.example.net"));
  EXPECT_TRUE(list->Matches("xa#b"));
  EXPECT_TRUE(list->Matches("last.example"));
  EXPECT_FALSE(list->Matches("the"));
  const ListEntry* entry = list->Find("relay7.example.net");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->pattern, "/^relay[0-9]+\\.example\\.net$/");
  EXPECT_EQ(entry->file, path);
  EXPECT_EQ(entry->line, 5);
  EXPECT_EQ(entry->Describe(),
            "'/^relay[0-9]+\\.example\\.net$/' (file " + path + ":5)");
}

TEST(NameListTest, FileErrorNamesTheLine) {
  std::string path = WriteTempFile("bad-names.txt",
                                   "good.example\n"
                                   "# comment\n"
                                   "/(unclosed/\n");
  absl::StatusOr<NameList> list = NameList::FromFile(path);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(list.status().message()),
              StartsWith(path + ":3: invalid entry '/(unclosed/': bad regex: "
                                "missing )"));
}

TEST(NameListTest, FailedAddLeavesTheListAsItWas) {
  NameList list;
  ASSERT_TRUE(list.Add("keep.example").ok());
  EXPECT_FALSE(list.AddText("new.example\n*.bad\n", "inline").ok());
  EXPECT_EQ(list.size(), 1u);
  EXPECT_FALSE(list.Matches("new.example"));
  absl::Status status = list.AddText("x.example\n\n*.bad\n", "inline");
  EXPECT_THAT(std::string(status.message()), StartsWith("inline:3: "));
}

TEST(NameListTest, MissingFile) {
  std::string path = WriteTempFile("present", "") + ".absent";
  absl::StatusOr<NameList> list = NameList::FromFile(path);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(list.status().message()),
              StartsWith(path + ": cannot read"));
}

TEST(NameListTest, CopiesAreIndependent) {
  auto list = FromEntriesOrDie<NameList>({"/one/"});
  NameList copy = list;
  ASSERT_TRUE(copy.Add("two.example").ok());
  EXPECT_TRUE(copy.Matches("one.example"));
  EXPECT_TRUE(copy.Matches("two.example"));
  EXPECT_TRUE(list.Matches("one.example"));
  EXPECT_FALSE(list.Matches("two.example"));
}

TEST(AddressListTest, Entries) {
  auto list = FromEntriesOrDie<AddressList>(
      {"User@Example.com", "<boss@corp.example>", "example.net", "@example.org",
       ".example.info", "/^noreply@/"});
  EXPECT_TRUE(list.Matches("user@example.com"));
  EXPECT_TRUE(list.Matches(" <USER@example.COM> "));
  EXPECT_TRUE(list.Matches("boss@corp.example"));
  EXPECT_FALSE(list.Matches("other@example.com"));
  EXPECT_FALSE(list.Matches("user@mail.example.com"));
  EXPECT_TRUE(list.Matches("anyone@example.net"));
  EXPECT_TRUE(list.Matches("<anyone@Example.NET>"));
  EXPECT_FALSE(list.Matches("anyone@mail.example.net"));
  EXPECT_TRUE(list.Matches("someone@example.org"));
  EXPECT_FALSE(list.Matches("someone@sub.example.org"));
  EXPECT_TRUE(list.Matches("x@mail.example.info"));
  EXPECT_FALSE(list.Matches("x@example.info"));
  EXPECT_TRUE(list.Matches("<noreply@anywhere.example>"));
  EXPECT_FALSE(list.Matches("reply@anywhere.example"));
  EXPECT_FALSE(list.Matches("<>"));
  EXPECT_FALSE(list.Matches("example.net"));  // no local part, no domain
}

TEST(AddressListTest, FindNamesTheEntry) {
  auto list = FromEntriesOrDie<AddressList>(
      {"/example/", ".example.com", "example.com", "ceo@example.com"});
  const ListEntry* entry = list.Find("ceo@example.com");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->pattern, "ceo@example.com");
  entry = list.Find("staff@example.com");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->pattern, "example.com");
  entry = list.Find("staff@eu.example.com");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->pattern, ".example.com");
  entry = list.Find("staff@example.org");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->pattern, "/example/");
}

TEST(AddressListTest, RegexSeesTheWholeAddress) {
  auto list = FromEntriesOrDie<AddressList>({"/^bounce-.*@lists\\./"});
  EXPECT_TRUE(list.Matches("<bounce-42@lists.example.org>"));
  EXPECT_FALSE(list.Matches("bounce-42@example.org"));
  auto null_sender = FromEntriesOrDie<AddressList>({"/^$/"});
  EXPECT_TRUE(null_sender.Matches("<>"));
}

TEST(AddressListTest, BadEntries) {
  const char* entries[] = {"user@",
                           "user@.example.com",
                           "us er@example.com",
                           "user@*.example.com",
                           "<>",
                           "/[/"};
  for (const char* entry : entries) {
    AddressList list;
    absl::Status status = list.Add(entry);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << entry;
    EXPECT_THAT(std::string(status.message()),
                StartsWith(std::string("invalid entry '") + entry + "'"));
  }
}

TEST(AddressListTest, File) {
  std::string path = WriteTempFile("addresses.txt",
                                   "# senders\n"
                                   "alice@example.com\n"
                                   "@example.net  # whole domain\n"
                                   "bob@@\n");
  absl::StatusOr<AddressList> list = AddressList::FromFile(path);
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(std::string(list.status().message()),
              StartsWith(path + ":4: invalid entry 'bob@@': "));
  path = WriteTempFile("addresses.txt",
                       "alice@example.com\n@example.net # whole domain\n");
  list = AddressList::FromFile(path);
  ASSERT_TRUE(list.ok()) << list.status();
  const ListEntry* entry = list->Find("carol@example.net");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->Describe(), "'@example.net' (file " + path + ":2)");
}

}  // namespace
}  // namespace milter::manager::conditions
