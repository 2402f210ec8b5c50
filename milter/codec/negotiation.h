// Option negotiation: settles version, actions and protocol flags between
// what an MTA offers and what a filter wants, with libmilter's rules.
//
// Filter side (NegotiateAsFilter): the version is the lower of the two; every
// action the filter wants must be offered (else error, as libmilter aborts);
// protocol flags the MTA lacks are not requested but emulated by the filter
// library, reported in `emulated`: a "no reply" flag means the library sends
// the continue itself, a "don't send" flag means the library answers the step
// without calling the filter, kSkip means a skip becomes a continue. The
// max-data-size bits are granted when both sides set them.
//
// MTA side (AcceptFilterReply): checks the filter's answer against the offer.

#ifndef MILTER_CODEC_NEGOTIATION_H_
#define MILTER_CODEC_NEGOTIATION_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "milter/codec/message.h"

namespace milter::codec {

struct NegotiatedOptions {
  // Protocol version both sides speak.
  uint32_t version = kMaxVersion;
  // Actions the filter may take.
  uint32_t actions = 0;
  // Protocol flags in force on the wire (what the filter's reply carries).
  uint32_t protocol = 0;
  // Flags the filter wanted that the MTA lacks; the filter library emulates
  // them (see the top of this file).
  uint32_t emulated = 0;
  // Largest payload either side may send.
  size_t max_payload = kDefaultMaxPayload;

  // Whether the filter must not answer the step that `no_reply_flag` covers,
  // and whether the MTA will send a step (`no_send_flag` not in force).
  bool NoReply(uint32_t no_reply_flag) const {
    return (protocol & no_reply_flag) != 0;
  }
  bool Sends(uint32_t no_send_flag) const {
    return (protocol & no_send_flag) == 0;
  }
};

// What a filter asks for: the version it speaks (2..6), the actions it needs,
// and the protocol flags it wants.
struct FilterRequest {
  uint32_t version = kMaxVersion;
  uint32_t actions = 0;
  uint32_t protocol = 0;
};

absl::StatusOr<NegotiatedOptions> NegotiateAsFilter(
    const OptionNegotiation& mta_offer, const FilterRequest& request);

// The 'O' reply a filter sends for `options` (no symbol lists).
OptionNegotiationReply MakeReply(const NegotiatedOptions& options);

// MTA side: validates a filter's reply to `offer` (version 2..offer's, actions
// and protocol flags within the offer) and returns what is in force.
absl::StatusOr<NegotiatedOptions> AcceptFilterReply(
    const OptionNegotiation& offer, const OptionNegotiationReply& reply);

}  // namespace milter::codec

#endif  // MILTER_CODEC_NEGOTIATION_H_
