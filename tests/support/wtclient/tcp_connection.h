// A blocking TCP connection with per-call timeouts (POSIX sockets and poll), for
// the test client. Every failure is a returned Error, never an exception.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace argus::test::wtclient {

class TcpConnection {
public:
    // Resolves `host` (numeric or name) and connects within `timeout`.
    static Result<TcpConnection> connect(const std::string& host, std::uint16_t port,
                                         std::chrono::milliseconds timeout);
    TcpConnection(TcpConnection&& other) noexcept;
    TcpConnection& operator=(TcpConnection&& other) noexcept;
    TcpConnection(const TcpConnection&) = delete;
    TcpConnection& operator=(const TcpConnection&) = delete;
    ~TcpConnection();

    // Writes everything or fails (`unavailable` when the peer is gone or the timeout passes).
    Status write_all(ByteSpan data);
    // Reads exactly `size` bytes; `unavailable` on EOF, reset or timeout.
    Result<Bytes> read_exact(std::size_t size);
    // Reads and discards whatever arrives until the peer closes (true) or `wait`
    // passes with the connection still open (false).
    bool closed_by_peer(std::chrono::milliseconds wait);
    void close();
    bool is_open() const { return fd_ >= 0; }
    void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
    std::chrono::milliseconds timeout() const { return timeout_; }

private:
    TcpConnection(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}
    int fd_ = -1;
    std::chrono::milliseconds timeout_;
};

}  // namespace argus::test::wtclient
