// StatusServer: libmicrohttpd on a socket bound here.

#include "manager/status/status_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "milter/net/socket_spec.h"

namespace milter::manager::status {

// What one request has sent so far.
struct StatusServer::Request {
  size_t body_bytes = 0;
  bool too_large = false;
};

namespace {

constexpr unsigned kIdleTimeoutSeconds = 10;
constexpr size_t kConnectionMemory = 32 * 1024;

std::string Errno(const char* what) {
  return absl::StrCat(what, ": ", std::strerror(errno));
}

// Whether something answers on the unix socket at `path`.
bool UnixSocketInUse(const sockaddr_un& addr) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool in_use = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr),
                          sizeof(addr)) == 0;
  ::close(fd);
  return in_use;
}

MHD_Result Send(MHD_Connection* connection, unsigned code,
                const std::string& body, const char* type,
                const char* allow = nullptr) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (allow != nullptr) {
    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
  }
  MHD_Result result = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return result;
}

MHD_Result SendError(MHD_Connection* connection, unsigned code,
                     const std::string& message, const char* allow = nullptr) {
  return Send(
      connection, code,
      absl::StrCat("{\"ok\":false,\"error\":", JsonString(message), "}\n"),
      "application/json", allow);
}

}  // namespace

struct ServerCallbacks {
  static MHD_Result Handle(void* self, MHD_Connection* connection,
                           const char* url, const char* method,
                           const char* /*version*/, const char* upload_data,
                           size_t* upload_data_size, void** state) {
    auto* request = static_cast<StatusServer::Request*>(*state);
    if (request == nullptr) {
      *state = new StatusServer::Request;
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      (void)upload_data;
      request->body_bytes += *upload_data_size;
      if (request->body_bytes > kMaxBodyBytes) request->too_large = true;
      *upload_data_size = 0;
      return MHD_YES;
    }
    return static_cast<MHD_Result>(static_cast<StatusServer*>(self)->Respond(
        connection, url, method, *request));
  }
  static void Completed(void* /*self*/, MHD_Connection* /*connection*/,
                        void** state, MHD_RequestTerminationCode /*code*/) {
    delete static_cast<StatusServer::Request*>(*state);
    *state = nullptr;
  }
};

int StatusServer::Respond(MHD_Connection* connection, const std::string& url,
                          const std::string& method, const Request& request) {
  if (request.too_large) {
    return SendError(
        connection, MHD_HTTP_CONTENT_TOO_LARGE,
        absl::StrCat("request body over ", kMaxBodyBytes, " bytes"));
  }
  bool get = method == "GET" || method == "HEAD";
  if (url == "/metrics" || url == "/status") {
    if (!get) {
      return SendError(connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                       absl::StrCat(method, " ", url, ": use GET"),
                       "GET, HEAD");
    }
    if (url == "/metrics") {
      std::vector<ChildState> states;
      if (options_.provider.children) states = options_.provider.children();
      std::string page =
          options_.metrics ? options_.metrics->Render(states) : "";
      return Send(connection, MHD_HTTP_OK, page,
                  "text/plain; version=0.0.4; charset=utf-8");
    }
    return Send(connection, MHD_HTTP_OK,
                StatusJson(options_.provider, options_.metrics.get(),
                           options_.version, absl::Now()),
                "application/json");
  }
  if (url == "/reload") {
    if (method != "POST") {
      return SendError(connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                       absl::StrCat(method, " /reload: use POST"), "POST");
    }
    if (!allows_changes_) {
      return SendError(connection, MHD_HTTP_FORBIDDEN,
                       "reload is only served on a loopback address or a "
                       "unix socket");
    }
    absl::Status s = options_.provider.reload
                         ? options_.provider.reload()
                         : absl::UnimplementedError(
                               "this manager cannot reload its configuration");
    if (!s.ok()) {
      return SendError(connection, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       std::string(s.message()));
    }
    return Send(connection, MHD_HTTP_OK, "{\"ok\":true}\n", "application/json");
  }
  return SendError(connection, MHD_HTTP_NOT_FOUND,
                   absl::StrCat(url,
                                ": no such resource (try /metrics, "
                                "/status or POST /reload)"));
}

namespace {

// Where to bind for `spec`: the address, its family and whether it is
// loopback (or a unix socket). A stale unix socket file is removed first.
struct BindAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNIX;
  bool local = true;
};

absl::StatusOr<BindAddress> AddressOf(const net::SocketSpec& spec,
                                      const std::string& text) {
  BindAddress a;
  if (spec.kind == net::SocketSpec::Kind::kUnix) {
    auto* addr = reinterpret_cast<sockaddr_un*>(&a.storage);
    addr->sun_family = AF_UNIX;
    std::memcpy(addr->sun_path, spec.path.data(), spec.path.size());
    a.length = sizeof(sockaddr_un);
    struct stat st;
    if (::lstat(spec.path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return absl::FailedPreconditionError(
            absl::StrCat(spec.path, ": exists and is not a socket"));
      }
      if (UnixSocketInUse(*addr)) {
        return absl::FailedPreconditionError(
            absl::StrCat(spec.path, ": another process listens on it"));
      }
      ::unlink(spec.path.c_str());
    }
    return a;
  }
  absl::StatusOr<std::vector<asio::ip::tcp::endpoint>> endpoints =
      net::ResolveTcp(spec, /*for_listening=*/true);
  if (!endpoints.ok()) return endpoints.status();
  if (endpoints->empty()) {
    return absl::NotFoundError(absl::StrCat(text, ": no address"));
  }
  const asio::ip::tcp::endpoint& endpoint = endpoints->front();
  a.local = endpoint.address().is_loopback();
  a.length = static_cast<socklen_t>(endpoint.size());
  std::memcpy(&a.storage, endpoint.data(), a.length);
  a.family = endpoint.protocol().family();
  return a;
}

}  // namespace

absl::Status StatusServer::Bind(const std::string& text, int* out) {
  absl::StatusOr<net::SocketSpec> spec = net::ParseSocketSpec(text);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<BindAddress> address = AddressOf(*spec, text);
  if (!address.ok()) return address.status();
  allows_changes_ = address->local;
  sockaddr_storage& storage = address->storage;
  socklen_t length = address->length;
  int family = address->family;
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(Errno("socket"));
  int one = 1;
  if (family != AF_UNIX) {
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  }
  if (family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    absl::Status s =
        absl::FailedPreconditionError(absl::StrCat(text, ": ", Errno("bind")));
    ::close(fd);
    return s;
  }
  if (family == AF_UNIX) {
    unix_path_ = spec->path;
    if (::chmod(spec->path.c_str(), options_.unix_socket_mode) != 0) {
      absl::Status s = absl::FailedPreconditionError(
          absl::StrCat(spec->path, ": ", Errno("chmod")));
      ::close(fd);
      return s;
    }
    bound_spec_ = spec->ToString();
  } else {
    length = sizeof(storage);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length);
    asio::ip::tcp::endpoint bound;
    std::memcpy(bound.data(), &storage, length);
    bound_spec_ =
        absl::StrCat(family == AF_INET6 ? "inet6:" : "inet:", bound.port(),
                     "@[", bound.address().to_string(), "]");
  }
  if (::listen(fd, 16) != 0) {
    absl::Status s = absl::FailedPreconditionError(
        absl::StrCat(text, ": ", Errno("listen")));
    ::close(fd);
    return s;
  }
  *out = fd;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StatusServer>> StatusServer::Start(
    StatusServerOptions options) {
  std::unique_ptr<StatusServer> server(new StatusServer(std::move(options)));
  int fd = -1;
  if (absl::Status s = server->Bind(server->options_.listen, &fd); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("status listener: ", s.message()));
  }
  server->daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0, nullptr, nullptr,
      &ServerCallbacks::Handle, server.get(), MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
      MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutSeconds,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemory,
      MHD_OPTION_NOTIFY_COMPLETED, &ServerCallbacks::Completed, server.get(),
      MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    ::close(fd);
    return absl::InternalError(absl::StrCat(
        "status listener: ", server->bound_spec_, ": cannot start the server"));
  }
  return server;
}

StatusServer::~StatusServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

}  // namespace milter::manager::status
