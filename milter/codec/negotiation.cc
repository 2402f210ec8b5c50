// Option negotiation with libmilter's rules (filter side) and the MTA's
// checks of a filter's reply.

#include "milter/codec/negotiation.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace milter::codec {
namespace {

constexpr uint32_t kSizeFlags =
    protocol::kMaxDataSize256K | protocol::kMaxDataSize1M;

// The size bit in force when both sides set size bits: the largest common.
uint32_t CommonSizeFlag(uint32_t a, uint32_t b) {
  uint32_t common = a & b & kSizeFlags;
  if (common & protocol::kMaxDataSize1M) return protocol::kMaxDataSize1M;
  return common & protocol::kMaxDataSize256K;
}

}  // namespace

absl::StatusOr<NegotiatedOptions> NegotiateAsFilter(
    const OptionNegotiation& mta_offer, const FilterRequest& request) {
  if (mta_offer.version < kMinVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("MTA speaks milter protocol version ", mta_offer.version,
                     "; at least ", kMinVersion, " is required"));
  }
  uint32_t mta_actions =
      mta_offer.actions == 0 ? action::kVersion1Default : mta_offer.actions;
  uint32_t mta_protocol =
      mta_offer.protocol == 0 ? protocol::kVersion1Default : mta_offer.protocol;
  NegotiatedOptions out;
  out.version = std::min({mta_offer.version, request.version, kMaxVersion});
  if ((request.actions & mta_actions) != request.actions) {
    return absl::FailedPreconditionError(
        absl::StrCat("MTA does not offer the actions the filter needs: ",
                     ActionFlagsToString(request.actions & ~mta_actions)));
  }
  out.actions = request.actions;

  uint32_t wanted = request.protocol & ~protocol::kInternal;
  out.protocol = wanted & mta_protocol;
  out.emulated = wanted & ~mta_protocol & ~kSizeFlags;
  uint32_t size_flag = CommonSizeFlag(request.protocol, mta_protocol);
  out.protocol = (out.protocol & ~kSizeFlags) | size_flag;
  out.max_payload = MaxPayloadForFlags(size_flag);
  return out;
}

OptionNegotiationReply MakeReply(const NegotiatedOptions& options) {
  OptionNegotiationReply reply;
  reply.version = options.version;
  reply.actions = options.actions;
  reply.protocol = options.protocol;
  return reply;
}

absl::StatusOr<NegotiatedOptions> AcceptFilterReply(
    const OptionNegotiation& offer, const OptionNegotiationReply& reply) {
  if (reply.version < kMinVersion || reply.version > offer.version) {
    return absl::FailedPreconditionError(
        absl::StrCat("filter answered protocol version ", reply.version,
                     "; expected ", kMinVersion, "..", offer.version));
  }
  if ((reply.actions & ~offer.actions) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("filter requested actions not offered: ",
                     ActionFlagsToString(reply.actions & ~offer.actions)));
  }
  uint32_t offered_protocol = offer.protocol | kSizeFlags;
  if ((reply.protocol & ~offered_protocol) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "filter requested protocol flags not offered: ",
        ProtocolFlagsToString(reply.protocol & ~offered_protocol)));
  }
  NegotiatedOptions out;
  out.version = reply.version;
  out.actions = reply.actions;
  uint32_t size_flag = CommonSizeFlag(reply.protocol, offer.protocol);
  out.protocol = (reply.protocol & ~kSizeFlags) | size_flag;
  out.max_payload = MaxPayloadForFlags(size_flag);
  return out;
}

}  // namespace milter::codec
