// BOLT #3 per-commitment secret generation and compact storage ("shachain").
#pragma once

#include <array>
#include <optional>

#include "common/bytes.h"
#include "common/result.h"

namespace argus::bolt3 {

// Commitment numbers count down from 2^48 - 1; index is 48 bits.
inline constexpr std::uint64_t max_shachain_index = (std::uint64_t{1} << 48) - 1;

// BOLT #3 generate_from_seed(seed, I).
Hash256 generate_from_seed(const Hash256& seed, std::uint64_t index);

// Stores the counterparty's revealed secrets in 49 slots and can derive any
// earlier one. Rejects a secret that does not derive the secrets stored so far.
class ShachainStore {
public:
    // Secrets must arrive in order: first 2^48 - 1, then 2^48 - 2, ...
    Status insert(std::uint64_t index, const Hash256& secret);
    std::optional<Hash256> lookup(std::uint64_t index) const;
    // The lowest index inserted so far, if any.
    std::optional<std::uint64_t> lowest_index() const;

private:
    struct Entry {
        std::uint64_t index = 0;
        Hash256 secret{};
        bool used = false;
    };
    std::array<Entry, 49> known_{};
    std::optional<std::uint64_t> lowest_;
};

}  // namespace argus::bolt3
