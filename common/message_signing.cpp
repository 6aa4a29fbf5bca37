#include "common/message_signing.h"

#include <cstring>

#include "common/hash.h"
#include "common/zbase32.h"

namespace argus {

namespace {
constexpr std::string_view prefix = "Lightning Signed Message:";
}

Hash256 lightning_message_digest(ByteSpan message) {
    Bytes data(prefix.begin(), prefix.end());
    append(data, message);
    return sha256d(data);
}

std::string sign_message(const PrivateKey& key, ByteSpan message) {
    RecoverableSignature sig = ecdsa_sign_recoverable(key, lightning_message_digest(message));
    Bytes raw;
    raw.reserve(65);
    // 31 = 27 + 4: the "compressed public key" header byte of Bitcoin's signmessage.
    raw.push_back(static_cast<std::uint8_t>(31 + sig.recovery_id));
    append(raw, sig.compact);
    return zbase32_encode(raw);
}

Result<PublicKey> recover_message_signer(ByteSpan message, std::string_view zbase32_signature) {
    if (zbase32_signature.size() != 104) {
        return make_error(ErrorCode::invalid_signature,
                          "signature must be 104 z-base-32 characters");
    }
    auto raw = zbase32_decode(zbase32_signature);
    if (!raw) return raw.error();
    if (raw->size() != 65) {
        return make_error(ErrorCode::invalid_signature, "signature must decode to 65 bytes");
    }
    int header = (*raw)[0];
    if (header < 31 || header > 34) {
        // 27..30 would claim an uncompressed key; Lightning always uses compressed keys.
        return make_error(ErrorCode::invalid_signature, "signature header byte out of range");
    }
    RecoverableSignature sig;
    std::memcpy(sig.compact.data(), raw->data() + 1, 64);
    sig.recovery_id = header - 31;
    return ecdsa_recover(lightning_message_digest(message), sig);
}

}  // namespace argus
