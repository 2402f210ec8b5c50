// A minimal blocking HTTP/1.1 client for the manager's status listener:
// `milter-manager --status` and the tests use it. It connects to a socket
// spec (inet, inet6 or unix; an inet spec without a host means loopback),
// sends one request with "Connection: close", and reads the response to the
// end of the connection, bounded by kMaxResponseBytes and a timeout on
// every read and write.

#ifndef MANAGER_STATUS_HTTP_CLIENT_H_
#define MANAGER_STATUS_HTTP_CLIENT_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace milter::manager::status {

inline constexpr size_t kMaxResponseBytes = 16 << 20;

struct HttpResponse {
  int code = 0;
  std::string content_type;
  std::string allow;  // the Allow header, for 405
  std::string body;
};

// `method` `path` to the server at `spec`, with `body` (may be empty).
// Errors: the spec is bad, cannot connect (the message names the spec),
// the response is malformed, too large, or does not come in `timeout`.
absl::StatusOr<HttpResponse> HttpRequest(
    const std::string& spec, std::string_view method, std::string_view path,
    std::string_view body = "", absl::Duration timeout = absl::Seconds(10));

// Sends `raw` as is and returns the raw response (for tests of bad
// requests); same errors.
absl::StatusOr<std::string> HttpExchange(
    const std::string& spec, std::string_view raw,
    absl::Duration timeout = absl::Seconds(10));

// Parses a raw HTTP/1.x response (Content-Length or to the end).
absl::StatusOr<HttpResponse> ParseHttpResponse(std::string_view raw);

}  // namespace milter::manager::status

#endif  // MANAGER_STATUS_HTTP_CLIENT_H_
