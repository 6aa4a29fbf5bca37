#include "common/bytes.h"

#include <openssl/crypto.h>

namespace argus {

bool constant_time_equal(ByteSpan a, ByteSpan b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void secure_wipe(void* data, std::size_t size) { OPENSSL_cleanse(data, size); }

}  // namespace argus
