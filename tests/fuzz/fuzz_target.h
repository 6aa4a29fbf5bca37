// Each fuzz target defines LLVMFuzzerTestOneInput. A target must never crash,
// leak or hit UB; where a decoder has an encoder, decode -> encode -> equal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/bytes.h"

#define FUZZ_ASSERT(condition) \
    do {                       \
        if (!(condition)) std::abort(); \
    } while (false)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
