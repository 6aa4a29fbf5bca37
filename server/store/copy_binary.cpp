#include "server/store/copy_binary.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace argus::store {

namespace {

// "PGCOPY\n\377\r\n\0": the binary COPY signature.
constexpr std::array<std::uint8_t, 11> signature = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
constexpr std::size_t header_size = signature.size() + 4 + 4;  // signature, flags, extension length
constexpr std::uint32_t oids_flag = std::uint32_t{1} << 16;    // rows carry OIDs: not what was asked
constexpr std::uint32_t critical_flags = 0xffff0000u;          // an unknown one must be refused
constexpr std::size_t row_size = 2 + 4 + 8;                    // field count, length, bigint

std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::int64_t be64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
    return static_cast<std::int64_t>(v);
}

}  // namespace

Result<std::size_t> BigintCopyDecoder::decode(const std::uint8_t* data, std::size_t size,
                                              std::vector<std::int64_t>& out) {
    std::size_t at = 0;
    if (state_ == State::signature) {
        if (size < header_size) return std::size_t{0};
        if (!std::equal(signature.begin(), signature.end(), data)) {
            return make_error(ErrorCode::malformed, "COPY binary: no PGCOPY signature");
        }
        std::uint32_t flags = be32(data + signature.size());
        if ((flags & oids_flag) != 0 || (flags & critical_flags) != 0) {
            return make_error(ErrorCode::malformed, "COPY binary: unexpected header flags");
        }
        pending_extension_ = be32(data + signature.size() + 4);
        at = header_size;
        state_ = State::header_extension;
    }
    if (state_ == State::header_extension) {
        std::size_t skip = std::min<std::size_t>(pending_extension_, size - at);
        at += skip;
        pending_extension_ -= static_cast<std::uint32_t>(skip);
        if (pending_extension_ != 0) return at;
        state_ = State::rows;
    }
    while (state_ == State::rows && size - at >= 2) {
        std::uint16_t fields = be16(data + at);
        if (fields == 0xffff) {  // the trailer: -1 as int16
            at += 2;
            state_ = State::done;
            break;
        }
        if (fields != 1) return make_error(ErrorCode::malformed, "COPY binary: a row of other than one field");
        if (size - at < 6) break;
        if (be32(data + at + 2) != 8) return make_error(ErrorCode::malformed, "COPY binary: a field that is not a bigint");
        if (size - at < row_size) break;
        out.push_back(be64(data + at + 6));
        at += row_size;
    }
    if (state_ == State::done && at != size) return make_error(ErrorCode::trailing_data, "COPY binary: data after the trailer");
    return at;
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
