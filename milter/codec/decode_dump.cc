// decode_dump: prints every milter packet of raw captures, one per line.
//
//   decode_dump [--commands|--responses] FILE...
//
// Without a direction flag, files named *.mta_to_filter are read as commands
// (MTA -> filter) and *.filter_to_mta as responses (filter -> MTA), the names
// testdata/recorded/record_proxy.py writes. Each file is decoded twice, whole
// and byte by byte; the two must agree. Exits 1 on a decode error, on bytes
// left over after the last complete packet, or on disagreement.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"

namespace milter::codec {
namespace {

std::string Q(std::string_view s) {
  return absl::StrCat(
      "\"", absl::CHexEscape(absl::string_view(s.data(), s.size())), "\"");
}

std::string List(const StringList& list) {
  std::string out;
  for (std::string_view s : list)
    absl::StrAppend(&out, out.empty() ? "" : " ", Q(s));
  return out;
}

std::string Describe(const Command& c) {
  std::string out = absl::StrCat(std::string(1, static_cast<char>(CodeOf(c))),
                                 " ", CommandName(CodeOf(c)));
  if (auto* o = std::get_if<OptionNegotiation>(&c)) {
    absl::StrAppend(&out, " version=", o->version,
                    " actions=", ActionFlagsToString(o->actions),
                    " protocol=", ProtocolFlagsToString(o->protocol));
  } else if (auto* d = std::get_if<DefineMacros>(&c)) {
    absl::StrAppend(
        &out, " for=", d->command_code ? std::string(1, d->command_code) : "-",
        " ", List(d->pairs));
  } else if (auto* con = std::get_if<Connect>(&c)) {
    absl::StrAppend(&out, " host=", Q(con->hostname),
                    " family=", std::string(1, static_cast<char>(con->family)),
                    " port=", con->port, " address=", Q(con->address));
  } else if (auto* h = std::get_if<Helo>(&c)) {
    absl::StrAppend(&out, " ", Q(h->name));
  } else if (auto* m = std::get_if<Mail>(&c)) {
    absl::StrAppend(&out, " ", List(m->args));
  } else if (auto* r = std::get_if<Rcpt>(&c)) {
    absl::StrAppend(&out, " ", List(r->args));
  } else if (auto* h = std::get_if<Header>(&c)) {
    absl::StrAppend(&out, " ", Q(h->name), " ", Q(h->value));
  } else if (auto* b = std::get_if<BodyChunk>(&c)) {
    absl::StrAppend(&out, " bytes=", b->data.size());
  } else if (auto* e = std::get_if<EndOfMessage>(&c)) {
    absl::StrAppend(&out, " bytes=", e->data.size());
  } else if (auto* u = std::get_if<Unknown>(&c)) {
    absl::StrAppend(&out, " ", Q(u->command));
  }
  return out;
}

std::string Describe(const Response& r) {
  std::string out = absl::StrCat(std::string(1, static_cast<char>(CodeOf(r))),
                                 " ", ResponseName(CodeOf(r)));
  if (auto* o = std::get_if<OptionNegotiationReply>(&r)) {
    absl::StrAppend(&out, " version=", o->version,
                    " actions=", ActionFlagsToString(o->actions),
                    " protocol=", ProtocolFlagsToString(o->protocol));
    for (int i = 0; i < kNumMacroStages; ++i) {
      if (o->symbol_lists[i]) {
        absl::StrAppend(&out, " stage", i, "=", Q(*o->symbol_lists[i]));
      }
    }
  } else if (auto* y = std::get_if<ReplyCode>(&r)) {
    absl::StrAppend(&out, " ", Q(y->text));
  } else if (auto* q = std::get_if<Quarantine>(&r)) {
    absl::StrAppend(&out, " ", Q(q->reason));
  } else if (auto* h = std::get_if<AddHeader>(&r)) {
    absl::StrAppend(&out, " ", Q(h->name), " ", Q(h->value));
  } else if (auto* i = std::get_if<InsertHeader>(&r)) {
    absl::StrAppend(&out, " index=", i->index, " ", Q(i->name), " ",
                    Q(i->value));
  } else if (auto* m = std::get_if<ChangeHeader>(&r)) {
    absl::StrAppend(&out, " index=", m->index, " ", Q(m->name), " ",
                    Q(m->value));
  } else if (auto* e = std::get_if<ChangeFrom>(&r)) {
    absl::StrAppend(&out, " ", Q(e->address));
    if (e->args) absl::StrAppend(&out, " ", Q(*e->args));
  } else if (auto* a = std::get_if<AddRecipient>(&r)) {
    absl::StrAppend(&out, " ", Q(a->address));
  } else if (auto* a2 = std::get_if<AddRecipientWithArgs>(&r)) {
    absl::StrAppend(&out, " ", Q(a2->address), " ", Q(a2->args));
  } else if (auto* d = std::get_if<DeleteRecipient>(&r)) {
    absl::StrAppend(&out, " ", Q(d->address));
  } else if (auto* b = std::get_if<ReplaceBody>(&r)) {
    absl::StrAppend(&out, " bytes=", b->data.size(), " ",
                    Q(b->data.substr(0, 64)));
  }
  return out;
}

// Decodes `bytes` fed in pieces of `step` bytes (0: whole). Returns the lines
// or an error text in *error.
template <typename Message>
std::vector<std::string> DecodeAll(const std::string& bytes, size_t step,
                                   std::string* error) {
  Decoder<Message> decoder;
  std::vector<std::string> lines;
  size_t pos = 0;
  do {
    size_t n = step == 0 ? bytes.size() : std::min(step, bytes.size() - pos);
    decoder.Feed(std::string_view(bytes).substr(pos, n));
    pos += n;
    while (true) {
      auto next = decoder.Next();
      if (!next.ok()) {
        *error = absl::StrCat("packet ", lines.size() + 1, ": ",
                              next.status().ToString());
        return lines;
      }
      if (!next->has_value()) break;
      lines.push_back(Describe(**next));
    }
  } while (pos < bytes.size());
  if (decoder.pending_bytes() != 0) {
    *error = absl::StrCat(decoder.pending_bytes(),
                          " bytes left after the last complete packet");
  }
  return lines;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int Run(int argc, char** argv) {
  enum { kAuto, kCommands, kResponses } mode = kAuto;
  int failures = 0, files = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--commands") {
      mode = kCommands;
      continue;
    }
    if (arg == "--responses") {
      mode = kResponses;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      std::cout << "usage: decode_dump [--commands|--responses] FILE...\n";
      return 0;
    }
    ++files;
    std::ifstream in(arg, std::ios::binary);
    if (!in) {
      std::cerr << arg << ": cannot open\n";
      ++failures;
      continue;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    std::string bytes = buf.str();
    bool commands = mode == kCommands ||
                    (mode == kAuto && !EndsWith(arg, ".filter_to_mta"));
    std::string error, bytewise_error;
    std::vector<std::string> whole, bytewise;
    if (commands) {
      whole = DecodeAll<Command>(bytes, 0, &error);
      bytewise = DecodeAll<Command>(bytes, 1, &bytewise_error);
    } else {
      whole = DecodeAll<Response>(bytes, 0, &error);
      bytewise = DecodeAll<Response>(bytes, 1, &bytewise_error);
    }
    std::cout << "== " << arg << " ("
              << (commands ? "MTA -> filter" : "filter -> MTA") << ", "
              << bytes.size() << " bytes, " << whole.size() << " packets)\n";
    for (const std::string& line : whole) std::cout << line << "\n";
    if (!error.empty()) {
      std::cout << "ERROR: " << error << "\n";
      ++failures;
    } else if (whole != bytewise || !bytewise_error.empty()) {
      std::cout << "ERROR: byte-by-byte decoding differs\n";
      ++failures;
    }
  }
  if (files == 0) {
    std::cerr << "usage: decode_dump [--commands|--responses] FILE...\n";
    return 2;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace milter::codec

int main(int argc, char** argv) { return milter::codec::Run(argc, argv); }
