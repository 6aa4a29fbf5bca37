#include "server/store/copy_binary.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "common/byte_reader.h"

namespace argus::store {

namespace {

// "PGCOPY\n\377\r\n\0": the binary COPY signature.
constexpr std::array<std::uint8_t, 11> signature = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
constexpr std::size_t header_size = signature.size() + 4 + 4;  // signature, flags, extension length
constexpr std::uint32_t oids_flag = std::uint32_t{1} << 16;    // rows carry OIDs: not what was asked
constexpr std::uint32_t critical_flags = 0xffff0000u;          // an unknown one must be refused

}  // namespace

Result<std::size_t> BigintCopyDecoder::decode(const std::uint8_t* data, std::size_t size,
                                              std::vector<std::int64_t>& out) {
    ByteReader in(ByteSpan(data, size));
    if (state_ == State::signature) {
        if (in.remaining() < header_size) return std::size_t{0};
        if (in.read_array<signature.size()>() != signature) {
            return make_error(ErrorCode::malformed, "COPY binary: no PGCOPY signature");
        }
        std::uint32_t flags = in.read_u32_be();
        if ((flags & oids_flag) != 0 || (flags & critical_flags) != 0) {
            return make_error(ErrorCode::malformed, "COPY binary: unexpected header flags");
        }
        pending_extension_ = in.read_u32_be();
        state_ = State::header_extension;
    }
    if (state_ == State::header_extension) {
        std::size_t skip = std::min<std::size_t>(pending_extension_, in.remaining());
        in.read_bytes(skip);
        pending_extension_ -= static_cast<std::uint32_t>(skip);
        if (pending_extension_ != 0) return in.offset();
        state_ = State::rows;
    }
    // A row is consumed only when whole; what is left waits for the next feed.
    while (state_ == State::rows && in.remaining() >= 2) {
        std::size_t row_start = in.offset();
        std::uint16_t fields = in.read_u16_be();
        if (fields == 0xffff) {  // the trailer: -1 as int16
            state_ = State::done;
            break;
        }
        if (fields != 1) return make_error(ErrorCode::malformed, "COPY binary: a row of other than one field");
        if (in.remaining() < 4) return row_start;
        if (in.read_u32_be() != 8) return make_error(ErrorCode::malformed, "COPY binary: a field that is not a bigint");
        if (in.remaining() < 8) return row_start;
        out.push_back(static_cast<std::int64_t>(in.read_u64_be()));
    }
    if (state_ == State::done && in.remaining() != 0) {
        return make_error(ErrorCode::trailing_data, "COPY binary: data after the trailer");
    }
    return in.offset();
}

Status BigintCopyDecoder::feed(ByteSpan bytes, std::vector<std::int64_t>& out) {
    if (state_ == State::failed) return make_error(ErrorCode::malformed, "COPY binary: the stream already failed");
    if (state_ == State::done) {
        if (bytes.empty()) return {};
        state_ = State::failed;
        return make_error(ErrorCode::trailing_data, "COPY binary: data after the trailer");
    }
    Result<std::size_t> used = std::size_t{0};
    if (pending_.empty()) {
        // The usual case, a message of whole rows: decoded where it lies.
        used = decode(bytes.data(), bytes.size(), out);
        if (used) pending_.assign(bytes.begin() + static_cast<std::ptrdiff_t>(*used), bytes.end());
    } else {
        pending_.insert(pending_.end(), bytes.begin(), bytes.end());
        used = decode(pending_.data(), pending_.size(), out);
        if (used) pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(*used));
    }
    if (!used) {
        state_ = State::failed;
        pending_.clear();
        return used.error();
    }
    return {};
}

}  // namespace argus::store
