// Bounds-checked reader for wire formats. Errors are sticky: after the first
// failure every read returns zeros and error() says what went wrong, so a decoder
// can read a whole structure and check once. No read allocates more than remains.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace argus {

class ByteReader {
public:
    explicit ByteReader(ByteSpan data) : data_(data) {}

    std::uint8_t read_u8();
    std::uint16_t read_u16_le();
    std::uint32_t read_u32_le();
    std::uint64_t read_u64_le();
    std::uint16_t read_u16_be();
    std::uint32_t read_u32_be();
    std::uint64_t read_u64_be();
    // Bitcoin CompactSize; rejects non-canonical encodings and values above `limit`.
    std::uint64_t read_compact_size(std::uint64_t limit = 0x02000000);
    Bytes read_bytes(std::size_t size);
    // CompactSize length prefix followed by that many bytes.
    Bytes read_var_bytes(std::uint64_t limit = 0x02000000);
    template <std::size_t N>
    ByteArray<N> read_array() {
        ByteArray<N> out{};
        if (take(N)) std::copy(data_.begin() + static_cast<std::ptrdiff_t>(offset_ - N),
                               data_.begin() + static_cast<std::ptrdiff_t>(offset_), out.begin());
        return out;
    }
    std::uint8_t peek_u8() const { return remaining() > 0 && ok() ? data_[offset_] : 0; }

    std::size_t remaining() const { return data_.size() - offset_; }
    std::size_t offset() const { return offset_; }
    // The input between two offsets already read (from <= to <= offset()).
    ByteSpan consumed(std::size_t from, std::size_t to) const { return data_.subspan(from, to - from); }
    bool ok() const { return !error_.has_value(); }
    const Error& error() const { return *error_; }
    void fail(ErrorCode code, std::string message);
    // Fails with trailing_data unless everything was consumed.
    void expect_end(const char* what);

private:
    bool take(std::size_t size);

    ByteSpan data_;
    std::size_t offset_ = 0;
    std::optional<Error> error_;
};

class ByteWriter {
public:
    void write_u8(std::uint8_t v) { out_.push_back(v); }
    void write_u16_le(std::uint16_t v);
    void write_u32_le(std::uint32_t v);
    void write_u64_le(std::uint64_t v);
    void write_u16_be(std::uint16_t v);
    void write_u32_be(std::uint32_t v);
    void write_u64_be(std::uint64_t v);
    void write_compact_size(std::uint64_t v);
    void write_bytes(ByteSpan data) { append(out_, data); }
    void write_var_bytes(ByteSpan data) {
        write_compact_size(data.size());
        write_bytes(data);
    }
    const Bytes& bytes() const& { return out_; }
    Bytes&& take() && { return std::move(out_); }

private:
    Bytes out_;
};

std::size_t compact_size_length(std::uint64_t v);

}  // namespace argus
