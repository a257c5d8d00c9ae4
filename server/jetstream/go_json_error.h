// The error texts of Go's encoding/json for requests nats-server decodes with
// json.Unmarshal and whose error it sends back verbatim (a pull request's
// "400 Bad Request - <error>"): the syntax check Go runs over the whole input
// before decoding ("invalid character 'x' after object key", "unexpected end
// of JSON input", ...), and the type error of a member that does not fit its
// Go field ("json: cannot unmarshal string into Go struct field
// JSApiConsumerGetNextRequest.batch of type int").
//
// Pure functions; any thread.
#ifndef HERALD_SERVER_JETSTREAM_GO_JSON_ERROR_H_
#define HERALD_SERVER_JETSTREAM_GO_JSON_ERROR_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::js::gojson {

// Go's syntax error for `text`, or nullopt when it is one valid JSON value
// (surrounded by optional white space).
std::optional<std::string> SyntaxError(std::string_view text);

// A member value of a syntactically valid object, as written.
struct RawValue {
  enum class Kind { kString, kNumber, kBool, kNull, kObject, kArray };
  Kind kind = Kind::kNull;
  std::string_view raw;  // the value's text (a string with its quotes)
};

// The top-level members of `object`, which SyntaxError() accepted and which
// starts with '{', in document order (duplicates kept, as Go decodes each).
// Keys are unescaped.
std::vector<std::pair<std::string, RawValue>> ObjectMembers(std::string_view object);

// The Go field types a request uses.
enum class GoType { kInt, kDuration, kBool };

// The error json.Unmarshal reports for `value` decoded into the field
// `field` (its JSON name) of struct `go_struct`, or nullopt when it fits
// (null always fits: it leaves the field as it was). `*int_out` / `*bool_out`
// get the value when it fits (may be null for a field that is not wanted).
std::optional<std::string> DecodeField(const RawValue& value, std::string_view go_struct,
                                       std::string_view field, GoType type, int64_t* int_out,
                                       bool* bool_out);

}  // namespace herald::js::gojson

#endif  // HERALD_SERVER_JETSTREAM_GO_JSON_ERROR_H_
