#include "common/byte_reader.h"

namespace argus {

bool ByteReader::take(std::size_t size) {
    if (!ok()) return false;
    if (size > remaining()) {
        fail(ErrorCode::truncated, "needed " + std::to_string(size) + " bytes at offset " +
                                       std::to_string(offset_) + ", " +
                                       std::to_string(remaining()) + " remain");
        return false;
    }
    offset_ += size;
    return true;
}

void ByteReader::fail(ErrorCode code, std::string message) {
    if (ok()) error_ = Error{code, std::move(message)};
}

void ByteReader::expect_end(const char* what) {
    if (ok() && remaining() != 0) {
        fail(ErrorCode::trailing_data,
             std::to_string(remaining()) + " trailing bytes after " + what);
    }
}

namespace {
template <class T>
T load_le(const std::uint8_t* p) {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(T{p[i]} << (8 * i));
    return v;
}
template <class T>
T load_be(const std::uint8_t* p) {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | p[i]);
    return v;
}
}  // namespace

#define ARGUS_READ(name, type, loader)                                   \
    type ByteReader::name() {                                            \
        if (!take(sizeof(type))) return 0;                               \
        return loader<type>(data_.data() + offset_ - sizeof(type));      \
    }
ARGUS_READ(read_u16_le, std::uint16_t, load_le)
ARGUS_READ(read_u32_le, std::uint32_t, load_le)
ARGUS_READ(read_u64_le, std::uint64_t, load_le)
ARGUS_READ(read_u16_be, std::uint16_t, load_be)
ARGUS_READ(read_u32_be, std::uint32_t, load_be)
ARGUS_READ(read_u64_be, std::uint64_t, load_be)
#undef ARGUS_READ

std::uint8_t ByteReader::read_u8() {
    if (!take(1)) return 0;
    return data_[offset_ - 1];
}

std::uint64_t ByteReader::read_compact_size(std::uint64_t limit) {
    std::uint8_t first = read_u8();
    std::uint64_t value = first;
    std::uint64_t minimum = 0;
    if (first == 0xfd) {
        value = read_u16_le();
        minimum = 0xfd;
    } else if (first == 0xfe) {
        value = read_u32_le();
        minimum = 0x10000;
    } else if (first == 0xff) {
        value = read_u64_le();
        minimum = 0x100000000ULL;
    }
    if (!ok()) return 0;
    if (value < minimum) {
        fail(ErrorCode::malformed, "non-canonical CompactSize");
        return 0;
    }
    if (value > limit) {
        fail(ErrorCode::oversized,
             "CompactSize " + std::to_string(value) + " exceeds limit " + std::to_string(limit));
        return 0;
    }
    return value;
}

Bytes ByteReader::read_bytes(std::size_t size) {
    if (!take(size)) return {};
    auto begin = data_.begin() + static_cast<std::ptrdiff_t>(offset_ - size);
    return Bytes(begin, begin + static_cast<std::ptrdiff_t>(size));
}

Bytes ByteReader::read_var_bytes(std::uint64_t limit) {
    std::uint64_t size = read_compact_size(limit);
    if (!ok()) return {};
    // The length was bounded by `limit`; take() bounds it again by what is left,
    // so a lying length field never drives the allocation.
    return read_bytes(static_cast<std::size_t>(size));
}

void ByteWriter::write_u16_le(std::uint16_t v) {
    for (int i = 0; i < 2; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void ByteWriter::write_u32_le(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void ByteWriter::write_u64_le(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void ByteWriter::write_u16_be(std::uint16_t v) {
    for (int i = 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void ByteWriter::write_u32_be(std::uint32_t v) {
    for (int i = 3; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void ByteWriter::write_u64_be(std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void ByteWriter::write_compact_size(std::uint64_t v) {
    if (v < 0xfd) {
        write_u8(static_cast<std::uint8_t>(v));
    } else if (v <= 0xffff) {
        write_u8(0xfd);
        write_u16_le(static_cast<std::uint16_t>(v));
    } else if (v <= 0xffffffff) {
        write_u8(0xfe);
        write_u32_le(static_cast<std::uint32_t>(v));
    } else {
        write_u8(0xff);
        write_u64_le(v);
    }
}

std::size_t compact_size_length(std::uint64_t v) {
    if (v < 0xfd) return 1;
    if (v <= 0xffff) return 3;
    if (v <= 0xffffffff) return 5;
    return 9;
}

}  // namespace argus
