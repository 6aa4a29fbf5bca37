// Decoder of PostgreSQL's binary COPY stream ("COPY ... TO STDOUT (FORMAT
// binary)", PostgreSQL docs, "COPY", "Binary Format") for rows of one bigint
// column: what the store reads to build the locator index at start-up. Pure:
// bytes in, values out. The stream may arrive split anywhere (the protocol
// does not tie CopyData messages to rows); a partial row is kept for the next
// `feed`. Anything other than the 11-byte signature, a header without the OID
// flag, rows of one 8-byte field and the -1 trailer, in that order, is an
// error, and so is data after the trailer.
#pragma once

#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace argus::store {

class BigintCopyDecoder {
public:
    // Appends the values of the complete rows in `bytes` to `out`.
    Status feed(ByteSpan bytes, std::vector<std::int64_t>& out);
    // The trailer has been read: the stream is complete.
    bool finished() const { return state_ == State::done; }

private:
    enum class State { signature, header_extension, rows, done, failed };
    // Decodes from `data`; returns how many bytes it consumed.
    Result<std::size_t> decode(const std::uint8_t* data, std::size_t size, std::vector<std::int64_t>& out);

    State state_ = State::signature;
    std::uint32_t pending_extension_ = 0;  // header extension bytes still to skip
    std::vector<std::uint8_t> pending_;  // an incomplete piece carried to the next feed
};

}  // namespace argus::store
