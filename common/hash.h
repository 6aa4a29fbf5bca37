// Hash functions (OpenSSL). Pure functions of their input.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "common/bytes.h"

namespace argus {

Hash256 sha256(ByteSpan data);
Hash256 sha256d(ByteSpan data);
// SHA256d of the concatenation of `parts`, without assembling it (a segwit
// transaction's txid from the pieces of its serialization).
Hash256 sha256d_of_parts(std::initializer_list<ByteSpan> parts);
Hash160 ripemd160(ByteSpan data);
Hash160 hash160(ByteSpan data);  // RIPEMD160(SHA256(data))
Hash256 hmac_sha256(ByteSpan key, ByteSpan data);
// BIP340: SHA256(SHA256(tag) || SHA256(tag) || data)
Hash256 tagged_hash(std::string_view tag, ByteSpan data);

// Incremental SHA256 for messages assembled in pieces (sighash, tagged hashes).
class Sha256 {
public:
    Sha256();
    ~Sha256();  // wipes the state: a message in progress may hold secrets
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    Sha256& write(ByteSpan data);
    Hash256 finish();

private:
    // OpenSSL's SHA256_CTX, in place (112 bytes; checked in hash.cpp).
    static constexpr std::size_t state_size = 128;
    alignas(std::uint64_t) unsigned char state_[state_size];
};

}  // namespace argus
