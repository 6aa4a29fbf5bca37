// HTTP/1.1 client on Boost.Beast: the one every outgoing request in Argus goes
// through (bitcoind RPC, the client's tower client, both CLIs, the tests).
//
// Blocking facade over asynchronous operations on a private io_context: each
// phase (resolve + connect + TLS handshake, write, read) runs under its own
// deadline and is cancelled when it passes, so a peer that accepts and never
// answers costs at most the timeout. One keep-alive connection, reused while
// the server keeps it open; a reused connection found closed before any byte of
// the response arrived is re-opened and the request sent once more. Responses
// are bounded (header and body). Optional TLS: verified against a CA file or
// the system roots, pinned to a certificate fingerprint (self-signed towers),
// or, only when asked for by name, unverified. Failures are typed values; no
// exception leaves this class. Not thread-safe: one caller at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/bytes.h"
#include "common/result.h"

namespace argus::net {

struct TlsClientOptions {
    // PEM file of trusted roots; empty: the system's default roots.
    std::string ca_file;
    // Name sent as SNI and checked against the certificate; empty: the host.
    std::string server_name;
    // SHA-256 of the server certificate (DER), as `openssl x509 -noout
    // -fingerprint -sha256` prints it. When set it replaces chain and name
    // checks: the peer must present exactly this certificate.
    std::optional<ByteArray<32>> pinned_certificate_sha256;
    // No verification at all. Never the default; for tests and operators who
    // say so explicitly.
    bool insecure_skip_verification = false;

    static TlsClientOptions verified(std::string ca_file = "", std::string server_name = "") {
        TlsClientOptions o;
        o.ca_file = std::move(ca_file);
        o.server_name = std::move(server_name);
        return o;
    }
    static TlsClientOptions pinned(const ByteArray<32>& certificate_sha256) {
        TlsClientOptions o;
        o.pinned_certificate_sha256 = certificate_sha256;
        return o;
    }
    static TlsClientOptions insecure() {
        TlsClientOptions o;
        o.insecure_skip_verification = true;
        return o;
    }
};

struct HttpClientOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 80;
    std::optional<TlsClientOptions> tls;
    std::chrono::milliseconds connect_timeout{5'000};  // resolve, TCP connect and TLS handshake
    std::chrono::milliseconds write_timeout{10'000};   // sending one request
    std::chrono::milliseconds read_timeout{10'000};    // receiving one whole response
    std::size_t max_response_header = 16 * 1024;
    std::size_t max_response_body = 1024 * 1024;
    bool keep_alive = true;  // false: one connection per request
};

enum class HttpMethod { get, head, post, put, del };

struct HttpClientRequest {
    HttpMethod method = HttpMethod::get;
    std::string target = "/";
    std::string body;
    std::string content_type;   // sent when not empty
    std::string authorization;  // the Authorization header, sent when not empty
};

struct HttpClientResponse {
    unsigned status = 0;
    std::string body;
    std::string content_type;
    bool keep_alive = false;  // the server left the connection open
};

struct HttpClientError {
    enum class Kind {
        resolve,    // the host name does not resolve
        connect,    // refused or unreachable
        tls,        // handshake or certificate verification failed
        timeout,    // a phase passed its deadline; the connection is dropped
        closed,     // the server closed the connection before a whole response
        malformed,  // not an HTTP/1.x response
        too_large,  // the response header or body is over its limit
    } kind = Kind::connect;
    std::string message;
};

const char* to_string(HttpClientError::Kind kind);

class HttpClient {
public:
    explicit HttpClient(HttpClientOptions options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    Result<HttpClientResponse, HttpClientError> request(const HttpClientRequest& request);
    Result<HttpClientResponse, HttpClientError> get(const std::string& target, const std::string& authorization = "");
    Result<HttpClientResponse, HttpClientError> post(const std::string& target, std::string body,
                                                     const std::string& content_type = "application/json",
                                                     const std::string& authorization = "");

    const HttpClientOptions& options() const { return options_; }
    // Drops the connection; the next request opens a new one.
    void disconnect();
    // Connections opened so far (tests check keep-alive with it).
    std::size_t connections_opened() const { return connections_opened_; }

private:
    struct Connection;
    HttpClientOptions options_;
    std::unique_ptr<Connection> connection_;
    std::size_t connections_opened_ = 0;
};

}  // namespace argus::net
