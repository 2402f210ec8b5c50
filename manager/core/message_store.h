// The message of one transaction as the manager holds it, to replay it to
// the children after the first: header fields in order with their raw
// values (as after the colon on the wire), and the body, in memory up to a
// bound and beyond it in a temporary file. The file is unlinked as soon as
// it is made, so it disappears on every path (the process may even crash).
//
// Not thread-safe: one store per MTA session.

#ifndef MANAGER_CORE_MESSAGE_STORE_H_
#define MANAGER_CORE_MESSAGE_STORE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "milter/server/mail_message.h"

namespace milter::manager {

class MessageStore {
 public:
  // `memory_limit`: body bytes kept in memory; `temp_dir`: where the rest
  // goes.
  MessageStore(size_t memory_limit, std::string temp_dir);
  ~MessageStore();
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;

  // Forgets the message (a new one starts); frees memory and the file.
  void Clear();

  // Header fields in order; values raw (" text").
  std::vector<server::HeaderField>& headers() { return headers_; }

  // Appends to the body. Errors: the temporary file cannot be made or
  // written (named, with the reason).
  absl::Status AppendBody(std::string_view data);
  // Replaces the whole body.
  absl::Status ReplaceBody(std::string_view body);
  size_t body_size() const { return body_size_; }
  // Whether part of the body lives in the temporary file.
  bool spilled() const { return fd_ >= 0; }

  // Up to `max` body bytes from `offset` (fewer only at the end): a view
  // into memory, or into `*scratch` for bytes read back from the file.
  absl::StatusOr<std::string_view> ReadBody(size_t offset, size_t max,
                                            std::string* scratch) const;

 private:
  absl::Status Spill(std::string_view data);

  size_t memory_limit_;
  std::string temp_dir_;
  std::vector<server::HeaderField> headers_;
  std::string memory_;  // the first bytes of the body
  int fd_ = -1;         // the rest, from file offset 0
  size_t body_size_ = 0;
};

}  // namespace milter::manager

#endif  // MANAGER_CORE_MESSAGE_STORE_H_
