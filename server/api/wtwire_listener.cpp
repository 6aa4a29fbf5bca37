#include "server/api/wtwire_listener.h"

#include <boost/asio.hpp>
#include <mutex>
#include <set>
#include <atomic>
#include <thread>
#include <vector>

#include "common/bolt8.h"
#include "common/wtwire.h"
#include "log/log.h"

namespace argus::api {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Bytes tower_init_features() {
    // lnd wtwire features.go; lnd's own tower sends the first two.
    return wtwire::make_features({wtwire::feature::altruist_sessions_optional, wtwire::feature::anchor_commit_optional,
                                  wtwire::feature::taproot_commit_optional});
}

Status check_remote_init(const Hash256& our_chain, const Hash256& their_chain, ByteSpan their_features) {
    if (!(our_chain == their_chain)) return make_error(ErrorCode::invalid_argument, "remote init has unknown chain hash");
    // lnd feature.ValidateRequired: an unknown even (required) bit is fatal.
    for (unsigned bit = wtwire::feature::taproot_commit_optional + 1; bit < their_features.size() * 8; bit += 2) {
        if (wtwire::has_feature(their_features, bit)) {
            return make_error(ErrorCode::invalid_argument, "remote init requires unknown feature bit " + std::to_string(bit));
        }
    }
    return {};
}

namespace {

struct Counters {
    std::atomic<std::uint64_t> connections{0}, open{0}, handshakes_failed{0}, timeouts{0},
        rate_limited{0}, protocol_errors{0}, duplicate_connections{0}, sessions_created{0}, updates_accepted{0},
        updates_rejected{0}, sessions_deleted{0};
};

struct Shared {
    Shared(tower::TowerService& s, PrivateKey key, const Hash256& chain, WtwireListenerOptions o, Context c)
        : service(s),
          tower_key(std::move(key)),
          chain_hash(chain),
          options(std::move(o)),
          context(c),
          table(ConnectionLimits{options.max_connections, options.max_connections_per_source,
                                 options.limit_loopback_sources}) {}

    // What connections read of the options, a copy under the lock: a reload
    // (reconfigure) changes timeouts and rates while they run.
    WtwireListenerOptions live() const {
        std::lock_guard lock(options_mutex);
        return options;
    }

    tower::TowerService& service;
    PrivateKey tower_key;
    Hash256 chain_hash;
    mutable std::mutex options_mutex;
    WtwireListenerOptions options;
    std::atomic<bool> draining{false};
    Context context;
    Counters counters;
    ConnectionTable table;  // the connection cap, the per-source cap, eviction
    std::mutex mutex;
    std::set<ByteArray<33>> connected;  // session keys with a live connection

    Result<PrivateKey> ephemeral_key() {
        ByteArray<32> bytes{};
        for (int attempt = 0; attempt < 8; ++attempt) {
            if (!context.rng.fill(bytes)) return make_error(ErrorCode::unavailable, "no randomness available");
            auto key = PrivateKey::from_bytes(bytes);
            secure_wipe(bytes.data(), bytes.size());
            if (key) return std::move(*key);
        }
        return make_error(ErrorCode::unavailable, "no valid ephemeral key drawn");
    }
};

class Connection : public std::enable_shared_from_this<Connection>, public EvictableConnection {
public:
    Connection(tcp::socket socket, Shared& shared, std::shared_ptr<ConnectionSlot> slot)
        : socket_(std::move(socket)), timer_(socket_.get_executor()), shared_(shared), slot_(std::move(slot)) {
        ++shared_.counters.open;
    }
    ~Connection() override {
        unregister();
        shared_.table.release(slot_);
        --shared_.counters.open;
    }

    // At the cap, from the acceptor: close on our own executor.
    void evict() override {
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close("evicted"); });
    }
    void evict_if_waiting() override {
        asio::post(socket_.get_executor(), [self = shared_from_this()] {
            if (self->slot_->phase() == ConnectionPhase::waiting) self->close("shutting_down");
        });
    }

    void start() {
        shared_.table.bind(slot_, weak_from_this());
        auto ephemeral = shared_.ephemeral_key();
        if (!ephemeral) return close("no_ephemeral_key");
        responder_.emplace(shared_.tower_key, *ephemeral);
        tokens_ = shared_.live().message_burst;
        last_refill_ = shared_.context.clock.monotonic_now();
        arm(shared_.live().handshake_timeout);
        read_exactly(bolt8::act_one_size, [self = shared_from_this()] { self->on_act_one(); });
    }

private:
    enum class Stage { init, request, updates };

    template <class Then>
    void read_exactly(std::size_t n, Then then) {
        buffer_.resize(n);
        asio::async_read(socket_, asio::buffer(buffer_), [self = shared_from_this(), then](boost::system::error_code ec, std::size_t) {
            if (ec) return self->close("read_failed");
            then();
        });
    }

    template <class Then>
    void write(Bytes bytes, Then then) {
        arm(shared_.live().write_timeout);
        out_ = std::move(bytes);
        asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this(), then](boost::system::error_code ec, std::size_t) {
            if (ec) return self->close("write_failed");
            then();
        });
    }

    void arm(std::chrono::milliseconds timeout) { arm_at(asio::steady_timer::clock_type::now() + timeout, false); }

    // `slow`: the deadline is the minimum receive rate's, not a timeout.
    void arm_at(asio::steady_timer::time_point deadline, bool slow) {
        timer_.expires_at(deadline);
        timer_.async_wait([weak = weak_from_this(), slow](boost::system::error_code ec) {
            if (ec) return;  // re-armed or cancelled
            if (auto self = weak.lock()) {
                if (slow) {
                    self->shared_.table.count_slow_transfer();
                    return self->close("slow_transfer");
                }
                ++self->shared_.counters.timeouts;
                self->close("timeout");  // the pending operation then completes as aborted
            }
        });
    }

    // A message body of `size` bytes: within the read deadline already armed,
    // and within max(grace, size / rate) of its length header.
    void arm_body(std::size_t size) {
        std::size_t rate = shared_.live().min_receive_rate;
        if (rate == 0) return;
        auto allowed = std::chrono::duration_cast<asio::steady_timer::duration>(
            std::chrono::duration<double>(static_cast<double>(size) / static_cast<double>(rate)));
        auto slow_at = asio::steady_timer::clock_type::now() +
                       std::max<asio::steady_timer::duration>(shared_.live().receive_rate_grace, allowed);
        if (slow_at < timer_.expiry()) arm_at(slow_at, true);
    }

    // Before the socket closes: a client that reconnects as soon as it sees
    // the close must not find its old connection still registered.
    void unregister() {
        if (!registered_) return;
        std::lock_guard lock(shared_.mutex);
        shared_.connected.erase(remote_);
        registered_ = false;
    }

    void close(const char* why) {
        if (closed_) return;
        closed_ = true;
        unregister();
        boost::system::error_code ignored;
        timer_.cancel();
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        log_event(LogLevel::debug, "wtwire_connection_closed", {{"reason", why}});
    }

    void fail_handshake() {
        ++shared_.counters.handshakes_failed;
        close("handshake_failed");
    }

    void on_act_one() {
        auto act_two = responder_->read_act_one(buffer_);
        if (!act_two) return fail_handshake();  // BOLT #8: on failure, terminate the connection
        write(std::move(*act_two), [self = shared_from_this()] {
            self->arm(self->shared_.live().handshake_timeout);
            self->read_exactly(bolt8::act_three_size, [self] { self->on_act_three(); });
        });
    }

    void on_act_three() {
        auto transport = responder_->read_act_three(buffer_);
        responder_.reset();
        if (!transport) return fail_handshake();
        transport_.emplace(std::move(*transport));
        remote_ = transport_->remote_static().bytes();
        {
            std::lock_guard lock(shared_.mutex);
            if (!shared_.connected.insert(remote_).second) {
                // lnd wtserver: "Already connected to peer", the new one is dropped.
                ++shared_.counters.duplicate_connections;
                return close("already_connected");
            }
            registered_ = true;
        }
        ++shared_.counters.connections;
        read_message();
    }

    void read_message() {
        // Shutting down: the reply under way was sent, take no next message.
        if (shared_.draining) return close("shutting_down");
        slot_->enter(ConnectionPhase::waiting, shared_.context.clock.monotonic_now());
        arm(shared_.live().read_timeout);
        read_exactly(bolt8::length_header_size, [self = shared_from_this()] {
            auto length = self->transport_->decrypt_length(self->buffer_);
            if (!length) return self->protocol_error("bad length header");
            self->slot_->enter(ConnectionPhase::receiving, self->shared_.context.clock.monotonic_now());
            self->arm_body(*length + aead_tag_size);
            self->read_exactly(*length + aead_tag_size, [self] {
                auto body = self->transport_->decrypt_body(self->buffer_);
                if (!body) return self->protocol_error("bad message body");
                self->on_message(*body);
            });
        });
    }

    bool take_token() {
        auto now = shared_.context.clock.monotonic_now();
        double elapsed = std::chrono::duration<double>(now - last_refill_).count();
        last_refill_ = now;
        auto options = shared_.live();
        tokens_ = std::min(options.message_burst, tokens_ + elapsed * options.messages_per_second);
        if (tokens_ < 1) return false;
        tokens_ -= 1;
        return true;
    }

    void protocol_error(const char* what) {
        ++shared_.counters.protocol_errors;
        log_event(LogLevel::debug, "wtwire_protocol_error", {{"error", what}});
        close("protocol_error");
    }

    void send(const wtwire::Message& message, std::function<void()> then) {
        auto sealed = transport_->encrypt(wtwire::encode(message));
        if (!sealed) return close("encrypt_failed");
        write(std::move(*sealed), std::move(then));
    }

    void on_message(const Bytes& plaintext) {
        timer_.cancel();
        slot_->enter(ConnectionPhase::busy, shared_.context.clock.monotonic_now());
        if (!take_token()) {
            ++shared_.counters.rate_limited;
            return close("rate_limited");
        }
        auto decoded = wtwire::decode(plaintext);
        if (!decoded) return protocol_error("undecodable message");
        wtwire::Message& message = *decoded;
        auto self = shared_from_this();
        switch (stage_) {
            case Stage::init: {
                // lnd wtserver: the first message must be Init; ours is sent, then theirs checked.
                auto* init = std::get_if<wtwire::Init>(&message);
                if (!init) return protocol_error("first message is not Init");
                Status compatible = check_remote_init(shared_.chain_hash, init->chain_hash, init->features);
                send(wtwire::Init{tower_init_features(), shared_.chain_hash}, [self, compatible] {
                    if (!compatible) return self->protocol_error("incompatible Init");
                    self->stage_ = Stage::request;
                    self->read_message();
                });
                return;
            }
            case Stage::request:
                if (auto* create = std::get_if<wtwire::CreateSession>(&message)) return on_create(*create);
                if (std::holds_alternative<wtwire::DeleteSession>(message)) return on_delete();
                if (auto* update = std::get_if<wtwire::StateUpdate>(&message)) return on_update(std::move(*update));
                return protocol_error("unexpected message");
            case Stage::updates:
                // lnd wtserver: "client sent %T after StateUpdate".
                if (auto* update = std::get_if<wtwire::StateUpdate>(&message)) return on_update(std::move(*update));
                return protocol_error("not a StateUpdate after StateUpdate");
        }
    }

    // Replies arrive on the committer thread: back onto this connection's executor.
    template <class F>
    auto on_executor(F f) {
        return [self = shared_from_this(), f = std::move(f)](tower::WtwireReply reply) mutable {
            asio::post(self->socket_.get_executor(), [self, f = std::move(f), reply = std::move(reply)]() mutable {
                f(std::move(reply));
            });
        };
    }

    void on_create(const wtwire::CreateSession& request) {
        PublicKey key = transport_->remote_static();
        shared_.service.create_session(key, request, on_executor([this](tower::WtwireReply reply) {
            if (reply.code == wtwire::code::ok) ++shared_.counters.sessions_created;
            auto self = shared_from_this();
            // lnd wtserver: one CreateSession per connection; the connection ends after the reply.
            send(wtwire::CreateSessionReply{reply.code, reply.last_applied, std::move(reply.data)},
                 [self] { self->close("create_session_done"); });
        }));
    }

    void on_delete() {
        PublicKey key = transport_->remote_static();
        shared_.service.delete_session(key, on_executor([this](tower::WtwireReply reply) {
            if (reply.code == wtwire::code::ok) ++shared_.counters.sessions_deleted;
            auto self = shared_from_this();
            send(wtwire::DeleteSessionReply{reply.code}, [self] { self->close("delete_session_done"); });
        }));
    }

    void on_update(wtwire::StateUpdate update) {
        PublicKey key = transport_->remote_static();
        bool complete = update.is_complete == 1;
        shared_.service.state_update(key, std::move(update), on_executor([this, complete](tower::WtwireReply reply) {
            bool ok = reply.code == wtwire::code::ok;
            ++(ok ? shared_.counters.updates_accepted : shared_.counters.updates_rejected);
            auto self = shared_from_this();
            send(wtwire::StateUpdateReply{reply.code, reply.last_applied}, [self, ok, complete] {
                // lnd wtserver: a failure code ends the connection, as does is_complete.
                if (!ok || complete) return self->close(ok ? "updates_complete" : "update_rejected");
                self->stage_ = Stage::updates;
                self->read_message();
            });
        }));
    }

    tcp::socket socket_;
    asio::steady_timer timer_;
    Shared& shared_;
    std::shared_ptr<ConnectionSlot> slot_;
    std::optional<bolt8::Responder> responder_;
    std::optional<bolt8::Transport> transport_;
    ByteArray<33> remote_{};
    bool registered_ = false;
    bool closed_ = false;
    Stage stage_ = Stage::init;
    Bytes buffer_;
    Bytes out_;
    double tokens_ = 0;
    std::chrono::steady_clock::time_point last_refill_{};
};

}  // namespace

struct WtwireListener::Impl {
    Impl(tower::TowerService& service, PrivateKey key, const Hash256& chain, WtwireListenerOptions options, Context context)
        : shared(service, std::move(key), chain, std::move(options), context),
          io(static_cast<int>(std::max<std::size_t>(1, shared.options.threads))),
          acceptor(io) {}

    void accept() {
        acceptor.async_accept(asio::make_strand(io), [this](boost::system::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                boost::system::error_code ignored;
                auto peer = socket.remote_endpoint(ignored).address().to_string(ignored);
                // At a cap the table evicts the stalest connection to make room.
                if (auto slot = shared.table.admit(peer, shared.context.clock.monotonic_now())) {
                    std::make_shared<Connection>(std::move(socket), shared, std::move(slot))->start();
                } else {
                    socket.close(ignored);  // every candidate is busy
                }
            }
            accept();
        });
    }

    Shared shared;
    asio::io_context io;
    // As in net/http_server: a connection waiting for its commit has no asio
    // operation pending; without this a drain that closed the acceptor could
    // let the threads return before the reply is written. stop() ends it.
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    tcp::acceptor acceptor;
    std::vector<std::thread> threads;
    bool running = false;
};

WtwireListener::WtwireListener(tower::TowerService& service, PrivateKey tower_key, const Hash256& chain_hash,
                               WtwireListenerOptions options, Context context)
    : impl_(std::make_unique<Impl>(service, std::move(tower_key), chain_hash, std::move(options), context)) {}

WtwireListener::~WtwireListener() { stop(); }

Result<std::uint16_t> WtwireListener::start() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(impl_->shared.options.bind_address, ec);
    if (ec) return make_error(ErrorCode::invalid_argument, "wtwire bind address: " + ec.message());
    tcp::endpoint endpoint(address, impl_->shared.options.port);
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return make_error(ErrorCode::unavailable, "cannot listen for wtwire on " + impl_->shared.options.bind_address +
                                                      ":" + std::to_string(impl_->shared.options.port) + ": " +
                                                      ec.message());
    }
    std::uint16_t port = acceptor.local_endpoint().port();
    impl_->accept();
    impl_->running = true;
    for (std::size_t i = 0; i < std::max<std::size_t>(1, impl_->shared.options.threads); ++i) {
        impl_->threads.emplace_back([this] { impl_->io.run(); });
    }
    return port;
}

void WtwireListener::reconfigure(const WtwireListenerOptions& o) {
    auto& shared = impl_->shared;
    shared.table.set_limits(ConnectionLimits{o.max_connections, o.max_connections_per_source, o.limit_loopback_sources});
    std::lock_guard lock(shared.options_mutex);
    auto& live = shared.options;
    live.max_connections = o.max_connections;
    live.max_connections_per_source = o.max_connections_per_source;
    live.limit_loopback_sources = o.limit_loopback_sources;
    live.handshake_timeout = o.handshake_timeout;
    live.read_timeout = o.read_timeout;
    live.write_timeout = o.write_timeout;
    live.messages_per_second = o.messages_per_second;
    live.message_burst = o.message_burst;
    live.min_receive_rate = o.min_receive_rate;
    live.receive_rate_grace = o.receive_rate_grace;
}

bool WtwireListener::drain(std::chrono::milliseconds timeout) {
    if (!impl_ || !impl_->running) return true;
    impl_->shared.draining = true;
    asio::post(impl_->io, [this] {
        boost::system::error_code ignored;
        impl_->acceptor.close(ignored);
    });
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool drained = false;
    while (true) {
        impl_->shared.table.evict_waiting();
        if (impl_->shared.table.open() == 0) {
            drained = true;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            auto p = impl_->shared.table.phases();
            log_event(LogLevel::warn, "wtwire_drain_timeout",
                      {{"receiving", std::to_string(p[0])}, {"waiting", std::to_string(p[1])}, {"busy", std::to_string(p[2])}});
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    return drained;
}

void WtwireListener::stop() {
    if (!impl_ || !impl_->running) return;
    impl_->running = false;
    asio::post(impl_->io, [this] {
        boost::system::error_code ignored;
        impl_->acceptor.close(ignored);
    });
    impl_->io.stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
}

WtwireStats WtwireListener::stats() const {
    const Counters& c = impl_->shared.counters;
    WtwireStats s;
    ConnectionStats table = impl_->shared.table.stats();
    s.connections = c.connections;
    s.refused = table.refused;
    s.evicted_idle = table.evicted_idle;
    s.evicted_stalled = table.evicted_stalled;
    s.evicted_per_source = table.evicted_per_source;
    s.slow_transfer = table.slow_transfer;
    s.open = c.open;
    s.handshakes_failed = c.handshakes_failed;
    s.timeouts = c.timeouts;
    s.rate_limited = c.rate_limited;
    s.protocol_errors = c.protocol_errors;
    s.duplicate_connections = c.duplicate_connections;
    s.sessions_created = c.sessions_created;
    s.updates_accepted = c.updates_accepted;
    s.updates_rejected = c.updates_rejected;
    s.sessions_deleted = c.sessions_deleted;
    return s;
}

}  // namespace argus::api
