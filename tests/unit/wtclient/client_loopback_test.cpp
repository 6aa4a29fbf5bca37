// The client against a scripted loopback tower: a minimal BOLT 8 responder
// written here from the BOLT 8 text (responder side), then wtwire replies
// scripted as lnd's wtserver sends them. Checks the socket, framing, Init
// exchange and SessionQueue's seqnum / last_applied / resend handling.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "common/aead.h"
#include "common/hash.h"
#include "tests/support/wtclient/client.h"
#include "tests/support/wtclient/justice_kit.h"

using namespace argus;
using namespace argus::test::wtclient;
using namespace std::chrono_literals;

namespace {

PrivateKey fixed_key(std::uint8_t fill) {
    ByteArray<32> b;
    b.fill(fill);
    return PrivateKey::from_bytes(b).value();
}

ByteArray<12> nonce12(std::uint64_t n) {
    ByteArray<12> out{};
    for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    return out;
}

bool read_all(int fd, std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        ssize_t r = ::recv(fd, p, n, 0);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}
bool write_all(int fd, ByteSpan data) {
    return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

// BOLT #8 responder: returns the transport (receive = first HKDF output) or nullopt.
std::optional<TransportCipher> respond(int fd, const PrivateKey& ls, const PrivateKey& e) {
    Hash256 h = sha256(as_bytes("Noise_XK_secp256k1_ChaChaPoly_SHA256"));
    ByteArray<32> ck = h, k{};
    auto mix_hash = [&](ByteSpan d) {
        Bytes p(h.begin(), h.end());
        append(p, d);
        h = sha256(p);
    };
    mix_hash(as_bytes("lightning"));
    mix_hash(ls.public_key().bytes());
    ByteArray<50> one;
    if (!read_all(fd, one.data(), one.size()) || one[0] != 0) return std::nullopt;
    auto re = PublicKey::parse(ByteSpan(one).subspan(1, 33));
    if (!re) return std::nullopt;
    mix_hash(re->bytes());
    hkdf_two(ck, ecdh(ls, *re).value(), ck, k);
    if (!chacha20poly1305_decrypt(k, nonce12(0), ByteSpan(one).subspan(34), h)) return std::nullopt;
    mix_hash(ByteSpan(one).subspan(34));
    mix_hash(e.public_key().bytes());
    hkdf_two(ck, ecdh(e, *re).value(), ck, k);
    Bytes c = chacha20poly1305_encrypt(k, nonce12(0), {}, h);
    mix_hash(c);
    Bytes two{0};
    append(two, e.public_key().bytes());
    append(two, c);
    if (!write_all(fd, two)) return std::nullopt;
    ByteArray<66> three;
    if (!read_all(fd, three.data(), three.size()) || three[0] != 0) return std::nullopt;
    auto rs_bytes = chacha20poly1305_decrypt(k, nonce12(1), ByteSpan(three).subspan(1, 49), h);
    if (!rs_bytes) return std::nullopt;
    mix_hash(ByteSpan(three).subspan(1, 49));
    auto rs = PublicKey::parse(*rs_bytes);
    if (!rs) return std::nullopt;
    hkdf_two(ck, ecdh(e, *rs).value(), ck, k);
    if (!chacha20poly1305_decrypt(k, nonce12(0), ByteSpan(three).subspan(50), h)) return std::nullopt;
    ByteArray<32> rk, sk;
    hkdf_two(ck, {}, rk, sk);
    return TransportCipher(CipherState(ck, sk), CipherState(ck, rk));
}

std::optional<WireMessage> read_message(int fd, TransportCipher& t) {
    ByteArray<18> header;
    if (!read_all(fd, header.data(), header.size())) return std::nullopt;
    auto length = t.decrypt_header(header);
    if (!length) return std::nullopt;
    Bytes body(std::size_t{*length} + 16);
    if (!read_all(fd, body.data(), body.size())) return std::nullopt;
    auto plain = t.decrypt_body(body);
    if (!plain) return std::nullopt;
    auto m = decode_message(*plain);
    if (!m) return std::nullopt;
    return *m;
}
void send_message(int fd, TransportCipher& t, const WireMessage& m) {
    write_all(fd, t.encrypt_message(encode_message(m).value()).value());
}

// A loopback tower serving `connections` connections, each with `serve`.
class ScriptedTower {
public:
    using Serve = std::function<void(int fd, TransportCipher&)>;
    ScriptedTower(const PrivateKey& key, int connections, Serve serve) : key_(key) {
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(listener_, 4) == 0);
        socklen_t len = sizeof a;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this, connections, serve] {
            for (int i = 0; i < connections; ++i) {
                int fd = ::accept(listener_, nullptr, nullptr);
                if (fd < 0) return;
                auto t = respond(fd, key_, fixed_key(static_cast<std::uint8_t>(0x50 + i)));
                if (t) serve(fd, *t);
                ::close(fd);  // lnd's tower hangs up after each request
            }
        });
    }
    ~ScriptedTower() {
        thread_.join();
        ::close(listener_);
    }
    std::uint16_t port() const { return port_; }

private:
    PrivateKey key_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

Hash256 regtest_hash() {
    Hash256 h{};
    h[0] = 0x06;
    return h;
}

}  // namespace

TEST_CASE("wtclient: Init and CreateSession over a loopback BOLT 8 connection") {
    const PrivateKey tower_key = fixed_key(0x21);
    std::vector<WireMessage> received;
    ScriptedTower tower(tower_key, 1, [&](int fd, TransportCipher& t) {
        // wtserver: read Init, send own Init, check, then one request.
        auto init = read_message(fd, t);
        if (!init) return;
        received.push_back(*init);
        send_message(fd, t, InitMessage{feature_vector({1, 3}), regtest_hash()});
        auto request = read_message(fd, t);
        if (!request) return;
        received.push_back(*request);
        send_message(fd, t, CreateSessionReplyMessage{reply_code::ok, 0, {}});
    });
    auto client = Client::connect("127.0.0.1", tower.port(), tower_key.public_key(),
                                  fixed_key(0x11), fixed_key(0x12), 2000ms);
    REQUIRE(client);
    REQUIRE(client->exchange_init(lnd_client_features(blob_type::altruist_anchor_commit),
                                  regtest_hash()));
    auto reply = client->create_session(blob_type::altruist_anchor_commit, 1024, 0, 0, 2500);
    REQUIRE(reply);
    CHECK(reply->type == message_type::create_session_reply);
    CHECK(reply->code == reply_code::ok);
    CHECK(client->closed_by_peer(2000ms));
    REQUIRE(received.size() == 2);
    CHECK(received[0] == WireMessage{InitMessage{feature_vector({0, 2}), regtest_hash()}});
    CHECK(received[1] == WireMessage{CreateSessionMessage{0x0006, 1024, 0, 0, 2500}});
}

TEST_CASE("wtclient: SessionQueue resends a committed update with its seqnum after a failure") {
    const PrivateKey tower_key = fixed_key(0x21);
    std::vector<StateUpdateMessage> seen;
    int connection = 0;
    std::uint16_t tower_last_applied = 0;
    ScriptedTower tower(tower_key, 2, [&](int fd, TransportCipher& t) {
        ++connection;
        if (!read_message(fd, t)) return;
        send_message(fd, t, InitMessage{feature_vector({1}), regtest_hash()});
        for (;;) {
            auto m = read_message(fd, t);
            if (!m) return;
            auto& update = std::get<StateUpdateMessage>(*m);
            seen.push_back(update);
            // First connection: accept seqnum 1, then fail seqnum 2 with a temporary failure.
            if (connection == 1 && update.seqnum == 2) {
                send_message(fd, t, StateUpdateReplyMessage{reply_code::temporary_failure,
                                                            tower_last_applied});
                return;
            }
            tower_last_applied = update.seqnum;
            send_message(fd, t, StateUpdateReplyMessage{reply_code::ok, tower_last_applied});
            if (update.is_complete) return;
        }
    });
    SessionQueueOptions options{"127.0.0.1", tower.port(), tower_key.public_key(),
                                lnd_client_features(blob_type::altruist_commit), regtest_hash(),
                                2000ms};
    SessionQueue queue(options, fixed_key(0x11));
    for (std::uint8_t i = 1; i <= 3; ++i) {
        BackupUpdate u;
        u.hint.fill(i);
        u.encrypted_blob = Bytes(314, i);
        queue.enqueue(u);
    }
    CHECK_FALSE(queue.drain(fixed_key(0x31)));
    CHECK(queue.seqnum() == 2);
    CHECK(queue.last_applied() == 1);
    CHECK(queue.committed_count() == 1);
    CHECK(queue.pending_count() == 1);
    REQUIRE(queue.drain(fixed_key(0x32)));
    CHECK(queue.seqnum() == 3);
    CHECK(queue.last_applied() == 3);
    CHECK(queue.committed_count() == 0);
    CHECK(queue.pending_count() == 0);
    // (seqnum, last_applied, is_complete, hint byte) as lnd's sessionQueue sends them.
    REQUIRE(seen.size() == 4);
    auto row = [&](std::size_t i) {
        return std::vector<int>{seen[i].seqnum, seen[i].last_applied, seen[i].is_complete,
                                seen[i].hint[0]};
    };
    CHECK(row(0) == std::vector<int>{1, 0, 0, 1});
    CHECK(row(1) == std::vector<int>{2, 1, 0, 2});
    CHECK(row(2) == std::vector<int>{2, 1, 0, 2});  // resent: same seqnum, committed first
    CHECK(row(3) == std::vector<int>{3, 2, 1, 3});  // the last of the pass is complete
}

TEST_CASE("wtclient: a broken act one gets a hang-up from a responder that checks it") {
    const PrivateKey tower_key = fixed_key(0x21);
    ScriptedTower tower(tower_key, 1, [](int, TransportCipher&) {});
    auto hung_up = tower_hangs_up_after("127.0.0.1", tower.port(), tower_key.public_key(),
                                        fixed_key(0x11), fixed_key(0x12),
                                        HandshakeFault::bad_act_one_mac, 2000ms);
    REQUIRE(hung_up);
    CHECK(*hung_up);
}
