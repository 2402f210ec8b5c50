#include "milter/net/socket_spec.h"

#include <gtest/gtest.h>

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
      {"inet:", "is not a number"},
      {"inet:-1", "is not a number"},
      {"inet:65536", "is not a number"},
      {"inet:12x", "is not a number"},
      {"inet:25@", "missing host"},
      {"inet:25@[1.2.3.4", "unterminated"},
      {"inet:25@[nothost]", "is not an IP address"},
      {"unix:", "missing socket path"},
      {"nocolon", "expected"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SocketSpec> spec = ParseSocketSpec(c.text);
    ASSERT_FALSE(spec.ok()) << c.text;
    EXPECT_NE(spec.status().message().find(c.reason), std::string::npos)
        << c.text << ": " << spec.status();
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
