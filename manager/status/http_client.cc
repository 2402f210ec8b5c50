// HttpRequest: one request on a fresh POSIX socket, with timeouts.

#include "manager/status/http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "milter/net/socket_spec.h"

namespace milter::manager::status {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits until `fd` is ready for `events` or `deadline` passes.
absl::Status Wait(int fd, short events, absl::Time deadline,
                  const std::string& spec) {
  while (true) {
    int ms =
        static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (ms <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat(spec, ": no answer in time"));
    }
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, ms);
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(
          absl::StrCat(spec, ": poll: ", std::strerror(errno)));
    }
  }
}

// A connected non-blocking socket to `text`.
absl::StatusOr<int> Connect(const std::string& text, absl::Time deadline) {
  absl::StatusOr<net::SocketSpec> spec = net::ParseSocketSpec(text);
  if (!spec.ok()) return spec.status();
  sockaddr_storage storage{};
  socklen_t length;
  int family;
  if (spec->kind == net::SocketSpec::Kind::kUnix) {
    auto* addr = reinterpret_cast<sockaddr_un*>(&storage);
    addr->sun_family = family = AF_UNIX;
    std::memcpy(addr->sun_path, spec->path.data(), spec->path.size());
    length = sizeof(sockaddr_un);
  } else {
    absl::StatusOr<std::vector<asio::ip::tcp::endpoint>> endpoints =
        net::ResolveTcp(*spec, /*for_listening=*/false);
    if (!endpoints.ok()) return endpoints.status();
    if (endpoints->empty()) {
      return absl::NotFoundError(absl::StrCat(text, ": no address"));
    }
    length = static_cast<socklen_t>(endpoints->front().size());
    std::memcpy(&storage, endpoints->front().data(), length);
    family = endpoints->front().protocol().family();
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  Fd guard(fd);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", text, ": ", std::strerror(errno)));
    }
    if (absl::Status s = Wait(fd, POLLOUT, deadline, text); !s.ok()) return s;
    int error = 0;
    socklen_t size = sizeof(error);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", text, ": ", std::strerror(error)));
    }
  }
  return ::dup(fd);
}

}  // namespace

absl::StatusOr<std::string> HttpExchange(const std::string& spec,
                                         std::string_view raw,
                                         absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<int> connected = Connect(spec, deadline);
  if (!connected.ok()) return connected.status();
  Fd fd(*connected);
  size_t sent = 0;
  while (sent < raw.size()) {
    ssize_t n =
        ::send(fd.get(), raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (absl::Status s = Wait(fd.get(), POLLOUT, deadline, spec); !s.ok()) {
        return s;
      }
    } else {
      break;  // the server closed early: read what it said
    }
  }
  std::string response;
  char buffer[8192];
  while (true) {
    ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n > 0) {
      response.append(buffer, static_cast<size_t>(n));
      if (response.size() > kMaxResponseBytes) {
        return absl::ResourceExhaustedError(absl::StrCat(
            spec, ": response over ", kMaxResponseBytes, " bytes"));
      }
    } else if (n == 0) {
      return response;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (absl::Status s = Wait(fd.get(), POLLIN, deadline, spec); !s.ok()) {
        return s;
      }
    } else if (errno == ECONNRESET && !response.empty()) {
      return response;
    } else {
      return absl::UnavailableError(
          absl::StrCat(spec, ": recv: ", std::strerror(errno)));
    }
  }
}

absl::StatusOr<HttpResponse> ParseHttpResponse(std::string_view raw) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return absl::DataLossError("HTTP response without a complete header");
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(raw.data(), end), "\r\n");
  std::vector<absl::string_view> status =
      absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  HttpResponse out;
  if (status.size() < 2 || !absl::StartsWith(status[0], "HTTP/1.") ||
      !absl::SimpleAtoi(status[1], &out.code)) {
    return absl::DataLossError(
        absl::StrCat("bad HTTP status line: ", std::string(lines[0])));
  }
  size_t length = raw.size() - end - 4;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> field =
        absl::StrSplit(lines[i], absl::MaxSplits(':', 1));
    std::string name = absl::AsciiStrToLower(field.first);
    absl::string_view value = absl::StripAsciiWhitespace(field.second);
    if (name == "content-type") out.content_type = std::string(value);
    if (name == "allow") out.allow = std::string(value);
    if (name == "transfer-encoding") {
      return absl::UnimplementedError("chunked HTTP responses are not read");
    }
    if (name == "content-length" &&
        (!absl::SimpleAtoi(value, &length) || length > raw.size() - end - 4)) {
      return absl::DataLossError("HTTP response shorter than its length");
    }
  }
  out.body = std::string(raw.substr(end + 4, length));
  return out;
}

absl::StatusOr<HttpResponse> HttpRequest(const std::string& spec,
                                         std::string_view method,
                                         std::string_view path,
                                         std::string_view body,
                                         absl::Duration timeout) {
  std::string request =
      absl::StrCat(std::string(method), " ", std::string(path),
                   " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                   "Content-Length: ",
                   body.size(), "\r\n\r\n", std::string(body));
  absl::StatusOr<std::string> raw = HttpExchange(spec, request, timeout);
  if (!raw.ok()) return raw.status();
  return ParseHttpResponse(*raw);
}

}  // namespace milter::manager::status
