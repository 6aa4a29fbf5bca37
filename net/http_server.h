// HTTP/1.1 server on Boost.Beast: a fixed pool of threads running one
// io_context, each connection on its own strand (never a thread per
// connection). Keep-alive, per-route body limits, request and idle timeouts, a
// cap on open connections, optional TLS. Handlers may answer from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"

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
    std::size_t max_connections = 1024;
    std::chrono::milliseconds request_timeout{10'000};  // to receive a whole request
    std::chrono::milliseconds idle_timeout{30'000};     // between keep-alive requests
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
    std::uint16_t port() const { return port_; }
    std::size_t open_connections() const;
    std::size_t accepted_connections() const;  // since start, including those closed over the cap

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
    std::uint16_t port_ = 0;
};

}  // namespace argus::api
