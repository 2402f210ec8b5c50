// The manager's status and metrics HTTP listener (docs/milter-manager.md,
// "Status"), on libmicrohttpd with one internal thread:
//
//   GET  /metrics  the metrics registry, Prometheus text format 0.0.4
//   GET  /status   the status document (status_document.h), JSON
//   POST /reload   calls the provider's reload; answers
//                  {"ok":true} or {"ok":false,"error":"..."} (500)
//
// Any other path is 404, another method on a known path 405 (with Allow).
// Changing state (POST /reload) is only served when the listener is a unix
// socket or a loopback address; otherwise it is 403.
//
// The listener is a socket spec as for the manager (inet:PORT@[ADDR],
// inet6:..., unix:PATH); the server creates, binds and (for unix sockets)
// chmods the socket itself, replacing a stale unix socket file but never
// one a live server answers on, and removes the file when it stops.
// Requests are bounded: kMaxBodyBytes of body (413 beyond), a connection
// memory limit for the header, kMaxConnections at once, an idle timeout.
//
//   StatusServerOptions options;
//   options.listen = "inet:9125@[127.0.0.1]";
//   options.metrics = metrics;
//   options.provider.children = [] { return supervisor.States(); };
//   absl::StatusOr<std::unique_ptr<StatusServer>> server =
//       StatusServer::Start(std::move(options));
//
// Thread-safe to destroy from any thread but its own callbacks; destruction
// stops the thread and waits for it.

#ifndef MANAGER_STATUS_STATUS_SERVER_H_
#define MANAGER_STATUS_STATUS_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "manager/metrics/metrics.h"
#include "manager/status/status_document.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace milter::manager::status {

inline constexpr size_t kMaxBodyBytes = 4096;
inline constexpr unsigned kMaxConnections = 16;

struct StatusServerOptions {
  std::string listen;  // a socket spec
  unsigned unix_socket_mode = 0660;
  std::string version = "0.1";                // in the status document
  std::shared_ptr<metrics::Metrics> metrics;  // may be null
  StatusProvider provider;
};

class StatusServer {
 public:
  // Binds and starts serving; the error names the spec and the reason.
  static absl::StatusOr<std::unique_ptr<StatusServer>> Start(
      StatusServerOptions options);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Where it listens, with the port the kernel chose for port 0:
  // "inet:40123@[127.0.0.1]", "unix:/run/x.sock".
  const std::string& bound_spec() const { return bound_spec_; }
  // Whether POST /reload is served (loopback or unix socket).
  bool allows_changes() const { return allows_changes_; }

 private:
  struct Request;
  explicit StatusServer(StatusServerOptions options)
      : options_(std::move(options)) {}
  friend struct ServerCallbacks;
  // Answers one complete request; MHD_YES or MHD_NO.
  int Respond(MHD_Connection* connection, const std::string& url,
              const std::string& method, const Request& request);
  absl::Status Bind(const std::string& spec, int* fd);

  StatusServerOptions options_;
  std::string bound_spec_;
  std::string unix_path_;  // to remove at stop
  bool allows_changes_ = false;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace milter::manager::status

#endif  // MANAGER_STATUS_STATUS_SERVER_H_
