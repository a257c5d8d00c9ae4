// ReadBuffer: the bytes a connection has read from its socket and not yet
// parsed, for the client and route read loops alike.
//
// The buffer starts small, doubles while reads keep filling it (up to a steady
// maximum), grows to exactly what the parser says one large operation needs,
// and shrinks back to the steady maximum once such an operation has passed, so
// an idle connection holds little memory and a busy one reads in large chunks.
//
// Threading: owned by one connection and used only on its I/O thread.
#ifndef HERALD_SERVER_CORE_READ_BUFFER_H_
#define HERALD_SERVER_CORE_READ_BUFFER_H_

#include <cstddef>
#include <cstring>
#include <vector>

namespace herald {

class ReadBuffer {
 public:
  ReadBuffer(size_t initial_size, size_t steady_max)
      : buf_(initial_size), steady_max_(steady_max) {}

  // Where the next read may write (never empty: a full buffer is doubled).
  char* free_begin() {
    if (len_ == buf_.size()) buf_.resize(buf_.size() * 2);
    return buf_.data() + len_;
  }
  size_t free_size() const { return buf_.size() - len_; }

  // A read wrote `n` bytes at free_begin().
  void Filled(size_t n) {
    last_read_filled_ = len_ + n == buf_.size();
    len_ += n;
  }

  // The unparsed bytes.
  const char* data() const { return buf_.data(); }
  char* data() { return buf_.data(); }
  size_t size() const { return len_; }
  size_t capacity() const { return buf_.size(); }

  // The parser used the first `consumed` bytes and needs `bytes_needed` bytes
  // in all (0: unknown) before its next operation can complete.
  void Consumed(size_t consumed, size_t bytes_needed) {
    if (consumed > 0) {
      std::memmove(buf_.data(), buf_.data() + consumed, len_ - consumed);
      len_ -= consumed;
    }
    if (bytes_needed > buf_.size()) {
      buf_.resize(bytes_needed);
    } else if (last_read_filled_ && buf_.size() < steady_max_) {
      buf_.resize(buf_.size() * 2);
    } else if (len_ == 0 && buf_.size() > steady_max_) {
      // A large operation has passed: give its memory back.
      buf_.resize(steady_max_);
      buf_.shrink_to_fit();
    }
  }

 private:
  std::vector<char> buf_;
  size_t len_ = 0;
  const size_t steady_max_;
  bool last_read_filled_ = false;
};

}  // namespace herald

#endif  // HERALD_SERVER_CORE_READ_BUFFER_H_
