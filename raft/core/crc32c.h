// CRC-32C (Castagnoli), the checksum carried by every Raft log entry.
//
// A small table-driven software implementation: Debian's Abseil 20220623 has no
// absl/crc, and entries are small enough that hardware acceleration would not
// matter next to an fsync. Thread-safe (the table is built once, immutably).
#ifndef HERALD_RAFT_CORE_CRC32C_H_
#define HERALD_RAFT_CORE_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald::raft {

// Extends `crc` (the CRC of some earlier bytes, 0 for none) with `data`.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data.data(), data.size()); }

}  // namespace herald::raft

#endif  // HERALD_RAFT_CORE_CRC32C_H_
