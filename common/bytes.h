// Byte containers shared by every protocol module.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace argus {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;
template <std::size_t N>
using ByteArray = std::array<std::uint8_t, N>;

using Hash256 = ByteArray<32>;
using Hash160 = ByteArray<20>;

inline ByteSpan as_bytes(std::string_view text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

inline void append(Bytes& out, ByteSpan data) { out.insert(out.end(), data.begin(), data.end()); }

template <std::size_t N>
ByteArray<N> reversed(const ByteArray<N>& in) {
    ByteArray<N> out;
    for (std::size_t i = 0; i < N; ++i) out[i] = in[N - 1 - i];
    return out;
}

// Constant-time equality for secrets, MACs and tokens.
bool constant_time_equal(ByteSpan a, ByteSpan b);

// Overwrites a secret buffer in a way the optimiser may not drop.
void secure_wipe(void* data, std::size_t size);

}  // namespace argus
