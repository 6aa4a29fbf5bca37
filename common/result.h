// Typed, exception-free results for expected failures (bad input, peer gone).
// Bugs use assertions instead; see STYLE.md "Three kinds of failure".
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace argus {

enum class ErrorCode {
    invalid_hex,
    invalid_encoding,  // zbase32, bech32 characters, mixed case
    invalid_checksum,
    truncated,
    trailing_data,
    oversized,
    malformed,
    invalid_key,
    invalid_signature,
    invalid_argument,
    decryption_failed,
    inconsistent_secret,  // shachain: a secret that does not derive earlier ones
    unavailable,          // a dependency (database, bitcoind) cannot be reached
    storage,              // the store refused or failed an operation
    not_found,
};

const char* to_string(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::malformed;
    std::string message;
};

template <class T, class E = Error>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
    Result(E error) : state_(std::move(error)) {}  // NOLINT

    bool has_value() const { return state_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const E& error() const { return std::get<1>(state_); }

private:
    std::variant<T, E> state_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
public:
    Result() = default;
    Result(E error) : error_(std::move(error)), ok_(false) {}  // NOLINT

    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const E& error() const { return error_; }

private:
    E error_{};
    bool ok_ = true;
};

using Status = Result<void>;

inline Error make_error(ErrorCode code, std::string message) {
    return Error{code, std::move(message)};
}

}  // namespace argus
