// Tests of socket spec parsing (every accepted form, every refused one with
// its reason) and of TCP resolution.

#include "milter/net/socket_spec.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace milter::net {
namespace {

using Kind = SocketSpec::Kind;

TEST(SocketSpecTest, ParsesUnixForms) {
  for (const char* text :
       {"unix:/run/m.sock", "local:/run/m.sock", "/run/m.sock"}) {
    absl::StatusOr<SocketSpec> spec = ParseSocketSpec(text);
    ASSERT_TRUE(spec.ok()) << text << ": " << spec.status();
    EXPECT_EQ(spec->kind, Kind::kUnix);
    EXPECT_EQ(spec->path, "/run/m.sock");
    EXPECT_EQ(spec->ToString(), "unix:/run/m.sock");
  }
}

TEST(SocketSpecTest, ParsesInetForms) {
  struct Case {
    const char* text;
    Kind kind;
    const char* host;
    uint16_t port;
    const char* canonical;
  } cases[] = {
      {"inet:10025", Kind::kInet, "", 10025, "inet:10025"},
      {"inet:10025@localhost", Kind::kInet, "localhost", 10025,
       "inet:10025@localhost"},
      {"inet:10025@[127.0.0.1]", Kind::kInet, "127.0.0.1", 10025,
       "inet:10025@[127.0.0.1]"},
      {"inet:127.0.0.1:10025", Kind::kInet, "127.0.0.1", 10025,
       "inet:10025@[127.0.0.1]"},
      {"inet6:25@[::1]", Kind::kInet6, "::1", 25, "inet6:25@[::1]"},
      {"inet6:25", Kind::kInet6, "", 25, "inet6:25"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SocketSpec> spec = ParseSocketSpec(c.text);
    ASSERT_TRUE(spec.ok()) << c.text << ": " << spec.status();
    EXPECT_EQ(spec->kind, c.kind) << c.text;
    EXPECT_EQ(spec->host, c.host) << c.text;
    EXPECT_EQ(spec->port, c.port) << c.text;
    EXPECT_EQ(spec->ToString(), c.canonical) << c.text;
  }
}

TEST(SocketSpecTest, RejectsBadSpecsWithReasons) {
  struct Case {
    const char* text;
    const char* reason;
  } cases[] = {
      {"", "empty"},
      {"tcp:25", "unknown type"},
      {"Inet:25", "unknown type"},
      {" inet:25", "unknown type"},
      {"inet:", "missing port"},
      {"inet6:", "missing port"},
      {"inet:-1", "is not a number"},
      {"inet:+25", "is not a number"},
      {"inet:65536", "is not a number"},
      {"inet:99999999999999999999", "is not a number"},
      {"inet:12x", "is not a number"},
      {"inet:25 ", "is not a number"},
      {"inet:@localhost", "is not a number"},
      {"inet:25@", "missing host"},
      {"inet:25@[1.2.3.4", "unterminated"},
      {"inet:25@[nothost]", "is not an IPv4 address"},
      {"inet6:25@[nothost]", "is not an IPv6 address"},
      {"inet:25@[]", "empty address"},
      {"inet:25@[127.0.0.1]x", "after the address"},
      {"inet:25@[127.0.0.1]:26", "after the address"},
      {"inet:25@[::1]", "use inet6:PORT@[::1]"},
      {"inet:25@::1", "use inet6:PORT@[::1]"},
      {"inet6:25@[127.0.0.1]", "use inet:PORT@127.0.0.1"},
      {"inet6:25@127.0.0.1", "is an IPv4 address"},
      {"inet:25@host name", "neither a host name nor an address"},
      {"inet:25@a@b", "neither a host name nor an address"},
      {"inet:25@a..b", "neither a host name nor an address"},
      {"inet:25@-a", "neither a host name nor an address"},
      {"inet::25", "empty host"},
      {"inet:localhost:", "is not a number"},
      {"inet:localhost:x", "is not a number"},
      {"inet:[127.0.0.1]", "expected [ADDR]:PORT"},
      {"inet:[127.0.0.1]25", "expected [ADDR]:PORT"},
      {"inet6:::1:25", "in brackets"},
      {"unix:", "missing socket path"},
      {"local:", "missing socket path"},
      {"unix:/tmp/", "ends with '/'"},
      {"/tmp/dir/", "ends with '/'"},
      {"nocolon", "expected"},
      {"inet:25\n", "control character"},
      {"unix:/tmp/a\nb", "control character"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SocketSpec> spec = ParseSocketSpec(c.text);
    ASSERT_FALSE(spec.ok()) << c.text;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(spec.status().message().find(c.reason), std::string::npos)
        << c.text << ": " << spec.status();
    EXPECT_EQ(spec.status().message().find('\n'), std::string::npos)
        << "one line: " << spec.status();
  }
}

TEST(SocketSpecTest, ChecksUnixPathLengthInEveryForm) {
  std::string longest = "/tmp/" + std::string(kMaxUnixPathLength - 5, 'a');
  std::string too_long = longest + "a";
  std::string way_too_long = "/tmp/" + std::string(120, 'a');
  for (const char* prefix : {"", "unix:", "local:"}) {
    absl::StatusOr<SocketSpec> ok = ParseSocketSpec(prefix + longest);
    ASSERT_TRUE(ok.ok()) << prefix << ": " << ok.status();
    EXPECT_EQ(ok->path, longest);
    for (const std::string& path : {too_long, way_too_long}) {
      absl::StatusOr<SocketSpec> bad = ParseSocketSpec(prefix + path);
      ASSERT_FALSE(bad.ok()) << prefix << path;
      EXPECT_NE(
          bad.status().message().find(absl::StrCat(
              "socket path is ", path.size(), " bytes long; the limit is 107")),
          std::string::npos)
          << bad.status();
    }
  }
}

TEST(SocketSpecTest, RefusesNulBytes) {
  using namespace std::string_literals;
  for (const std::string& text : {"/tmp/a\0b"s, "unix:/tmp/a\0b"s, "inet:25\0"s,
                                  "inet:25@local\0host"s, "\0"s}) {
    absl::StatusOr<SocketSpec> spec = ParseSocketSpec(text);
    ASSERT_FALSE(spec.ok()) << text.size();
    EXPECT_NE(spec.status().message().find("contains a NUL byte"),
              std::string::npos)
        << spec.status();
    // The reason shows the byte escaped, not a truncated spec.
    EXPECT_NE(spec.status().message().find("\\x00"), std::string::npos)
        << spec.status();
  }
}

TEST(SocketSpecTest, AcceptsPostfixAndBracketForms) {
  struct Case {
    const char* text;
    Kind kind;
    const char* host;
    uint16_t port;
  } cases[] = {
      {"inet:localhost:25", Kind::kInet, "localhost", 25},
      {"inet:[127.0.0.1]:25", Kind::kInet, "127.0.0.1", 25},
      {"inet6:[::1]:25", Kind::kInet6, "::1", 25},
      {"inet6:25@::1", Kind::kInet6, "::1", 25},
      {"inet:25@mail.example.", Kind::kInet, "mail.example.", 25},
      {"inet:25@127.0.0.1", Kind::kInet, "127.0.0.1", 25},
      {"inet:65535", Kind::kInet, "", 65535},
      {"inet:00025", Kind::kInet, "", 25},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SocketSpec> spec = ParseSocketSpec(c.text);
    ASSERT_TRUE(spec.ok()) << c.text << ": " << spec.status();
    EXPECT_EQ(spec->kind, c.kind) << c.text;
    EXPECT_EQ(spec->host, c.host) << c.text;
    EXPECT_EQ(spec->port, c.port) << c.text;
    // The canonical form parses back to the same spec.
    absl::StatusOr<SocketSpec> again = ParseSocketSpec(spec->ToString());
    ASSERT_TRUE(again.ok()) << spec->ToString() << ": " << again.status();
    EXPECT_EQ(again->host, c.host);
    EXPECT_EQ(again->port, c.port);
  }
}

TEST(SocketSpecTest, ResolvesLiteralsAndDefaults) {
  auto spec = ParseSocketSpec("inet:2525@[127.0.0.1]");
  ASSERT_TRUE(spec.ok());
  auto endpoints = ResolveTcp(*spec, /*for_listening=*/false);
  ASSERT_TRUE(endpoints.ok());
  ASSERT_EQ(endpoints->size(), 1u);
  EXPECT_EQ((*endpoints)[0].address().to_string(), "127.0.0.1");
  EXPECT_EQ((*endpoints)[0].port(), 2525);

  auto any = ParseSocketSpec("inet6:2525");
  ASSERT_TRUE(any.ok());
  auto listen = ResolveTcp(*any, /*for_listening=*/true);
  ASSERT_TRUE(listen.ok());
  EXPECT_EQ((*listen)[0].address().to_string(), "::");
  auto connect = ResolveTcp(*any, /*for_listening=*/false);
  ASSERT_TRUE(connect.ok());
  EXPECT_EQ((*connect)[0].address().to_string(), "::1");
}

TEST(SocketSpecTest, PortZeroListensButDoesNotConnect) {
  auto spec = ParseSocketSpec("inet:0@[127.0.0.1]");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->port, 0);
  EXPECT_EQ(spec->ToString(), "inet:0@[127.0.0.1]");
  auto listen = ResolveTcp(*spec, /*for_listening=*/true);
  ASSERT_TRUE(listen.ok()) << listen.status();
  EXPECT_EQ((*listen)[0].port(), 0);
  for (const char* text : {"inet:0@[127.0.0.1]", "inet6:0", "inet:0"}) {
    auto connect = ResolveTcp(*ParseSocketSpec(text), /*for_listening=*/false);
    ASSERT_FALSE(connect.ok()) << text;
    EXPECT_EQ(connect.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(connect.status().message().find("port 0"), std::string::npos)
        << connect.status();
  }
}

TEST(SocketSpecTest, ResolvesLocalhostName) {
  auto spec = ParseSocketSpec("inet:2525@localhost");
  ASSERT_TRUE(spec.ok());
  auto endpoints = ResolveTcp(*spec, false);
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  EXPECT_TRUE((*endpoints)[0].address().is_loopback());
}

}  // namespace
}  // namespace milter::net
