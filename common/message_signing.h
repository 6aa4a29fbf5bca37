// Lightning message signing, as Core Lightning's signmessage and lnd's
// signmessage: zbase32([31 + recid] || r || s) over
// SHA256d("Lightning Signed Message:" || message).
#pragma once

#include <string>
#include <string_view>

#include "common/keys.h"

namespace argus {

Hash256 lightning_message_digest(ByteSpan message);
std::string sign_message(const PrivateKey& key, ByteSpan message);
// Recovers the signer; fails on malformed encoding or an unrecoverable signature.
Result<PublicKey> recover_message_signer(ByteSpan message, std::string_view zbase32_signature);

}  // namespace argus
