// HTTP/1.1 server on Boost.Beast: a fixed pool of threads running one
// io_context, each connection on its own strand (never a thread per
// connection). Keep-alive, per-route body limits, request and idle timeouts, a
// minimum receive rate, a cap on open connections (at the cap the stalest
// connection is evicted, see ConnectionTable) and per source, optional TLS.
// Handlers may answer from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "net/connection_table.h"

namespace argus::api {

enum class Method { get, post, del, other };

struct HttpRequest {
    Method method = Method::other;
    std::string target;
    std::string body;
    std::string authorization;  // the Authorization header, if any
    std::string remote_address;
};

struct HttpResponse {
    unsigned status = 200;
    std::string body;
    std::string content_type = "application/json";
};

using Reply = std::function<void(HttpResponse)>;  // call exactly once, from any thread

class Router {
public:
    virtual ~Router() = default;
    // Largest body accepted for this route; bigger requests get 413 and a close.
    virtual std::size_t body_limit(Method method, std::string_view target) const = 0;
    virtual void handle(HttpRequest request, Reply reply) = 0;
};

struct TlsOptions {
    std::string certificate_chain_file;
    std::string private_key_file;
};

struct HttpServerOptions {
    std::string address = "127.0.0.1";
    std::uint16_t port = 9814;  // 0 picks a free port
    std::size_t threads = 2;
    std::size_t max_connections = 1024;  // at the cap the stalest connection is evicted
    std::size_t max_connections_per_source = 64;  // 0: no limit; see ConnectionLimits
    bool limit_loopback_sources = false;
    std::chrono::milliseconds request_timeout{10'000};  // to receive a whole request
    std::chrono::milliseconds idle_timeout{30'000};     // between keep-alive requests
    // Slow senders: once `receive_rate_grace` has passed since a request began
    // (its first byte; for a connection's first request, the accept or the TLS
    // handshake's end), the bytes received of it must average at least
    // `min_receive_rate` bytes/s, or the connection is closed. 0: no rule.
    // 128 B/s after 5 s: a request up to 640 bytes just has to arrive within
    // 5 s, a larger one must keep averaging 128 B/s until the request timeout;
    // a phone on GPRS sends 30x that, and a slow loris is cut after 5 s
    // instead of the request timeout.
    std::size_t min_receive_rate = 128;
    std::chrono::milliseconds receive_rate_grace{5'000};
    std::optional<TlsOptions> tls;
};

class HttpServer {
public:
    HttpServer(HttpServerOptions options, Router& router);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    Status start();  // binds, listens and starts the threads
    void stop();
    // Graceful stop: no new connections, idle ones closed, requests under way
    // answered (with `Connection: close`) until `timeout`; then stop(). True
    // when every connection had gone by then.
    bool drain(std::chrono::milliseconds timeout);
    // While running (SIGHUP): the connection caps, timeouts and minimum
    // receive rate of `options` apply from now on (address, port, threads
    // and TLS on/off need a restart).
    void reconfigure(const HttpServerOptions& options);
    // New connections use the certificate and key read now; a file that does
    // not load (or a key that does not match) leaves the old ones in place.
    Status reload_tls(const TlsOptions& tls);
    std::uint16_t port() const { return port_; }
    std::size_t open_connections() const;
    std::size_t accepted_connections() const;  // since start, including those closed over the cap
    ConnectionStats connection_stats() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
    std::uint16_t port_ = 0;
};

}  // namespace argus::api
