// Helpers shared by the files of ManagerSession. Internal to manager/core.

#ifndef MANAGER_CORE_SESSION_HELPERS_H_
#define MANAGER_CORE_SESSION_HELPERS_H_

#include <string_view>
#include <vector>

#include "milter/client/filter.h"
#include "milter/server/mail_message.h"

namespace milter::manager::internal {

// The MTA's own first header (Postfix's Received), which it never shows to
// milters, and so never to the manager: a stand-in at the top of the stored
// headers, so that the children's header indices land as they do in the MTA
// (server::HeaderIndexRules::kMtaOwnFirstHeader). Never replayed, wherever
// it is (Postfix hides its own header even below one a milter inserted at
// index 0). Its value cannot come from the wire (NUL ends values there); a
// child that changes it makes it an ordinary header.
inline constexpr std::string_view kMtaHeaderValue("\0mta", 4);

inline bool IsMtaHeader(const server::HeaderField& h) {
  return h.value == kMtaHeaderValue;
}

inline void EnsureMtaHeader(std::vector<server::HeaderField>& headers) {
  if (headers.empty()) {
    headers.push_back({"Received", std::string(kMtaHeaderValue)});
  }
}

inline bool EndsMessage(client::Status s) {
  return s == client::Status::kReject || s == client::Status::kTempfail ||
         s == client::Status::kDiscard || s == client::Status::kShutdown ||
         s == client::Status::kConnectionFail;
}

}  // namespace milter::manager::internal

#endif  // MANAGER_CORE_SESSION_HELPERS_H_
