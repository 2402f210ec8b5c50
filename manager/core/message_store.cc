// MessageStore: body in memory, then in an unlinked temporary file.

#include "manager/core/message_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace milter::manager {

MessageStore::MessageStore(size_t memory_limit, std::string temp_dir)
    : memory_limit_(memory_limit), temp_dir_(std::move(temp_dir)) {}

MessageStore::~MessageStore() { Clear(); }

void MessageStore::Clear() {
  headers_.clear();
  std::string().swap(memory_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  body_size_ = 0;
}

absl::Status MessageStore::Spill(std::string_view data) {
  if (fd_ < 0) {
    // O_TMPFILE: a file without a name, gone when closed.
    fd_ = ::open(temp_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
      std::string path = temp_dir_ + "/milter-manager.XXXXXX";
      fd_ = ::mkostemp(path.data(), O_CLOEXEC);
      if (fd_ >= 0) ::unlink(path.c_str());
    }
    if (fd_ < 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot make a temporary file in ", temp_dir_, ": ",
                       std::strerror(errno)));
    }
  }
  off_t at = static_cast<off_t>(body_size_ - memory_.size());
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd_, data.data(), data.size(), at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("cannot write the temporary file in ", temp_dir_, ": ",
                       std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
    at += n;
    body_size_ += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status MessageStore::AppendBody(std::string_view data) {
  if (fd_ < 0 && memory_.size() < memory_limit_) {
    size_t here = std::min(data.size(), memory_limit_ - memory_.size());
    memory_.append(data.data(), here);
    body_size_ += here;
    data.remove_prefix(here);
  }
  if (data.empty()) return absl::OkStatus();
  return Spill(data);
}

absl::Status MessageStore::ReplaceBody(std::string_view body) {
  std::string().swap(memory_);
  if (fd_ >= 0) {
    if (::ftruncate(fd_, 0) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot truncate the temporary file: ", std::strerror(errno)));
    }
  }
  body_size_ = 0;
  return AppendBody(body);
}

absl::StatusOr<std::string_view> MessageStore::ReadBody(
    size_t offset, size_t max, std::string* scratch) const {
  if (offset >= body_size_ || max == 0) return std::string_view();
  if (offset < memory_.size()) {
    return std::string_view(memory_).substr(offset, max);
  }
  size_t want = std::min(max, body_size_ - offset);
  scratch->resize(want);
  size_t done = 0;
  off_t at = static_cast<off_t>(offset - memory_.size());
  while (done < want) {
    ssize_t n = ::pread(fd_, scratch->data() + done, want - done,
                        at + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::DataLossError(
          absl::StrCat("cannot read the temporary file back: ",
                       n < 0 ? std::strerror(errno) : "unexpected end"));
    }
    done += static_cast<size_t>(n);
  }
  return std::string_view(*scratch);
}

}  // namespace milter::manager
