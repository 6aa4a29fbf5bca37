// z-base-32 (as used by Lightning message signatures, lnd and Core Lightning).
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace argus {

std::string zbase32_encode(ByteSpan data);
// Rejects characters outside the alphabet and non-zero padding bits.
Result<Bytes> zbase32_decode(std::string_view text);

}  // namespace argus
