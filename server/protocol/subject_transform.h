// SubjectTransform: nats-server's subject mapping ("transform", 2.9): a source
// pattern and a destination template that rewrites a literal subject the
// pattern matches. Used by a stream's `republish` (docs/jetstream.md).
//
// Destination tokens: literal tokens are copied; `$N` or `{{wildcard(N)}}`
// is the source's N-th `*` token (1-based); a last `>` copies what the
// source's `>` matched. Mapping functions, as nats-server 2.9 has them:
// `{{partition(n, a, b, ...)}}` (FNV-1a of the wildcard tokens a, b... mod
// n), `{{splitFromLeft(i, p)}}`, `{{splitFromRight(i, p)}}`,
// `{{sliceFromLeft(i, n)}}`, `{{sliceFromRight(i, n)}}`, `{{split(i, d)}}`.
// A source without wildcards maps to the destination verbatim.
//
// An immutable value; any thread.
#ifndef HERALD_SERVER_PROTOCOL_SUBJECT_TRANSFORM_H_
#define HERALD_SERVER_PROTOCOL_SUBJECT_TRANSFORM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace herald {

class SubjectTransform {
 public:
  // Fails (kInvalidArgument, the reason in the message) where nats-server's
  // newTransform fails: either side not a valid subject, a `*` in the
  // destination, `>` on one side only, an unknown or malformed mapping
  // function, a wildcard index past the source's wildcards, or a source
  // wildcard the destination never uses.
  static absl::StatusOr<SubjectTransform> Create(std::string_view src, std::string_view dest);

  // The destination of a literal subject; nullopt if the source does not
  // match it (or it is not a valid literal subject).
  std::optional<std::string> Match(std::string_view subject) const;

  const std::string& source() const { return src_; }
  const std::string& destination() const { return dest_; }

 private:
  enum class Kind : uint8_t {
    kLiteral,
    kWildcard,
    kPartition,
    kSplitFromLeft,
    kSplitFromRight,
    kSliceFromLeft,
    kSliceFromRight,
    kSplit,
  };
  struct DestToken {
    Kind kind = Kind::kLiteral;
    std::vector<size_t> source_tokens;  // positions in the subject's tokens
    int32_t int_arg = 0;
    std::string string_arg;
  };

  std::string Transform(const std::vector<std::string_view>& tokens) const;

  std::string src_, dest_;
  std::vector<std::string> src_tokens_, dest_tokens_;
  std::vector<DestToken> mapping_;  // per destination token; empty: dest verbatim
};

}  // namespace herald

#endif  // HERALD_SERVER_PROTOCOL_SUBJECT_TRANSFORM_H_
