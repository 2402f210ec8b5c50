// Verdict and negotiation merging; see merge.h.

#include "manager/core/merge.h"

#include <algorithm>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "milter/codec/macros.h"

namespace milter::manager {
namespace {

namespace protocol = codec::protocol;

// The stage flags: a "don't send" flag and the "no reply" flag of the same
// stage (0 where the stage has none).
struct StageFlags {
  uint32_t no_send;
  uint32_t no_reply;
};
constexpr StageFlags kStages[] = {
    {protocol::kNoConnect, protocol::kNoReplyConnect},
    {protocol::kNoHelo, protocol::kNoReplyHelo},
    {protocol::kNoMail, protocol::kNoReplyMail},
    {protocol::kNoRcpt, protocol::kNoReplyRcpt},
    {protocol::kNoData, protocol::kNoReplyData},
    {protocol::kNoUnknown, protocol::kNoReplyUnknown},
    {protocol::kNoHeaders, protocol::kNoReplyHeader},
    {protocol::kNoEndOfHeaders, protocol::kNoReplyEndOfHeaders},
    {protocol::kNoBody, protocol::kNoReplyBody},
};

// Merges macro lists: names of both, each once, in a stable order.
std::string MergeLists(const std::string& a, const std::string& b) {
  absl::btree_set<std::string> names;
  for (const std::string* list : {&a, &b}) {
    for (absl::string_view name :
         absl::StrSplit(*list, absl::ByAnyChar(" ,\t"), absl::SkipEmpty())) {
      std::string_view n(name.data(), name.size());
      // One spelling per macro: "{i}" and "i" are the same.
      std::string_view canonical = codec::CanonicalMacroName(n);
      names.insert(canonical.size() == 1 ? std::string(canonical)
                                         : "{" + std::string(canonical) + "}");
    }
  }
  return absl::StrJoin(names, " ");
}

}  // namespace

codec::Status MoreSevere(codec::Status a, codec::Status b) {
  return codec::StatusSeverity(b) > codec::StatusSeverity(a) ? b : a;
}

codec::Status FallbackStatusOf(config::FallbackStatus fallback) {
  switch (fallback) {
    case config::ACCEPT:
      return codec::Status::kAccept;
    case config::REJECT:
      return codec::Status::kReject;
    case config::DISCARD:
      return codec::Status::kDiscard;
    case config::TEMPFAIL:
    default:
      return codec::Status::kTempfail;
  }
}

codec::OptionNegotiation OfferToChildren(
    const codec::OptionNegotiation& mta_offer) {
  codec::OptionNegotiation offer = mta_offer;
  offer.version = std::min(mta_offer.version, codec::kMaxVersion);
  // The manager answers the MTA itself, skips body chunks itself and keeps
  // header values raw, whatever the MTA offers; it passes no packet larger
  // than 65535 bytes on.
  offer.protocol |= protocol::kAllNoReply | protocol::kSkip |
                    protocol::kHeaderLeadingSpace | protocol::kAllNoSend;
  offer.protocol &= ~(protocol::kMaxDataSize256K | protocol::kMaxDataSize1M);
  if (offer.version < 6) {
    // Unknown and DATA stages do not exist below version 6.
    offer.protocol &= ~(protocol::kNoUnknown | protocol::kNoData |
                        protocol::kNoReplyUnknown | protocol::kNoReplyData);
  }
  return offer;
}

MtaRequest UnionOfNeeds(const codec::OptionNegotiation& mta_offer,
                        absl::Span<const ChildNeeds> children) {
  MtaRequest out;
  out.request.version = std::min(mta_offer.version, codec::kMaxVersion);
  uint32_t actions = 0;
  uint32_t protocol_flags = 0;
  for (const StageFlags& stage : kStages) {
    bool anyone_takes_it = false;
    bool anyone_answers_it = false;
    for (const ChildNeeds& child : children) {
      if (!child.options.Sends(stage.no_send)) continue;
      anyone_takes_it = true;
      if (!child.options.NoReply(stage.no_reply)) anyone_answers_it = true;
    }
    if (!anyone_takes_it) protocol_flags |= stage.no_send;
    // A stage nobody takes is not sent at all; one taken but answered by
    // nobody needs no answer from the manager either. Nor does content
    // (headers, end of headers, body): the SMTP client hears the verdict
    // only after the whole message, so the manager keeps a child's
    // objection there for the end of message, and the MTA need not wait
    // for each header and chunk.
    bool content = stage.no_reply == protocol::kNoReplyHeader ||
                   stage.no_reply == protocol::kNoReplyEndOfHeaders ||
                   stage.no_reply == protocol::kNoReplyBody;
    if (anyone_takes_it && (!anyone_answers_it || content)) {
      protocol_flags |= stage.no_reply;
    }
  }
  bool want_rejected = false;
  for (const ChildNeeds& child : children) {
    actions |= child.options.actions;
    if (child.options.protocol & protocol::kRcptRejected) want_rejected = true;
  }
  if (want_rejected) protocol_flags |= protocol::kRcptRejected;
  // Exact raw header values (the library emulates it for an MTA without it).
  protocol_flags |= protocol::kHeaderLeadingSpace;
  out.request.actions =
      (actions & mta_offer.actions) & ~codec::action::kSetSymbolList;
  out.request.protocol = protocol_flags;

  for (int stage = 0; stage < codec::kNumMacroStages; ++stage) {
    std::optional<std::string> merged;
    bool someone_wants_default = children.empty();
    for (const ChildNeeds& child : children) {
      const std::optional<std::string>& list = child.symbol_lists[stage];
      if (!list) {
        someone_wants_default = true;
        break;
      }
      merged = MergeLists(merged.value_or(""), *list);
    }
    if (!someone_wants_default) out.symbol_lists[stage] = merged;
  }
  return out;
}

}  // namespace milter::manager
