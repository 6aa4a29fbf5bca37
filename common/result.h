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
    unsupported,          // the operation does not exist for this backend or build
    conflict,             // another writer changed the record first (read it again, then retry)
    fenced,               // this process is no longer the elected watcher: it may not write
};

const char* to_string(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::malformed;
    std::string message;
};

namespace result_detail {
[[noreturn]] void fail(const char* what);
[[noreturn]] void fail_with(const Error& error);
template <class E>
[[noreturn]] void fail_with(const E&) {
    fail("value() of a Result that holds an error");
}
}  // namespace result_detail

template <class T, class E = Error>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
    Result(E error) : state_(std::move(error)) {}  // NOLINT

    bool has_value() const { return state_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    // Reading the value of an error is a bug, not an outside failure: an
    // always-on check that names the error (as Bitcoin Core's util::Result).
    T& value() & {
        check_value();
        return std::get<0>(state_);
    }
    const T& value() const& {
        check_value();
        return std::get<0>(state_);
    }
    T&& value() && {
        check_value();
        return std::get<0>(std::move(state_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const E& error() const {
        if (has_value()) result_detail::fail("error() of a Result that holds a value");
        return std::get<1>(state_);
    }

private:
    void check_value() const {
        if (!has_value()) result_detail::fail_with(std::get<1>(state_));
    }
    std::variant<T, E> state_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
public:
    Result() = default;
    Result(E error) : error_(std::move(error)), ok_(false) {}  // NOLINT

    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const E& error() const {
        if (ok_) result_detail::fail("error() of a Status that holds success");
        return error_;
    }

private:
    E error_{};
    bool ok_ = true;
};

using Status = Result<void>;

inline Error make_error(ErrorCode code, std::string message) {
    return Error{code, std::move(message)};
}

}  // namespace argus
