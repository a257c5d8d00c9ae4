#include "base/go_duration.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace herald {

absl::StatusOr<absl::Duration> ParseGoDuration(const std::string& text) {
  // absl::ParseDuration takes Go's syntax plus "inf", which Go refuses.
  absl::Duration d = absl::ZeroDuration();
  std::string lower = absl::AsciiStrToLower(text);
  if (text.empty() || absl::StrContains(lower, "inf") || !absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(absl::StrCat("time: invalid duration \"", text, "\""));
  }
  // absl saturates on overflow where Go reports an error.
  if (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("time: invalid duration \"", text, "\""));
  }
  return d;
}

std::string FormatGoDuration(absl::Duration d) {
  // Mirrors Go's time.Duration.String(), which works on int64 nanoseconds.
  int64_t ns = absl::ToInt64Nanoseconds(d);
  if (ns == 0) return "0s";
  bool neg = ns < 0;
  uint64_t u = neg ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  // Fraction of u / 10^prec without trailing zeros, and the integer part.
  auto frac = [](uint64_t v, int prec, uint64_t* whole) {
    std::string digits;
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      int digit = static_cast<int>(v % 10);
      print = print || digit != 0;
      if (print) digits.insert(digits.begin(), static_cast<char>('0' + digit));
      v /= 10;
    }
    *whole = v;
    return print ? "." + digits : std::string();
  };
  std::string out;
  uint64_t whole;
  if (u < 1000000000ULL) {
    if (u < 1000ULL) {
      out = absl::StrCat(u, "ns");
    } else if (u < 1000000ULL) {
      std::string f = frac(u, 3, &whole);
      out = absl::StrCat(whole, f, "\xC2\xB5s");  // U+00B5 MICRO SIGN, as Go prints
    } else {
      std::string f = frac(u, 6, &whole);
      out = absl::StrCat(whole, f, "ms");
    }
  } else {
    std::string f = frac(u, 9, &whole);
    out = absl::StrCat(whole % 60, f, "s");
    whole /= 60;
    if (whole > 0) {
      out = absl::StrCat(whole % 60, "m", out);
      whole /= 60;
      if (whole > 0) out = absl::StrCat(whole, "h", out);
    }
  }
  return neg ? "-" + out : out;
}

}  // namespace herald
