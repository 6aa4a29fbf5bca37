#include "net/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/teos_protocol.h"

namespace argus::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
    // Declaration order matters: sessions still queued in `io` are destroyed
    // with it and touch `connections` (and their TLS state) as they go.
    HttpServerOptions options;
    Router& router;
    std::atomic<std::size_t> connections{0};
    std::atomic<std::size_t> accepted{0};
    std::atomic<bool> stopped{false};
    std::optional<ssl::context> tls;
    net::io_context io;
    tcp::acceptor acceptor{io};
    std::vector<std::thread> threads;

    Impl(HttpServerOptions o, Router& r) : options(std::move(o)), router(r) {}
    void accept();
};

namespace {

Method method_of(http::verb v) {
    switch (v) {
        case http::verb::get: return Method::get;
        case http::verb::post: return Method::post;
        case http::verb::delete_: return Method::del;
        default: return Method::other;
    }
}

// Transport-level refusals, shaped as teos errors (INVALID_REQUEST_FORMAT).
std::string reason_json(unsigned status) {
    const char* reason = status == 413 ? "Payload too large" : status == 408 ? "Request timeout" : "Invalid request format";
    return std::string(R"({"error":")") + reason +
           R"(","error_code":)" + std::to_string(teos::error::invalid_request_format) + "}";
}

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
public:
    Session(Stream stream, HttpServer::Impl& server) : stream_(std::move(stream)), server_(server) {}
    ~Session() { --server_.connections; }

    void start() {
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            read_header();
        } else {
            beast::get_lowest_layer(stream_).expires_after(server_.options.request_timeout);
            stream_.async_handshake(ssl::stream_base::server,
                                    [self = this->shared_from_this()](beast::error_code ec) {
                                        if (ec) return;  // a failed handshake is a clean close
                                        self->read_header();
                                    });
        }
    }

private:
    void read_header() {
        parser_.emplace();
        parser_->header_limit(8 * 1024);
        beast::get_lowest_layer(stream_).expires_after(first_ ? server_.options.request_timeout
                                                               : server_.options.idle_timeout);
        http::async_read_header(stream_, buffer_, *parser_,
                                [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                                    self->on_header(ec);
                                });
    }

    void on_header(beast::error_code ec) {
        if (ec) return fail_read(ec);
        first_ = false;
        auto& header = parser_->get();
        Method method = method_of(header.method());
        std::string target(header.target());
        std::size_t limit = server_.router.body_limit(method, target);
        // Beast checks Content-Length against the limit while parsing the
        // header, before we know the route; so check it here, and let the
        // parser's limit catch chunked bodies.
        if (auto length = parser_->content_length(); length && *length > limit) return send_and_close(413);
        parser_->body_limit(limit);
        beast::get_lowest_layer(stream_).expires_after(server_.options.request_timeout);
        http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code e, std::size_t) {
            self->on_body(e);
        });
    }

    void fail_read(beast::error_code ec) {
        if (ec == http::error::body_limit) return send_and_close(413);
        if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == net::error::eof ||
            ec == net::error::connection_reset || ec == net::error::operation_aborted) {
            return close();
        }
        // Any other parse error (bad method, bad header, header too large...) is
        // the client's fault: answer 400 and close.
        if (ec.category() == beast::error_code(http::error::bad_method).category()) return send_and_close(400);
        close();
    }

    void on_body(beast::error_code ec) {
        if (ec) return fail_read(ec);
        auto message = parser_->release();
        keep_alive_ = message.keep_alive();
        version_ = message.version();
        HttpRequest request;
        request.method = method_of(message.method());
        request.target = std::string(message.target());
        request.body = std::move(message.body());
        request.authorization = std::string(message[http::field::authorization]);
        beast::error_code ignored;
        auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ignored);
        request.remote_address = endpoint.address().to_string(ignored);
        beast::get_lowest_layer(stream_).expires_never();
        auto self = this->shared_from_this();
        auto executor = stream_.get_executor();
        server_.router.handle(std::move(request), [self, executor](HttpResponse response) {
            net::post(executor, [self, response = std::move(response)]() mutable { self->write(std::move(response)); });
        });
    }

    void write(HttpResponse response) {
        auto message = std::make_shared<http::response<http::string_body>>(
            static_cast<http::status>(response.status), version_);
        message->set(http::field::server, "argus");
        if (!response.body.empty() || response.status != 200) {
            message->set(http::field::content_type, response.content_type);
        }
        message->body() = std::move(response.body);
        message->keep_alive(keep_alive_ && !server_.stopped);
        message->prepare_payload();
        beast::get_lowest_layer(stream_).expires_after(server_.options.request_timeout);
        http::async_write(stream_, *message,
                          [self = this->shared_from_this(), message](beast::error_code ec, std::size_t) {
                              if (ec || !message->keep_alive()) return self->close();
                              self->read_header();
                          });
    }

    void send_and_close(unsigned status) {
        keep_alive_ = false;
        write(HttpResponse{status, reason_json(status)});
    }

    void close() {
        beast::error_code ec;
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        } else {
            beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
        }
    }

    Stream stream_;
    HttpServer::Impl& server_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    bool keep_alive_ = false;
    bool first_ = true;
    unsigned version_ = 11;
};

}  // namespace

void HttpServer::Impl::accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
            if (!stopped) accept();
            return;
        }
        ++accepted;
        if (connections.load() >= options.max_connections) {
            // Over the cap: a clean close, no work done for this peer.
            beast::error_code ignored;
            socket.shutdown(tcp::socket::shutdown_both, ignored);
            socket.close(ignored);
        } else {
            ++connections;
            if (tls) {
                std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                    beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls), *this)
                    ->start();
            } else {
                std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), *this)->start();
            }
        }
        accept();
    });
}

HttpServer::HttpServer(HttpServerOptions options, Router& router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
    auto& o = impl_->options;
    beast::error_code ec;
    auto address = net::ip::make_address(o.address, ec);
    if (ec) return make_error(ErrorCode::invalid_argument, "invalid bind address '" + o.address + "'");
    if (o.tls) {
        impl_->tls.emplace(ssl::context::tls_server);
        impl_->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        impl_->tls->use_certificate_chain_file(o.tls->certificate_chain_file, ec);
        if (ec) return make_error(ErrorCode::invalid_argument, "TLS certificate: " + ec.message());
        impl_->tls->use_private_key_file(o.tls->private_key_file, ssl::context::pem, ec);
        if (ec) return make_error(ErrorCode::invalid_argument, "TLS private key: " + ec.message());
    }
    tcp::endpoint endpoint(address, o.port);
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        return make_error(ErrorCode::unavailable,
                          "cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " + ec.message());
    }
    port_ = acceptor.local_endpoint().port();
    impl_->accept();
    for (std::size_t i = 0; i < std::max<std::size_t>(1, o.threads); ++i) {
        impl_->threads.emplace_back([this] { impl_->io.run(); });
    }
    return {};
}

void HttpServer::stop() {
    if (!impl_ || impl_->stopped.exchange(true)) return;
    net::post(impl_->io, [this] {
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
    });
    impl_->io.stop();
    for (auto& t : impl_->threads) {
        if (t.joinable()) t.join();
    }
}

std::size_t HttpServer::open_connections() const { return impl_->connections.load(); }
std::size_t HttpServer::accepted_connections() const { return impl_->accepted.load(); }

}  // namespace argus::api
