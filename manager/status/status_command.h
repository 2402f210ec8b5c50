// `milter-manager --status`: asks the status listener at a socket spec for
// its status document and prints it for a person (status_document.h's
// FormatStatus). Errors (no listener configured, cannot connect, not a
// status document) are one line on `err` naming the spec and the reason.

#ifndef MANAGER_STATUS_STATUS_COMMAND_H_
#define MANAGER_STATUS_STATUS_COMMAND_H_

#include <cstdio>
#include <string>

namespace milter::manager::status {

// Exit status: 0 after printing the status, 1 on an error. `spec` empty:
// no listener is configured (an error).
int PrintStatus(const std::string& spec, std::FILE* out, std::FILE* err);

}  // namespace milter::manager::status

#endif  // MANAGER_STATUS_STATUS_COMMAND_H_
