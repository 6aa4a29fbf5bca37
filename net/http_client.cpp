#include "net/http_client.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <algorithm>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "common/version.h"

namespace argus::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

const char* to_string(HttpClientError::Kind kind) {
    switch (kind) {
        case HttpClientError::Kind::resolve: return "resolve";
        case HttpClientError::Kind::connect: return "connect";
        case HttpClientError::Kind::tls: return "tls";
        case HttpClientError::Kind::timeout: return "timeout";
        case HttpClientError::Kind::closed: return "closed";
        case HttpClientError::Kind::malformed: return "malformed";
        case HttpClientError::Kind::too_large: return "too_large";
    }
    return "unknown";
}

struct HttpClient::Connection {
    asio::io_context io;
    std::optional<ssl::context> tls_context;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;

    beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
    void close() {
        beast::error_code ignored;
        lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
        lowest().socket().close(ignored);
    }
};

namespace {

using Handler = std::function<void(beast::error_code)>;

// Runs one asynchronous operation on `io` for at most `timeout`. When the
// deadline passes first, `cancel` aborts the operation, whose handler then
// runs with operation_aborted, and the result is beast::error::timeout.
template <class Start, class Cancel>
beast::error_code run_with_deadline(asio::io_context& io, Clock::duration timeout, Start&& start, Cancel&& cancel) {
    bool done = false;
    beast::error_code result;
    start(Handler([&](beast::error_code ec) {
        done = true;
        result = ec;
    }));
    io.restart();
    if (timeout > Clock::duration::zero()) io.run_for(timeout);
    if (done) return result;
    cancel();
    io.restart();
    io.run();
    return beast::error::timeout;
}

std::string milliseconds(Clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

http::verb verb_of(HttpMethod method) {
    switch (method) {
        case HttpMethod::get: return http::verb::get;
        case HttpMethod::head: return http::verb::head;
        case HttpMethod::post: return http::verb::post;
        case HttpMethod::put: return http::verb::put;
        case HttpMethod::del: return http::verb::delete_;
    }
    return http::verb::get;
}

bool is_ip_literal(const std::string& host) {
    beast::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

// A failure to send a request or read its response. `stale` marks the one
// case worth a second attempt on a new connection: a reused connection the
// server had closed, found so before any byte of the response came back.
struct ExchangeFailure {
    HttpClientError error;
    bool stale = false;
};

bool is_closed(const beast::error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted || ec == asio::error::not_connected ||
           ec == http::error::end_of_stream || ec == http::error::partial_message || ec == ssl::error::stream_truncated;
}

HttpClientError classify(const beast::error_code& ec, const std::string& what, Clock::duration timeout) {
    using Kind = HttpClientError::Kind;
    if (ec == beast::error::timeout) return {Kind::timeout, what + " timed out after " + milliseconds(timeout)};
    if (ec == http::error::body_limit) return {Kind::too_large, what + ": response body over the limit"};
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        return {Kind::too_large, what + ": response header over the limit"};
    }
    if (is_closed(ec)) return {Kind::closed, what + ": the server closed the connection"};
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
        return {Kind::malformed, what + ": not an HTTP/1.x response (" + ec.message() + ")"};
    }
    if (ec.category() == asio::error::get_ssl_category() || ec.category() == ssl::error::get_stream_category()) {
        return {Kind::tls, what + ": " + ec.message()};
    }
    return {Kind::closed, what + ": " + ec.message()};
}

}  // namespace

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {}
HttpClient::~HttpClient() = default;

void HttpClient::disconnect() {
    if (connection_) connection_->close();
    connection_.reset();
}

namespace {

Result<void, HttpClientError> configure_tls(ssl::context& context, const TlsClientOptions& tls,
                                            const std::string& server_name) {
    using Kind = HttpClientError::Kind;
    beast::error_code ec;
    context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                        ec);
    if (tls.insecure_skip_verification) {
        context.set_verify_mode(ssl::verify_none, ec);
        return {};
    }
    context.set_verify_mode(ssl::verify_peer, ec);
    if (tls.pinned_certificate_sha256) {
        // The pin is the whole check: OpenSSL reports the leaf at depth 0 (with
        // whatever chain error it found, e.g. self-signed); accept it only when
        // its fingerprint matches. The handshake proves the peer holds its key.
        ByteArray<32> pin = *tls.pinned_certificate_sha256;
        context.set_verify_callback(
            [pin](bool, ssl::verify_context& verify) {
                X509_STORE_CTX* store = verify.native_handle();
                if (X509_STORE_CTX_get_error_depth(store) != 0) return true;
                X509* certificate = X509_STORE_CTX_get_current_cert(store);
                unsigned char digest[EVP_MAX_MD_SIZE];
                unsigned int length = 0;
                if (certificate == nullptr || X509_digest(certificate, EVP_sha256(), digest, &length) != 1 ||
                    length != pin.size()) {
                    return false;
                }
                return constant_time_equal(ByteSpan(digest, length), pin);
            },
            ec);
        if (ec) return HttpClientError{Kind::tls, "TLS pin: " + ec.message()};
        return {};
    }
    if (tls.ca_file.empty()) {
        context.set_default_verify_paths(ec);
    } else {
        context.load_verify_file(tls.ca_file, ec);
    }
    if (ec) return HttpClientError{Kind::tls, "TLS trust roots " + tls.ca_file + ": " + ec.message()};
    context.set_verify_callback(ssl::host_name_verification(server_name), ec);
    if (ec) return HttpClientError{Kind::tls, "TLS name check: " + ec.message()};
    return {};
}

}  // namespace

Result<HttpClientResponse, HttpClientError> HttpClient::get(const std::string& target,
                                                            const std::string& authorization) {
    return request(HttpClientRequest{HttpMethod::get, target, "", "", authorization});
}

Result<HttpClientResponse, HttpClientError> HttpClient::post(const std::string& target, std::string body,
                                                             const std::string& content_type,
                                                             const std::string& authorization) {
    return request(HttpClientRequest{HttpMethod::post, target, std::move(body), content_type, authorization});
}

Result<HttpClientResponse, HttpClientError> HttpClient::request(const HttpClientRequest& request) {
    using Kind = HttpClientError::Kind;
    const std::string peer = options_.host + ":" + std::to_string(options_.port);

    auto connect = [&]() -> Result<void, HttpClientError> {
        auto c = std::make_unique<Connection>();
        const auto deadline = Clock::now() + options_.connect_timeout;
        auto left = [&] { return deadline - Clock::now(); };

        std::vector<tcp::endpoint> endpoints;
        beast::error_code ec;
        if (is_ip_literal(options_.host)) {
            endpoints.emplace_back(asio::ip::make_address(options_.host), options_.port);
        } else {
            // The system resolver cannot be interrupted: a cancelled lookup still
            // waits for getaddrinfo to return. IP literals skip it.
            tcp::resolver resolver(c->io);
            ec = run_with_deadline(
                c->io, left(),
                [&](Handler done) {
                    resolver.async_resolve(options_.host, std::to_string(options_.port),
                                           [&, done](beast::error_code e, tcp::resolver::results_type r) {
                                               for (const auto& entry : r) endpoints.push_back(entry.endpoint());
                                               done(e);
                                           });
                },
                [&] { resolver.cancel(); });
            if (ec == beast::error::timeout) {
                return HttpClientError{Kind::timeout, "resolve " + options_.host + " timed out after " +
                                                          milliseconds(options_.connect_timeout)};
            }
            if (ec) return HttpClientError{Kind::resolve, "resolve " + options_.host + ": " + ec.message()};
        }

        if (options_.tls) {
            c->tls_context.emplace(ssl::context::tls_client);
            std::string name = options_.tls->server_name.empty() ? options_.host : options_.tls->server_name;
            if (auto ok = configure_tls(*c->tls_context, *options_.tls, name); !ok) return ok.error();
            c->secure.emplace(c->io, *c->tls_context);
            // SNI carries names only, never addresses.
            if (!is_ip_literal(name) && !SSL_set_tlsext_host_name(c->secure->native_handle(), name.c_str())) {
                return HttpClientError{Kind::tls, "TLS: cannot set the server name " + name};
            }
        } else {
            c->plain.emplace(c->io);
        }

        ec = run_with_deadline(
            c->io, left(),
            [&](Handler done) {
                c->lowest().async_connect(endpoints,
                                          [done](beast::error_code e, const tcp::endpoint&) { done(e); });
            },
            [&] { c->close(); });
        if (ec == beast::error::timeout) {
            return HttpClientError{Kind::timeout, "connect to " + peer + " timed out after " +
                                                      milliseconds(options_.connect_timeout)};
        }
        if (ec) return HttpClientError{Kind::connect, "connect to " + peer + ": " + ec.message()};

        if (c->secure) {
            ec = run_with_deadline(
                c->io, left(),
                [&](Handler done) { c->secure->async_handshake(ssl::stream_base::client, done); },
                [&] { c->close(); });
            if (ec == beast::error::timeout) {
                return HttpClientError{Kind::timeout, "TLS handshake with " + peer + " timed out after " +
                                                          milliseconds(options_.connect_timeout)};
            }
            if (ec) return HttpClientError{Kind::tls, "TLS handshake with " + peer + ": " + ec.message()};
        }
        connection_ = std::move(c);
        ++connections_opened_;
        return {};
    };

    auto exchange = [&](Connection& c) -> Result<HttpClientResponse, ExchangeFailure> {
        http::request<http::string_body> message(verb_of(request.method), request.target, 11);
        bool bracket = options_.host.find(':') != std::string::npos;  // an IPv6 literal
        message.set(http::field::host, (bracket ? "[" + options_.host + "]" : options_.host) + ":" +
                                           std::to_string(options_.port));
        message.set(http::field::user_agent, std::string("argus/") + version_string);
        if (!request.content_type.empty()) message.set(http::field::content_type, request.content_type);
        if (!request.authorization.empty()) message.set(http::field::authorization, request.authorization);
        message.keep_alive(options_.keep_alive);
        message.body() = request.body;
        message.prepare_payload();

        auto write = [&](Handler done) {
            auto on_write = [done](beast::error_code e, std::size_t) { done(e); };
            if (c.secure) {
                http::async_write(*c.secure, message, on_write);
            } else {
                http::async_write(*c.plain, message, on_write);
            }
        };
        auto ec = run_with_deadline(c.io, options_.write_timeout, write, [&] { c.close(); });
        if (ec) {
            return ExchangeFailure{classify(ec, "send to " + peer, options_.write_timeout),
                                   ec != beast::error::timeout && is_closed(ec)};
        }

        http::response_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(
            std::min<std::size_t>(options_.max_response_header, std::numeric_limits<std::uint32_t>::max())));
        parser.body_limit(options_.max_response_body);
        if (request.method == HttpMethod::head) parser.skip(true);
        // The header first, then the body, under one deadline. Beast 1.74's
        // eager parse (http::async_read) loses the body_limit error when the
        // body arrives with the header and reads the whole body anyway, so the
        // declared length is checked here before any of the body is read.
        const auto read_deadline = Clock::now() + options_.read_timeout;
        auto read_header = [&](Handler done) {
            auto on_read = [done](beast::error_code e, std::size_t) { done(e); };
            if (c.secure) {
                http::async_read_header(*c.secure, c.buffer, parser, on_read);
            } else {
                http::async_read_header(*c.plain, c.buffer, parser, on_read);
            }
        };
        auto read_body = [&](Handler done) {
            auto on_read = [done](beast::error_code e, std::size_t) { done(e); };
            if (c.secure) {
                http::async_read(*c.secure, c.buffer, parser, on_read);
            } else {
                http::async_read(*c.plain, c.buffer, parser, on_read);
            }
        };
        ec = run_with_deadline(c.io, options_.read_timeout, read_header, [&] { c.close(); });
        if (!ec) {
            if (auto length = parser.content_length(); length && *length > options_.max_response_body) {
                ec = http::error::body_limit;
            } else if (!parser.is_done()) {
                ec = run_with_deadline(c.io, read_deadline - Clock::now(), read_body, [&] { c.close(); });
            }
        }
        if (ec) {
            return ExchangeFailure{classify(ec, "response from " + peer, options_.read_timeout),
                                   ec != beast::error::timeout && is_closed(ec) && !parser.got_some()};
        }
        auto response = parser.release();
        return HttpClientResponse{response.result_int(), std::move(response.body()),
                                  std::string(response[http::field::content_type]), response.keep_alive()};
    };

    for (int attempt = 0;; ++attempt) {
        bool reused = connection_ != nullptr;
        if (!reused) {
            if (auto ok = connect(); !ok) return ok.error();
        }
        auto result = exchange(*connection_);
        if (result) {
            if (!options_.keep_alive || !result->keep_alive) disconnect();
            return std::move(result).value();
        }
        disconnect();
        // One more try on a new connection when the old one had gone stale;
        // never after a timeout (the server may be working on it).
        if (reused && result.error().stale && attempt == 0) continue;
        return result.error().error;
    }
}

}  // namespace argus::net
