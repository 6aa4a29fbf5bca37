// Hash functions (OpenSSL EVP). Pure functions of their input.
#pragma once

#include <string_view>

#include "common/bytes.h"

namespace argus {

Hash256 sha256(ByteSpan data);
Hash256 sha256d(ByteSpan data);
Hash160 ripemd160(ByteSpan data);
Hash160 hash160(ByteSpan data);  // RIPEMD160(SHA256(data))
Hash256 hmac_sha256(ByteSpan key, ByteSpan data);
// BIP340: SHA256(SHA256(tag) || SHA256(tag) || data)
Hash256 tagged_hash(std::string_view tag, ByteSpan data);

// Incremental SHA256 for messages assembled in pieces (sighash, tagged hashes).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    Sha256& write(ByteSpan data);
    Hash256 finish();

private:
    struct Context;
    Context* context_;
};

}  // namespace argus
