// Lists of host names and domains (NameList) and of e-mail addresses
// (AddressList), from configuration strings or list files, to test whether
// a name or an address is listed.
//
// NameList entries, matched against a host name:
//   example.com     the name example.com itself
//   .example.com    any name ending in ".example.com" (not example.com
//                   itself: list both for the domain and its subdomains)
//   /regex/         an RE2 regular expression found anywhere in the name
//                   (unanchored unless it says ^ or $)
//
// AddressList entries, matched against an e-mail address:
//   user@example.com  that address
//   example.com       any address at example.com (also "@example.com")
//   .example.com      any address at a subdomain of example.com
//   /regex/           an RE2 regular expression found anywhere in the
//                     whole address
//
// Matching ignores case, surrounding whitespace and a final dot of a name
// ("Mail.Example.COM." is mail.example.com); an address may be in angle
// brackets ("<user@example.com>"); regexes see the name or address so
// normalised. Host-name entries may not contain whitespace, '@', '*' or
// empty labels.
//
// A list file has one entry per line; blank lines are ignored and '#'
// starts a comment at the beginning of a line or after whitespace (write
// [#] for a '#' in a regex after whitespace). Errors are InvalidArgument,
// reported when the list is built: "invalid entry '/[/': bad regex ..." for
// a configuration string, "FILE:LINE: invalid entry ..." for a file line; a
// file that cannot be read gives the errno's status, "FILE: cannot read:
// ...". A failed Add leaves the list as it was.
//
// Lookup: hash lookups for names and domains (one per label for subdomain
// entries), then one pass of all the regexes together. When several
// entries match, Find() names the exact entry, else the domain entry, else
// the longest matching subdomain entry, else the first matching regex.
// Only FromFile() and AddFile() do I/O (they read the file). Lists are
// copyable values; their const methods may be called from any number of
// threads at once.

#ifndef MANAGER_CONDITIONS_NAME_LIST_H_
#define MANAGER_CONDITIONS_NAME_LIST_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "re2/re2.h"
#include "re2/set.h"

namespace milter::manager::conditions {

// One entry of a list and where it was written.
struct ListEntry {
  std::string pattern;  // as written, without surrounding whitespace
  std::string file;     // the list file; empty for a configuration string
  int line = 0;         // its line in `file`, from 1; 0 without a file

  // "'.example.com' (file /etc/x:12)", or "'.example.com'" without a file.
  std::string Describe() const;
};

namespace internal {

// The lookup structure behind NameList and AddressList.
class PatternTable {
 public:
  enum class Kind { kExact, kDomain, kSubdomains, kRegex };
  struct Pattern {
    Kind kind = Kind::kExact;
    // Lower case; with the leading dot for kSubdomains; unused for kRegex.
    std::string key;
    std::shared_ptr<const re2::RE2> regex;
  };
  // Parses one entry (already trimmed, not empty); errors say what is
  // wrong, without naming the entry.
  using Parser = absl::StatusOr<Pattern> (*)(std::string_view entry);

  // Adds one configuration entry.
  absl::Status AddEntry(std::string_view entry, Parser parse);
  // Adds the entries of a list file's contents, all or none.
  absl::Status AddText(std::string_view text, std::string_view file,
                       Parser parse);

  // The entry matching: exact entries against `exact`, domain and subdomain
  // entries against `domain`, regexes against `whole`; nullptr if none.
  const ListEntry* Find(std::string_view exact, std::string_view domain,
                        std::string_view whole) const;

  size_t size() const { return entries_.size(); }

 private:
  void Insert(ListEntry entry, Pattern pattern);
  // Rebuilds regex_set_ from regexes_ (after regexes were added).
  void BuildRegexSet();
  // The first regex entry matching `subject`, or nullptr.
  const ListEntry* FindRegex(std::string_view subject) const;

  std::vector<ListEntry> entries_;
  // Keys to indices in entries_ (the first entry with the key).
  absl::flat_hash_map<std::string, size_t> exact_;
  absl::flat_hash_map<std::string, size_t> domain_;
  absl::flat_hash_map<std::string, size_t> subdomains_;
  std::vector<std::pair<std::shared_ptr<const re2::RE2>, size_t>> regexes_;
  // All the regexes in one automaton, when there are several: one pass
  // over the subject instead of one per regex. Shared by copies (it does
  // not change once built).
  std::shared_ptr<const re2::RE2::Set> regex_set_;
};

// The contents of the file at `path`, or its errno's status.
absl::StatusOr<std::string> ReadListFile(const std::string& path);

}  // namespace internal

// Host names and domains; see the top of this file.
class NameList {
 public:
  // The empty list: matches nothing.
  NameList() = default;

  static absl::StatusOr<NameList> FromEntries(
      const std::vector<std::string>& entries);
  static absl::StatusOr<NameList> FromFile(const std::string& path);

  // One entry from the configuration.
  absl::Status Add(std::string_view entry);
  // The entries in `text`, the contents of list file `file` (named in
  // errors and in ListEntry::file).
  absl::Status AddText(std::string_view text, std::string_view file);
  // The entries in the file at `path`.
  absl::Status AddFile(const std::string& path);

  bool Matches(std::string_view name) const { return Find(name) != nullptr; }
  // The entry `name` matches, or nullptr; valid until the list changes or
  // goes.
  const ListEntry* Find(std::string_view name) const;

  size_t size() const { return table_.size(); }
  bool empty() const { return table_.size() == 0; }

 private:
  internal::PatternTable table_;
};

// E-mail addresses and their domains; see the top of this file.
class AddressList {
 public:
  // The empty list: matches nothing.
  AddressList() = default;

  static absl::StatusOr<AddressList> FromEntries(
      const std::vector<std::string>& entries);
  static absl::StatusOr<AddressList> FromFile(const std::string& path);

  absl::Status Add(std::string_view entry);
  absl::Status AddText(std::string_view text, std::string_view file);
  absl::Status AddFile(const std::string& path);

  bool Matches(std::string_view address) const {
    return Find(address) != nullptr;
  }
  // The entry `address` matches, or nullptr; valid until the list changes
  // or goes.
  const ListEntry* Find(std::string_view address) const;

  size_t size() const { return table_.size(); }
  bool empty() const { return table_.size() == 0; }

 private:
  internal::PatternTable table_;
};

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_NAME_LIST_H_
