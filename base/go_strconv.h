// Go's strconv quoting, as nats-server's error texts print strings with %q.
// Pure function; any thread.
#ifndef HERALD_BASE_GO_STRCONV_H_
#define HERALD_BASE_GO_STRCONV_H_

#include <string>

#include "absl/strings/string_view.h"

namespace herald {

// Go's %q for a string: quotes and escapes, valid printable UTF-8 kept,
// invalid bytes as \xNN.
std::string GoQuote(absl::string_view s);

}  // namespace herald

#endif  // HERALD_BASE_GO_STRCONV_H_
