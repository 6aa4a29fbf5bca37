#include "tests/support/wtclient/tcp_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace argus::test::wtclient {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

Error unavailable(const std::string& what) {
    return make_error(ErrorCode::unavailable, what);
}

// Waits for `events` on fd until deadline: 1 ready, 0 timeout, -1 error.
int wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, remaining_ms(deadline));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return -1;
        return rc == 0 ? 0 : 1;
    }
}

}  // namespace

Result<TcpConnection> TcpConnection::connect(const std::string& host, std::uint16_t port,
                                             std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string service = std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
        return unavailable("cannot resolve " + host + ": " + gai_strerror(rc));
    }
    const auto deadline = Clock::now() + timeout;
    std::string last_error = "no address";
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                          a->ai_protocol);
        if (fd < 0) continue;
        int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            if (wait_for(fd, POLLOUT, deadline) == 1) {
                int err = 0;
                socklen_t len = sizeof err;
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                rc = err == 0 ? 0 : -1;
                if (err != 0) errno = err;
            } else {
                errno = ETIMEDOUT;
            }
        }
        if (rc == 0) {
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ::freeaddrinfo(found);
            return TcpConnection(fd, timeout);
        }
        last_error = std::strerror(errno);
        ::close(fd);
    }
    ::freeaddrinfo(found);
    return unavailable("cannot connect to " + host + ":" + service + ": " + last_error);
}

TcpConnection::TcpConnection(TcpConnection&& other) noexcept
    : fd_(other.fd_), timeout_(other.timeout_) {
    other.fd_ = -1;
}

TcpConnection& TcpConnection::operator=(TcpConnection&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = other.fd_;
        timeout_ = other.timeout_;
        other.fd_ = -1;
    }
    return *this;
}

TcpConnection::~TcpConnection() { close(); }

void TcpConnection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

Status TcpConnection::write_all(ByteSpan data) {
    if (fd_ < 0) return unavailable("connection closed");
    const auto deadline = Clock::now() + timeout_;
    std::size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_for(fd_, POLLOUT, deadline) != 1) return unavailable("write timed out");
            continue;
        }
        return unavailable(std::string("write failed: ") + std::strerror(errno));
    }
    return {};
}

Result<Bytes> TcpConnection::read_exact(std::size_t size) {
    if (fd_ < 0) return unavailable("connection closed");
    const auto deadline = Clock::now() + timeout_;
    Bytes out(size);
    std::size_t got = 0;
    while (got < size) {
        ssize_t n = ::recv(fd_, out.data() + got, size - got, 0);
        if (n > 0) {
            got += static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0) {
            return unavailable("peer closed the connection after " + std::to_string(got) + " of " +
                               std::to_string(size) + " bytes");
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_for(fd_, POLLIN, deadline) != 1) {
                return unavailable("read timed out after " + std::to_string(got) + " of " +
                                   std::to_string(size) + " bytes");
            }
            continue;
        }
        return unavailable(std::string("read failed: ") + std::strerror(errno));
    }
    return out;
}

bool TcpConnection::closed_by_peer(std::chrono::milliseconds wait) {
    if (fd_ < 0) return true;
    const auto deadline = Clock::now() + wait;
    std::uint8_t buffer[4096];
    for (;;) {
        ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n == 0) return true;
        if (n > 0) continue;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_for(fd_, POLLIN, deadline);
            if (rc == 0) return false;
            if (rc < 0) return true;
            continue;
        }
        return true;  // ECONNRESET and friends: the peer is gone
    }
}

}  // namespace argus::test::wtclient
