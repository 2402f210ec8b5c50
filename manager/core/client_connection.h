// Whether the SMTP client of an MTA session is still connected, seen from
// the kernel's table of TCP sockets (/proc/net/tcp and tcp6), as the
// original milter manager's connection checker does with netstat: the MTA's
// socket whose remote end is the client's address and port. Works when the
// MTA runs on this host (in this network namespace); elsewhere the
// connection is not found and the answer is kUnknown, never kGone.
//
// Reads files only; thread-safe.

#ifndef MANAGER_CORE_CLIENT_CONNECTION_H_
#define MANAGER_CORE_CLIENT_CONNECTION_H_

#include <string>

#include "milter/codec/connection_info.h"

namespace milter::manager {

enum class ClientConnection {
  kUnknown,    // not an IP client, or no such socket here
  kConnected,  // an established socket to the client
  kGone,       // the client closed its side (or the socket is closing)
};

// `proc_net`: the directory with tcp and tcp6 (tests may point elsewhere).
ClientConnection CheckClientConnection(
    const codec::ConnectionInfo& client,
    const std::string& proc_net = "/proc/net");

}  // namespace milter::manager

#endif  // MANAGER_CORE_CLIENT_CONNECTION_H_
