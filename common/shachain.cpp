#include "common/shachain.h"

#include "common/hash.h"

namespace argus::bolt3 {

namespace {
// BOLT #3 derive_secret(base, bits, I): for B in bits - 1 down to 0, if bit B of
// I is set, flip bit B of the value and hash it.
Hash256 derive(Hash256 value, std::uint64_t index, int bits) {
    for (int b = bits - 1; b >= 0; --b) {
        if ((index >> b) & 1) {
            value[static_cast<std::size_t>(b / 8)] ^= static_cast<std::uint8_t>(1u << (b % 8));
            value = sha256(value);
        }
    }
    return value;
}

// Number of trailing zero bits (0..48): the slot an index lives in.
int where_to_put(std::uint64_t index) {
    for (int b = 0; b < 48; ++b) {
        if ((index >> b) & 1) return b;
    }
    return 48;
}
}  // namespace

Hash256 generate_from_seed(const Hash256& seed, std::uint64_t index) {
    return derive(seed, index, 48);
}

Status ShachainStore::insert(std::uint64_t index, const Hash256& secret) {
    if (index > max_shachain_index) {
        return make_error(ErrorCode::invalid_argument, "shachain index above 2^48 - 1");
    }
    if (lowest_ && index != *lowest_ - 1) {
        return make_error(ErrorCode::invalid_argument,
                          "shachain secrets must arrive in descending order");
    }
    int slot = where_to_put(index);
    // BOLT #3: every lower slot must be derivable from the new secret.
    for (int i = 0; i < slot; ++i) {
        const Entry& e = known_[static_cast<std::size_t>(i)];
        if (!e.used) continue;
        if (derive(secret, e.index, slot) != e.secret) {
            return make_error(ErrorCode::inconsistent_secret,
                              "secret for index " + std::to_string(index) +
                                  " does not derive the secret for index " +
                                  std::to_string(e.index));
        }
    }
    known_[static_cast<std::size_t>(slot)] = Entry{index, secret, true};
    lowest_ = index;
    return {};
}

std::optional<Hash256> ShachainStore::lookup(std::uint64_t index) const {
    for (int i = 0; i < 49; ++i) {
        const Entry& e = known_[static_cast<std::size_t>(i)];
        if (!e.used) continue;
        // BOLT #3 derive_old_secret: slot i covers every index sharing its bits above i.
        std::uint64_t mask = ~((std::uint64_t{1} << i) - 1);
        if ((index & mask) == e.index) return derive(e.secret, index, i);
    }
    return std::nullopt;
}

std::optional<std::uint64_t> ShachainStore::lowest_index() const { return lowest_; }

}  // namespace argus::bolt3
