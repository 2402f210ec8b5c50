// milter-test-client: a milter that prints every stage the MTA sends, with
// its macros, and continues. Shows an operator what their MTA hands to
// filters.
//
//   milter-test-client -s inet:10025@127.0.0.1 [--verbose]

#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "milter/client/filter.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"
#include "milter/codec/protocol.h"
#include "tools/common/command_line.h"

ABSL_FLAG(std::string, connection_spec, "inet:10025@127.0.0.1",
          "Socket to listen on: unix:PATH, inet:PORT@HOST, inet6:PORT@HOST "
          "(short: -s)");
ABSL_FLAG(bool, verbose, false,
          "Also print negotiation details and body contents");

namespace {

using milter::client::Context;
using milter::client::EsmtpArgs;
using milter::client::Status;
namespace codec = milter::codec;

std::string Printable(std::string_view s, size_t limit) {
  std::string out;
  for (char c : s.substr(0, limit)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > limit) out += "...";
  return out;
}

const char* FamilyName(codec::Family f) {
  switch (f) {
    case codec::Family::kUnix:
      return "unix";
    case codec::Family::kInet:
      return "inet";
    case codec::Family::kInet6:
      return "inet6";
    default:
      return "unknown";
  }
}

class PrintingFilter : public milter::client::CoroutineFilter {
 public:
  PrintingFilter() : id_(++next_id_) {}

  asio::awaitable<Status> OnNegotiate(Context&,
                                      milter::client::Negotiation& n) override {
    Print("negotiate", absl::StrCat("version=", n.offer.version));
    if (absl::GetFlag(FLAGS_verbose)) {
      Line(absl::StrCat("  actions: ",
                        codec::ActionFlagsToString(n.offer.actions)));
      Line(absl::StrCat("  protocol: ",
                        codec::ProtocolFlagsToString(n.offer.protocol)));
    }
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnConnect(
      Context& ctx, const milter::client::ConnectionInfo& info) override {
    Print("connect",
          absl::StrCat("host=", info.hostname,
                       " family=", FamilyName(info.family),
                       " address=", info.address, " port=", info.port));
    Macros(ctx, codec::MacroStage::kConnect);
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnHelo(Context& ctx, std::string_view name) override {
    Print("helo", S(name));
    Macros(ctx, codec::MacroStage::kHelo);
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnMailFrom(Context& ctx, std::string_view address,
                                     EsmtpArgs args) override {
    Print("envelope-from", Joined(address, args));
    Macros(ctx, codec::MacroStage::kMail);
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnRcptTo(Context& ctx, std::string_view address,
                                   EsmtpArgs args) override {
    Print("envelope-recipient", Joined(address, args));
    Macros(ctx, codec::MacroStage::kRcpt);
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnData(Context& ctx) override {
    Print("data", "");
    Macros(ctx, codec::MacroStage::kData);
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnUnknown(Context&,
                                    std::string_view command) override {
    Print("unknown", S(command));
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnHeader(Context&, std::string_view name,
                                   std::string_view value) override {
    Print("header", absl::StrCat(S(name), ": ", Printable(value, 1000)));
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnEndOfHeaders(Context& ctx) override {
    Print("end-of-header", "");
    Macros(ctx, codec::MacroStage::kEndOfHeaders);
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnBody(Context&, std::string_view chunk) override {
    Print("body", absl::StrCat(chunk.size(), " bytes"));
    if (absl::GetFlag(FLAGS_verbose)) {
      Line(absl::StrCat("  ", Printable(chunk, 4096)));
    }
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnEndOfMessage(Context& ctx) override {
    Print("end-of-message", "");
    Macros(ctx, codec::MacroStage::kEndOfMessage);
    co_return Status::kContinue;
  }
  asio::awaitable<void> OnAbort(Context&) override {
    Print("abort", "");
    co_return;
  }
  asio::awaitable<void> OnClose(Context&) override {
    Print("close", "");
    co_return;
  }

 private:
  static std::string S(std::string_view s) { return std::string(s); }
  static std::string Joined(std::string_view address, EsmtpArgs args) {
    std::string out(address);
    for (std::string_view a : args) absl::StrAppend(&out, " ", S(a));
    return out;
  }
  void Line(const std::string& s) {
    std::fprintf(stdout, "%s\n", s.c_str());
    std::fflush(stdout);
  }
  void Print(const char* stage, const std::string& what) {
    Line(absl::StrCat("[", id_, "] ", stage, what.empty() ? "" : ": ", what));
  }
  void Macros(Context& ctx, codec::MacroStage stage) {
    for (const auto& [name, value] : ctx.macros().stage(stage)) {
      Line(absl::StrCat("  macro ", name, " = ", Printable(value, 1000)));
    }
  }

  static std::atomic<int> next_id_;
  int id_;
};
std::atomic<int> PrintingFilter::next_id_{0};

// The one line on standard error that says why the tool stopped.
void Complain(const std::string& why) {
  std::fprintf(stderr, "milter-test-client: %s\n", why.c_str());
}

int Main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "milter_test_client");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "A milter that prints every stage it receives, macros included.\n"
      "Usage: milter-test-client [-s|--connection-spec SPEC] [--verbose]");
  if (std::optional<int> exit_status = milter_tools::ParseToolCommandLine(
          argc, argv,
          {{'s', "connection_spec", true},
           {'v', "verbose", false},
           {'h', "help", false}},
          "milter-test-client", "give the socket with -s SPEC; see --help")) {
    return *exit_status;
  }

  milter::client::FilterOptions filter_options;
  filter_options.callbacks = milter::client::callback::kAll;  // every stage
  filter_options.actions = 0;                                 // changes none
  milter::client::RunnerOptions options;
  options.listen = {absl::GetFlag(FLAGS_connection_spec)};
  options.worker_threads = 0;
  options.unix_socket_mode = 0666;
  milter::client::Runner runner(
      milter::client::MakeFilterFactory<PrintingFilter>(filter_options),
      options);
  if (absl::Status s = runner.Listen(); !s.ok()) {
    Complain(s.ToString());
    return 1;
  }
  std::fprintf(stderr, "milter-test-client: listening on %s\n",
               runner.bound_specs().front().c_str());
  if (absl::Status s = runner.Run(); !s.ok()) {
    Complain(s.ToString());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    Complain(e.what());
  } catch (...) {
    Complain("unknown exception");
  }
  return 1;
}
