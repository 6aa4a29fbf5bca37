#include "net/http_server.h"

#include <boost/asio/executor_work_guard.hpp>
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
    // with it and release their `table` slots (and TLS state) as they go.
    HttpServerOptions options;
    Router& router;
    ConnectionTable table;
    std::atomic<bool> stopped{false};
    std::atomic<bool> draining{false};
    // New connections take the current context; each session keeps its own
    // alive, so a reload (SIGHUP) never pulls one from under a connection.
    mutable std::mutex tls_mutex;
    std::shared_ptr<ssl::context> tls;
    // What a reload may change while connections run (reconfigure()).
    struct Tunables {
        std::chrono::milliseconds request_timeout;
        std::chrono::milliseconds idle_timeout;
        std::size_t min_receive_rate;
        std::chrono::milliseconds receive_rate_grace;
    };
    mutable std::mutex tunables_mutex;
    Tunables tunables_value;
    Tunables tunables() const {
        std::lock_guard lock(tunables_mutex);
        return tunables_value;
    }
    std::shared_ptr<ssl::context> tls_context() const {
        std::lock_guard lock(tls_mutex);
        return tls;
    }
    net::io_context io;
    // Keeps the threads running while no operation is pending: a request
    // waiting on its router's reply (a group commit) is no asio work, and once
    // a drain closes the acceptor the io_context could otherwise run dry and
    // its threads return with replies still to write. stop() ends it.
    net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
    tcp::acceptor acceptor{io};
    std::vector<std::thread> threads;

    Impl(HttpServerOptions o, Router& r)
        : options(std::move(o)),
          router(r),
          table(ConnectionLimits{options.max_connections, options.max_connections_per_source,
                                 options.limit_loopback_sources}),
          tunables_value{options.request_timeout, options.idle_timeout, options.min_receive_rate,
                         options.receive_rate_grace} {}
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
class Session : public std::enable_shared_from_this<Session<Stream>>, public EvictableConnection {
public:
    Session(Stream stream, HttpServer::Impl& server, std::shared_ptr<ConnectionSlot> slot,
            std::shared_ptr<ssl::context> tls = nullptr)
        : tls_(std::move(tls)), stream_(std::move(stream)), server_(server), slot_(std::move(slot)) {}
    ~Session() override { server_.table.release(slot_); }

    void start() {
        server_.table.bind(slot_, this->weak_from_this());
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            read_request();
        } else {
            beast::get_lowest_layer(stream_).expires_after(server_.tunables().request_timeout);
            stream_.async_handshake(ssl::stream_base::server,
                                    [self = this->shared_from_this()](beast::error_code ec) {
                                        if (ec) return;  // a failed handshake is a clean close
                                        self->read_request();
                                    });
        }
    }

    // At the cap, from the acceptor: close on our own strand.
    void evict() override {
        net::post(stream_.get_executor(), [self = this->shared_from_this()] {
            beast::get_lowest_layer(self->stream_).close();  // cancels the pending read and its timer
        });
    }
    void evict_if_waiting() override {
        net::post(stream_.get_executor(), [self = this->shared_from_this()] {
            if (self->slot_->phase() == ConnectionPhase::waiting) beast::get_lowest_layer(self->stream_).close();
        });
    }

private:
    using Clock = ConnectionTable::Clock;

    // Waits for the next request: the first one counts from now (the accept
    // or the TLS handshake's end), a keep-alive one from its first byte.
    void read_request() {
        parser_.emplace();
        parser_->header_limit(8 * 1024);
        header_done_ = false;
        received_ = 0;
        if (first_) {
            begin_request(Clock::now());
        } else {
            in_request_ = false;
            slot_->enter(ConnectionPhase::waiting, Clock::now());
        }
        read_some();
    }

    void begin_request(Clock::time_point now) {
        in_request_ = true;
        request_start_ = now;
        slot_->enter(ConnectionPhase::receiving, now);
    }

    // The deadline of the next read: the idle timeout between requests; within
    // one, the request timeout or, sooner, the moment the bytes received so
    // far fall below the minimum rate (after the grace).
    void read_some() {
        auto& layer = beast::get_lowest_layer(stream_);
        rate_deadline_ = false;
        auto tunables = server_.tunables();
        if (!in_request_) {
            layer.expires_after(tunables.idle_timeout);
        } else {
            auto deadline = request_start_ + tunables.request_timeout;
            if (std::size_t rate = tunables.min_receive_rate; rate > 0) {
                auto allowed = std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(static_cast<double>(received_) / static_cast<double>(rate)));
                auto slow_at = request_start_ + std::max<Clock::duration>(tunables.receive_rate_grace, allowed);
                if (slow_at < deadline) {
                    deadline = slow_at;
                    rate_deadline_ = true;
                }
            }
            layer.expires_at(deadline);
        }
        http::async_read_some(stream_, buffer_, *parser_,
                              [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                                  self->on_read(ec, n);
                              });
    }

    void on_read(beast::error_code ec, std::size_t n) {
        if (ec == beast::error::timeout && rate_deadline_) {
            server_.table.count_slow_transfer();
            return close();
        }
        if (ec) return fail_read(ec);
        if (n > 0) {
            if (!in_request_) begin_request(Clock::now());
            received_ += n;
        }
        if (!header_done_ && parser_->is_header_done()) {
            header_done_ = true;
            if (!on_header()) return;
        }
        if (parser_->is_done()) return on_request();
        read_some();
    }

    // False when the request was refused.
    bool on_header() {
        first_ = false;
        auto& header = parser_->get();
        Method method = method_of(header.method());
        std::string target(header.target());
        std::size_t limit = server_.router.body_limit(method, target);
        // Beast checks Content-Length against the limit while parsing the
        // header, before we know the route; so check it here, and let the
        // parser's limit catch chunked bodies.
        if (auto length = parser_->content_length(); length && *length > limit) {
            send_and_close(413);
            return false;
        }
        parser_->body_limit(limit);
        return true;
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

    void on_request() {
        slot_->enter(ConnectionPhase::busy, Clock::now());
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
        slot_->enter(ConnectionPhase::busy, Clock::now());
        auto message = std::make_shared<http::response<http::string_body>>(
            static_cast<http::status>(response.status), version_);
        message->set(http::field::server, "argus");
        if (!response.body.empty() || response.status != 200) {
            message->set(http::field::content_type, response.content_type);
        }
        message->body() = std::move(response.body);
        message->keep_alive(keep_alive_ && !server_.stopped && !server_.draining);
        message->prepare_payload();
        beast::get_lowest_layer(stream_).expires_after(server_.tunables().request_timeout);
        http::async_write(stream_, *message,
                          [self = this->shared_from_this(), message](beast::error_code ec, std::size_t) {
                              if (ec || !message->keep_alive()) return self->close();
                              self->read_request();
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

    std::shared_ptr<ssl::context> tls_;  // outlives stream_, which refers to it
    Stream stream_;
    HttpServer::Impl& server_;
    std::shared_ptr<ConnectionSlot> slot_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    bool keep_alive_ = false;
    bool first_ = true;
    unsigned version_ = 11;
    bool in_request_ = false;    // a byte of the current request has arrived (or it is the first)
    bool header_done_ = false;
    bool rate_deadline_ = false;  // the armed deadline is the minimum rate's, not a timeout
    std::size_t received_ = 0;    // bytes of the current request
    Clock::time_point request_start_{};
};

Result<std::shared_ptr<ssl::context>> make_tls_context(const TlsOptions& o) {
    beast::error_code ec;
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    context->use_certificate_chain_file(o.certificate_chain_file, ec);
    if (ec) return make_error(ErrorCode::invalid_argument, "TLS certificate " + o.certificate_chain_file + ": " + ec.message());
    context->use_private_key_file(o.private_key_file, ssl::context::pem, ec);
    if (ec) return make_error(ErrorCode::invalid_argument, "TLS private key " + o.private_key_file + ": " + ec.message());
    // A key that does not belong to the certificate would fail every handshake.
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
        return make_error(ErrorCode::invalid_argument, "TLS private key " + o.private_key_file +
                                                           " does not match the certificate " + o.certificate_chain_file);
    }
    return context;
}

}  // namespace

void HttpServer::Impl::accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
            if (!stopped) accept();
            return;
        }
        beast::error_code ignored;
        auto peer = socket.remote_endpoint(ignored).address().to_string(ignored);
        // At a cap the table evicts the stalest connection to make room.
        auto slot = table.admit(peer, ConnectionTable::Clock::now());
        if (!slot) {
            // Every candidate is busy answering: a clean close, no work done for this peer.
            socket.shutdown(tcp::socket::shutdown_both, ignored);
            socket.close(ignored);
        } else if (auto context = tls_context()) {
            std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *context), *this,
                std::move(slot), context)
                ->start();
        } else {
            std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), *this, std::move(slot))
                ->start();
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
        auto context = make_tls_context(*o.tls);
        if (!context) return context.error();
        impl_->tls = *context;
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

void HttpServer::reconfigure(const HttpServerOptions& o) {
    impl_->table.set_limits(ConnectionLimits{o.max_connections, o.max_connections_per_source, o.limit_loopback_sources});
    std::lock_guard lock(impl_->tunables_mutex);
    impl_->tunables_value = {o.request_timeout, o.idle_timeout, o.min_receive_rate, o.receive_rate_grace};
}

Status HttpServer::reload_tls(const TlsOptions& tls) {
    if (!impl_->tls_context()) return make_error(ErrorCode::invalid_argument, "TLS is off: turning it on needs a restart");
    auto context = make_tls_context(tls);
    if (!context) return context.error();
    std::lock_guard lock(impl_->tls_mutex);
    impl_->tls = *context;
    return {};
}

bool HttpServer::drain(std::chrono::milliseconds timeout) {
    if (!impl_ || impl_->stopped) return true;
    impl_->draining = true;
    net::post(impl_->io, [this] {
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
    });
    // Connections waiting between requests owe nothing: close them now. The
    // others finish their request, are answered with `Connection: close`,
    // and go; whatever is left at the deadline is cut by stop().
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool drained = false;
    while (true) {
        impl_->table.evict_waiting();
        if (impl_->table.open() == 0) {
            drained = true;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    return drained;
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

std::size_t HttpServer::open_connections() const { return impl_->table.open(); }
std::size_t HttpServer::accepted_connections() const { return impl_->table.stats().accepted; }
ConnectionStats HttpServer::connection_stats() const { return impl_->table.stats(); }

}  // namespace argus::api
