// The allow and deny lists shared by all children (config AccessLists),
// checked before any child is asked: client address or network and host
// name at connect, HELO name, envelope sender at MAIL, recipient at RCPT.
//
// An allow entry accepts for its scope without asking the children (the
// session, the message, or that recipient); a deny entry rejects with the
// configured reply. Allow entries are checked first: an allowed client,
// sender or recipient is never denied at the same check.
//
// Built once (Build reads list files; errors name FILE:LINE), then
// immutable and thread-safe.

#ifndef MANAGER_CONDITIONS_ACCESS_LISTS_H_
#define MANAGER_CONDITIONS_ACCESS_LISTS_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "manager/config/config.pb.h"

namespace milter::manager::conditions {

class AccessLists {
 public:
  struct Match {
    enum Kind { kNone, kAllow, kDeny };
    Kind kind = kNone;
    std::string entry;  // what matched, for the log
  };

  static absl::StatusOr<std::shared_ptr<const AccessLists>> Build(
      const config::AccessLists& config);
  ~AccessLists();

  Match CheckClient(std::string_view address, std::string_view host) const;
  Match CheckHelo(std::string_view helo) const;
  Match CheckSender(std::string_view address) const;
  Match CheckRecipient(std::string_view address) const;
  const std::string& deny_reply() const { return deny_reply_; }

  struct Lists;  // the entries of one list (access_lists.cc)

 private:
  AccessLists();
  std::unique_ptr<Lists> allow_, deny_;
  std::string deny_reply_;
};

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_ACCESS_LISTS_H_
