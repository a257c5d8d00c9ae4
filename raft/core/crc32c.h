// CRC-32C (Castagnoli), the checksum carried by every Raft log entry.
//
// Debian's Abseil 20220623 has no absl/crc and Debian 12 packages no crc32c
// library, hence our own: the SSE4.2 crc32 instruction when the CPU has it
// (checked once at run time), else a table-driven software loop. The software
// CRC was 17 % of the CPU of a full-load Raft benchmark (docs/perf.md).
// Thread-safe.
#ifndef HERALD_RAFT_CORE_CRC32C_H_
#define HERALD_RAFT_CORE_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald::raft {

// Extends `crc` (the CRC of some earlier bytes, 0 for none) with `data`.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
// The software loop alone (tests compare it with the hardware path).
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);
bool Crc32cIsHardwareAccelerated();

inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data.data(), data.size()); }

}  // namespace herald::raft

#endif  // HERALD_RAFT_CORE_CRC32C_H_
