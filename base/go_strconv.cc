#include "base/go_strconv.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace herald {
namespace {

// An approximation of Go's unicode.IsPrint for the runes %q escapes: the
// space separators other than ' ', format characters, private use and
// noncharacters in the ranges below. Exact for everything a subject
// realistically holds.
bool GoIsPrint(uint32_t cp) {
  static constexpr uint32_t kRanges[][2] = {
      {0x00a0, 0x00a0}, {0x00ad, 0x00ad},   {0x0600, 0x0605},    {0x061c, 0x061c}, {0x06dd, 0x06dd},
      {0x070f, 0x070f}, {0x1680, 0x1680},   {0x180e, 0x180e},    {0x2000, 0x200f}, {0x2028, 0x202f},
      {0x205f, 0x206f}, {0x3000, 0x3000},   {0xd800, 0xf8ff},    {0xfeff, 0xfeff}, {0xfff9, 0xfffb},
      {0xfffe, 0xffff}, {0xe0000, 0xe007f}, {0xf0000, 0x10ffff},
  };
  for (const auto& r : kRanges) {
    if (cp >= r[0] && cp <= r[1]) return false;
  }
  return true;
}

}  // namespace

std::string GoQuote(absl::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            absl::StrAppendFormat(&out, "\\x%02x", c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8: validate; invalid bytes are escaped one by one.
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= s.size();
    for (size_t j = 1; ok && j < len; ++j) {
      const unsigned char cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok && (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (!ok) {
      absl::StrAppendFormat(&out, "\\x%02x", c);
      ++i;
      continue;
    }
    if (cp < 0xa0 || !GoIsPrint(cp)) {  // C1 controls, format and space chars
      if (cp > 0xffff) {
        absl::StrAppendFormat(&out, "\\U%08x", cp);
      } else {
        absl::StrAppendFormat(&out, "\\u%04x", cp);
      }
    } else {
      out.append(s.data() + i, len);
    }
    i += len;
  }
  out += "\"";
  return out;
}

}  // namespace herald
