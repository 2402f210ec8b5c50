// Pmilter's Ruby API (github.com/matsumotory/pmilter) over the script
// session, so Pmilter handler files run unchanged under Engine::RunFile:
// module Pmilter (name, status=, status, SMFIS_* constants),
// Pmilter::Session (readers, change_envelope_from, add_envelope_to) and
// Pmilter::Session::Headers (header, []=, and [] as an extension).
//
// Semantics follow Pmilter's C bindings: a macro that is not set reads as ""
// (Pmilter passed smfi_getsymval's NULL to mrb_str_new_cstr); receive_time is
// an Integer (Unix seconds); modifications outside end of message fail as
// libmilter's do, returning -1 (MI_FAILURE) instead of raising.

#include <mruby.h>
#include <mruby/class.h>
#include <mruby/hash.h>
#include <mruby/string.h>

#include <cstring>
#include <string>

#include "absl/time/time.h"
#include "manager/script/api_util.h"

namespace milter::manager::script::api {
namespace {

// libmilter's sfsistat values, as Pmilter defines them.
constexpr mrb_int kContinue = 0, kReject = 1, kDiscard = 2, kAccept = 3,
                  kTempfail = 4, kNoReply = 7, kSkip = 8, kAllOpts = 10;

mrb_value PmilterName(mrb_state* mrb, mrb_value) {
  return mrb_str_new_lit(mrb, "pmilter");
}

mrb_value SetStatus(mrb_state* mrb, mrb_value) {
  mrb_int value;
  mrb_get_args(mrb, "i", &value);
  Session* session = CurrentSession(mrb);
  codec::Status status;
  switch (value) {
    case kContinue:
    case kNoReply:  // the manager answers for the script: continue
    case kAllOpts:  // negotiation only: continue
      status = codec::Status::kContinue;
      break;
    case kReject:
      status = codec::Status::kReject;
      break;
    case kDiscard:
      status = codec::Status::kDiscard;
      break;
    case kAccept:
      status = codec::Status::kAccept;
      break;
    case kTempfail:
      status = codec::Status::kTempfail;
      break;
    case kSkip:
      status = codec::Status::kSkip;
      break;
    default:
      mrb_raisef(mrb, E_ARGUMENT_ERROR,
                 "Pmilter.status=: %i is not a Pmilter::SMFIS_* value", value);
      return mrb_nil_value();
  }
  session->status = status;
  session->reply.clear();
  return mrb_int_value(mrb, value);
}

mrb_value GetStatus(mrb_state* mrb, mrb_value) {
  switch (CurrentSession(mrb)->status) {
    case codec::Status::kReject:
      return mrb_int_value(mrb, kReject);
    case codec::Status::kDiscard:
      return mrb_int_value(mrb, kDiscard);
    case codec::Status::kAccept:
      return mrb_int_value(mrb, kAccept);
    case codec::Status::kTempfail:
      return mrb_int_value(mrb, kTempfail);
    case codec::Status::kSkip:
      return mrb_int_value(mrb, kSkip);
    default:
      return mrb_int_value(mrb, kContinue);
  }
}

struct Reader {
  const char* method;
  const char* macro;  // nullptr: a fact of the session
};
constexpr Reader kReaders[] = {
    {"client_ipaddr", nullptr},
    {"client_hostname", nullptr},
    {"client_daemon", "daemon_name"},
    {"handler_phase_name", nullptr},
    {"helo_hostname", nullptr},
    {"envelope_from", nullptr},
    {"envelope_to", nullptr},
    {"receive_time", nullptr},
    {"body_chunk", nullptr},
    {"mail_addr", "mail_addr"},
    {"rcpt_addr", "rcpt_addr"},
    {"myhostname", "j"},
    {"message_id", "i"},
    {"auth_type", "auth_type"},
    {"auth_authen", "auth_authen"},
    {"auth_author", "auth_author"},
    {"cert_issuer", "cert_issuer"},
    {"cert_subject", "cert_subject"},
    {"cipher_bits", "cipher_bits"},
    {"cipher", "cipher"},
    {"tls_version", "tls_version"},
};

mrb_value Read(mrb_state* mrb, mrb_value) {
  const Session& s = *CurrentSession(mrb);
  std::string_view m = mrb_sym_name(mrb, mrb_get_mid(mrb));
  for (const Reader& reader : kReaders) {
    if (m == reader.method && reader.macro != nullptr) {
      return MacroValue(mrb, s, reader.macro, mrb_str_new_lit(mrb, ""));
    }
  }
  if (m == "client_ipaddr") return Str(mrb, s.client.address);
  if (m == "client_hostname") return Str(mrb, s.client.hostname);
  if (m == "helo_hostname") return Str(mrb, s.helo);
  if (m == "envelope_from") return Str(mrb, s.envelope_from);
  if (m == "envelope_to") return Str(mrb, s.recipient);
  if (m == "body_chunk") return Str(mrb, s.body_chunk);
  if (m == "receive_time") {
    return mrb_int_value(mrb, absl::ToUnixSeconds(s.receive_time));
  }
  if (m == "handler_phase_name") {
    mrb_value name = mrb_str_new_lit(mrb, "mruby_");
    mrb_str_cat_cstr(mrb, name, StageName(s.stage).data());
    mrb_str_cat_lit(mrb, name, "_handler");
    return name;
  }
  return mrb_nil_value();
}

// The modifications return libmilter's MI_SUCCESS (0) or MI_FAILURE (-1).
bool Modifiable(const Session& s) { return s.stage == Stage::kEndOfMessage; }

// An envelope address: non-empty, one line (a CR or LF would let the text
// forge further lines wherever the MTA writes the envelope).
bool ValidAddress(const char* address) {
  return *address != '\0' && std::strpbrk(address, "\r\n") == nullptr;
}

mrb_value ChangeEnvelopeFrom(mrb_state* mrb, mrb_value) {
  const char* address;
  mrb_get_args(mrb, "z", &address);
  Session* s = CurrentSession(mrb);
  if (!Modifiable(*s) || !ValidAddress(address)) {
    return mrb_int_value(mrb, -1);
  }
  s->changes.push_back(codec::mod::ChangeFrom{address, std::nullopt});
  return mrb_int_value(mrb, 0);
}

mrb_value AddEnvelopeTo(mrb_state* mrb, mrb_value) {
  const char* address;
  mrb_get_args(mrb, "z", &address);
  Session* s = CurrentSession(mrb);
  if (!Modifiable(*s) || !ValidAddress(address)) {
    return mrb_int_value(mrb, -1);
  }
  s->changes.push_back(codec::mod::AddRecipient{address, std::nullopt});
  return mrb_int_value(mrb, 0);
}

// Headers#header: {name => value} of the header being filtered.
mrb_value HeadersHeader(mrb_state* mrb, mrb_value) {
  const Session& s = *CurrentSession(mrb);
  mrb_value hash = mrb_hash_new(mrb);
  mrb_hash_set(mrb, hash, Str(mrb, s.header_name), Str(mrb, s.header_value));
  return hash;
}

bool ValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 || c == ':') return false;
  }
  return true;
}

// Headers#[]=(name, value): smfi_addheader at end of message.
mrb_value HeadersSet(mrb_state* mrb, mrb_value) {
  mrb_value name, value;
  mrb_get_args(mrb, "SS", &name, &value);
  Session* s = CurrentSession(mrb);
  if (!Modifiable(*s) || !ValidHeaderName(View(name)) ||
      std::memchr(RSTRING_PTR(value), '\0', RSTRING_LEN(value)) != nullptr) {
    return mrb_int_value(mrb, -1);
  }
  s->changes.push_back(
      codec::mod::AddHeader{std::string(View(name)), std::string(View(value))});
  return mrb_int_value(mrb, 0);
}

// Headers#[](name): an extension, the first value so far (nil when absent).
mrb_value HeadersGet(mrb_state* mrb, mrb_value) {
  mrb_value name;
  mrb_get_args(mrb, "o", &name);
  const Session& s = *CurrentSession(mrb);
  return mrb_funcall(mrb, HeadersObject(mrb, s), "[]", 1, name);
}

}  // namespace

void InstallPmilterApi(mrb_state* mrb) {
  RClass* pm = mrb_define_module(mrb, "Pmilter");
  struct Constant {
    const char* name;
    mrb_int value;
  };
  constexpr Constant kConstants[] = {
      {"SMFIS_CONTINUE", kContinue}, {"SMFIS_REJECT", kReject},
      {"SMFIS_DISCARD", kDiscard},   {"SMFIS_ACCEPT", kAccept},
      {"SMFIS_TEMPFAIL", kTempfail}, {"SMFIS_NOREPLY", kNoReply},
      {"SMFIS_SKIP", kSkip},         {"SMFIS_ALL_OPTS", kAllOpts},
  };
  for (const Constant& c : kConstants) {
    mrb_define_const(mrb, pm, c.name, mrb_int_value(mrb, c.value));
  }
  mrb_define_class_method(mrb, pm, "name", PmilterName, MRB_ARGS_NONE());
  mrb_define_class_method(mrb, pm, "status=", SetStatus, MRB_ARGS_REQ(1));
  mrb_define_class_method(mrb, pm, "status", GetStatus, MRB_ARGS_NONE());

  RClass* session =
      mrb_define_class_under(mrb, pm, "Session", mrb->object_class);
  for (const Reader& reader : kReaders) {
    mrb_define_method(mrb, session, reader.method, Read, MRB_ARGS_NONE());
  }
  mrb_define_method(mrb, session, "change_envelope_from", ChangeEnvelopeFrom,
                    MRB_ARGS_REQ(1));
  mrb_define_method(mrb, session, "add_envelope_to", AddEnvelopeTo,
                    MRB_ARGS_REQ(1));
  RClass* headers =
      mrb_define_class_under(mrb, session, "Headers", mrb->object_class);
  mrb_define_method(mrb, headers, "header", HeadersHeader, MRB_ARGS_NONE());
  mrb_define_method(mrb, headers, "[]=", HeadersSet, MRB_ARGS_REQ(2));
  mrb_define_method(mrb, headers, "[]", HeadersGet, MRB_ARGS_REQ(1));
}

}  // namespace milter::manager::script::api
