#include "tests/support/wtclient/client.h"

#include <string>

namespace argus::test::wtclient {

namespace {

Error protocol_error(const std::string& what) { return make_error(ErrorCode::malformed, what); }

// Acts one and two of a BOLT 8 handshake on an open connection.
Status run_acts_one_two(TcpConnection& connection, NoiseInitiator& noise) {
    auto one = noise.act_one();
    if (auto sent = connection.write_all(one); !sent) return sent.error();
    auto two = connection.read_exact(act_two_size);
    if (!two) return two.error();
    return noise.read_act_two(*two);
}

}  // namespace

Result<Client> Client::connect(const std::string& host, std::uint16_t port, const PublicKey& tower,
                               const PrivateKey& session_key, const PrivateKey& ephemeral,
                               std::chrono::milliseconds timeout) {
    auto connection = TcpConnection::connect(host, port, timeout);
    if (!connection) return connection.error();
    NoiseInitiator noise(session_key, tower, ephemeral);
    if (auto acts = run_acts_one_two(*connection, noise); !acts) return acts.error();
    auto three = noise.act_three();
    if (auto sent = connection->write_all(three); !sent) return sent.error();
    return Client(std::move(*connection), noise.transport(), session_key.public_key());
}

Status Client::send_raw_message(ByteSpan plaintext_wtwire) {
    auto frame = cipher_.encrypt_message(plaintext_wtwire);
    if (!frame) return frame.error();
    return connection_.write_all(*frame);
}

Result<Bytes> Client::receive_raw_message() {
    auto header = connection_.read_exact(message_header_size);
    if (!header) return header.error();
    auto length = cipher_.decrypt_header(*header);
    if (!length) return length.error();
    auto body = connection_.read_exact(std::size_t{*length} + mac_size);
    if (!body) return body.error();
    return cipher_.decrypt_body(*body);
}

Status Client::send_message(const WireMessage& message) {
    auto bytes = encode_message(message);
    if (!bytes) return bytes.error();
    return send_raw_message(*bytes);
}

Result<WireMessage> Client::receive_message() {
    auto raw = receive_raw_message();
    if (!raw) return raw.error();
    return decode_message(*raw);
}

Status Client::send_init(Bytes features, const Hash256& chain_hash) {
    local_init_ = InitMessage{std::move(features), chain_hash};
    return send_message(*local_init_);
}

Result<InitMessage> Client::receive_init() {
    auto message = receive_message();
    if (!message) return message.error();
    if (auto* init = std::get_if<InitMessage>(&*message)) return *init;
    return protocol_error("expected Init, got type " + std::to_string(type_of(*message)));
}

Status Client::exchange_init(Bytes features, const Hash256& chain_hash) {
    if (auto sent = send_init(std::move(features), chain_hash); !sent) return sent;
    auto remote = receive_init();
    if (!remote) return remote.error();
    return check_remote_init(*local_init_, *remote);
}

Result<Reply> Client::receive_reply(std::uint16_t expected_type) {
    auto message = receive_message();
    if (!message) return message.error();
    Reply reply;
    reply.type = type_of(*message);
    if (auto* e = std::get_if<ErrorMessage>(&*message)) {
        reply.code = e->code;
        reply.data = e->data;
        return reply;
    }
    if (reply.type != expected_type) {
        return protocol_error("expected wtwire type " + std::to_string(expected_type) + ", got " +
                              std::to_string(reply.type));
    }
    if (auto* c = std::get_if<CreateSessionReplyMessage>(&*message)) {
        reply.code = c->code;
        reply.last_applied = c->last_applied;
        reply.data = c->data;
    } else if (auto* s = std::get_if<StateUpdateReplyMessage>(&*message)) {
        reply.code = s->code;
        reply.last_applied = s->last_applied;
    } else if (auto* d = std::get_if<DeleteSessionReplyMessage>(&*message)) {
        reply.code = d->code;
    }
    return reply;
}

Result<Reply> Client::create_session(std::uint16_t blob_type, std::uint16_t max_updates,
                                     std::uint32_t reward_base, std::uint32_t reward_rate,
                                     std::uint64_t sweep_fee_rate) {
    CreateSessionMessage m{blob_type, max_updates, reward_base, reward_rate, sweep_fee_rate};
    if (auto sent = send_message(m); !sent) return sent.error();
    return receive_reply(message_type::create_session_reply);
}

Result<Reply> Client::state_update(std::uint16_t seqnum, std::uint16_t last_applied,
                                   bool is_complete, const ByteArray<16>& hint, ByteSpan blob) {
    StateUpdateMessage m{seqnum, last_applied, static_cast<std::uint8_t>(is_complete ? 1 : 0),
                         hint, Bytes(blob.begin(), blob.end())};
    if (auto sent = send_message(m); !sent) return sent.error();
    return receive_reply(message_type::state_update_reply);
}

Result<Reply> Client::delete_session() {
    if (auto sent = send_message(DeleteSessionMessage{}); !sent) return sent.error();
    return receive_reply(message_type::delete_session_reply);
}

bool Client::closed_by_peer(std::chrono::milliseconds wait) {
    return connection_.closed_by_peer(wait);
}

void Client::close() { connection_.close(); }

Result<bool> tower_hangs_up_after(const std::string& host, std::uint16_t port,
                                  const PublicKey& tower, const PrivateKey& session_key,
                                  const PrivateKey& ephemeral, HandshakeFault fault,
                                  std::chrono::milliseconds wait) {
    auto connection = TcpConnection::connect(host, port, wait);
    if (!connection) return connection.error();
    PublicKey addressed = tower;
    if (fault == HandshakeFault::wrong_tower_key) addressed = session_key.public_key();
    NoiseInitiator noise(session_key, addressed, ephemeral);
    auto one = noise.act_one();
    Bytes first(one.begin(), one.end());
    switch (fault) {
        case HandshakeFault::short_act_one: first.pop_back(); break;
        case HandshakeFault::bad_act_one_version: first[0] = 1; break;
        case HandshakeFault::bad_act_one_key: first[1] = 0x04; break;
        case HandshakeFault::bad_act_one_mac: first.back() ^= 0x01; break;
        default: break;
    }
    if (auto sent = connection->write_all(first); !sent) return connection->closed_by_peer(wait);
    const bool act_three_fault = fault == HandshakeFault::bad_act_three_version ||
                                 fault == HandshakeFault::bad_act_three_mac ||
                                 fault == HandshakeFault::short_act_three;
    if (!act_three_fault) return connection->closed_by_peer(wait);
    auto two = connection->read_exact(act_two_size);
    if (!two) return two.error();
    if (auto read = noise.read_act_two(*two); !read) return read.error();
    auto three = noise.act_three();
    Bytes third(three.begin(), three.end());
    switch (fault) {
        case HandshakeFault::bad_act_three_version: third[0] = 1; break;
        case HandshakeFault::bad_act_three_mac: third.back() ^= 0x01; break;
        case HandshakeFault::short_act_three: third.pop_back(); break;
        default: break;
    }
    if (auto sent = connection->write_all(third); !sent) return connection->closed_by_peer(wait);
    return connection->closed_by_peer(wait);
}

SessionQueue::SessionQueue(SessionQueueOptions options, const PrivateKey& session_key)
    : options_(std::move(options)), session_key_(session_key) {}

Status SessionQueue::drain(const PrivateKey& ephemeral) {
    replies_.clear();
    if (committed_.empty() && pending_.empty()) return {};
    auto client = Client::connect(options_.host, options_.port, options_.tower, session_key_,
                                  ephemeral, options_.timeout);
    if (!client) return client.error();
    // session_queue.go: Init is exchanged once per connection, before the first update.
    if (auto init = client->exchange_init(options_.features, options_.chain_hash); !init) {
        return init;
    }
    for (;;) {
        if (committed_.empty() && pending_.empty()) return {};
        // nextStateUpdate: committed updates first (resent with their seqnum),
        // else the next pending one gets seqnum + 1 and is committed now.
        const bool from_pending = committed_.empty();
        if (from_pending) {
            committed_.push_back({static_cast<std::uint16_t>(seqnum_ + 1), pending_.front()});
            pending_.erase(pending_.begin());
            ++seqnum_;
        }
        const Committed& next = committed_.front();
        const bool is_last = from_pending ? pending_.empty()
                                          : committed_.size() == 1 && pending_.empty();
        auto reply = client->state_update(next.seqnum, last_applied_, is_last, next.update.hint,
                                          next.update.encrypted_blob);
        if (!reply) return reply.error();
        replies_.push_back(*reply);
        if (reply->type != message_type::state_update_reply || reply->code != reply_code::ok) {
            return make_error(ErrorCode::unavailable,
                              "tower replied type " + std::to_string(reply->type) + " code " +
                                  std::to_string(reply->code) + " to seqnum " +
                                  std::to_string(next.seqnum));
        }
        // wtdb.ClientDB.AckUpdate
        if (reply->last_applied > seqnum_) {
            return make_error(ErrorCode::malformed, "tower acked an unallocated last_applied");
        }
        if (reply->last_applied < last_applied_) {
            return make_error(ErrorCode::malformed, "tower's last_applied went backwards");
        }
        last_applied_ = reply->last_applied;
        committed_.erase(committed_.begin());
        if (is_last) return {};
    }
}

}  // namespace argus::test::wtclient
