// wtwire session rules against lnd's watchtower/wtserver/server_test.go cases
// (stateUpdateTests, createSessionTests) and wtdb.SessionInfo.AcceptUpdateSequence.
#include <doctest/doctest.h>

#include "server/tower/session_rules.h"

using namespace argus;
using namespace argus::tower;
namespace code = wtwire::code;

namespace {

store::UserId account() {
    store::UserId a{};
    a[0] = 0x12;
    a[32] = 1;
    return a;
}

// server_test.go: blob.TypeAltruistCommit (0x0002); its blob is 314 bytes (PROTOCOLS.md, kit v0).
wtwire::CreateSession altruist(std::uint16_t max_updates) { return {0x0002, max_updates, 0, 0, 10000}; }

wtwire::StateUpdate update(std::uint16_t seqnum, std::uint16_t last_applied, std::size_t blob = 314) {
    wtwire::StateUpdate u;
    u.seqnum = seqnum;
    u.last_applied = last_applied;
    u.hint[0] = static_cast<std::uint8_t>(seqnum);
    u.encrypted_blob = Bytes(blob, 0xab);
    return u;
}

struct Step {
    std::uint16_t seqnum, last_applied;
    std::uint16_t code, reply_last_applied;
};

// Replays a stateUpdateTests case; lnd's production TowerDB answers
// last_applied 0 with every failure code (its mock answers the session's).
void replay(std::uint16_t max_updates, const std::vector<Step>& steps) {
    WtwirePolicy policy;
    auto created = decide_create_session(policy, account(), std::nullopt, altruist(max_updates), 0);
    REQUIRE(created.create);
    std::optional<store::SessionRecord> session = created.create;
    for (const Step& s : steps) {
        CAPTURE(s.seqnum);
        CAPTURE(s.last_applied);
        auto d = decide_state_update(session, update(s.seqnum, s.last_applied));
        CHECK(d.code == s.code);
        CHECK(d.last_applied == (s.code == code::ok ? s.reply_last_applied : 0));
        if (d.session) session = d.session;
    }
}

}  // namespace

TEST_CASE("wtwire rules: lnd server_test state update sequences") {
    SUBCASE("perm fail after sending seqnum equal lastapplied") {
        replay(3, {{1, 0, code::ok, 1}, {2, 1, code::ok, 2}, {3, 2, code::ok, 3}, {3, 3, code::permanent_failure, 0}});
    }
    SUBCASE("skip sequence number") { replay(4, {{2, 0, code::seqnum_out_of_order, 0}}); }
    SUBCASE("revert to older seqnum") {
        replay(4, {{1, 0, code::ok, 1}, {2, 0, code::ok, 2}, {1, 0, code::seqnum_out_of_order, 0}});
    }
    SUBCASE("revert to older lastapplied") {
        replay(4, {{1, 0, code::ok, 1}, {2, 1, code::ok, 2}, {3, 2, code::ok, 3}, {4, 1, code::client_behind, 0}});
    }
    SUBCASE("resume after disconnect") {
        replay(4, {{1, 0, code::ok, 1}, {2, 1, code::ok, 2}, {3, 2, code::ok, 3}, {4, 3, code::ok, 4}});
    }
    SUBCASE("resume after disconnect lagging lastapplied: the last update resent") {
        replay(4, {{1, 0, code::ok, 1}, {2, 0, code::ok, 2}, {2, 0, code::ok, 2}, {3, 0, code::ok, 3}, {4, 3, code::ok, 4}});
    }
    SUBCASE("seqnum exceed maxupdates") {
        replay(3, {{1, 0, code::ok, 1}, {2, 1, code::ok, 2}, {3, 2, code::ok, 3}, {4, 3, code::max_updates_exceeded, 0}});
    }
    SUBCASE("perm fail after seqnum 0") { replay(3, {{0, 0, code::permanent_failure, 0}}); }
}

TEST_CASE("wtwire rules: no session, and a blob of the wrong size for the blob type") {
    CHECK(decide_state_update(std::nullopt, update(1, 0)).code == code::permanent_failure);  // lnd ErrSessionNotFound
    auto created = decide_create_session({}, account(), std::nullopt, altruist(10), 0);
    REQUIRE(created.create);
    // lnd wtdb ErrInvalidBlobSize: the default branch, temporary failure.
    CHECK(decide_state_update(created.create, update(1, 0, 313)).code == code::temporary_failure);
    CHECK(decide_state_update(created.create, update(1, 0, 340)).code == code::temporary_failure);
    CHECK(decide_state_update(created.create, update(1, 0, 314)).code == code::ok);
}

TEST_CASE("wtwire rules: lnd server_test create session cases") {
    WtwirePolicy policy;
    SUBCASE("duplicate session create (unused): accepted again, policy may change") {
        auto first = decide_create_session(policy, account(), std::nullopt, altruist(1000), 0);
        REQUIRE(first.create);
        auto again = decide_create_session(policy, account(), first.create, altruist(500), 1);
        REQUIRE(again.code == code::ok);
        REQUIRE(again.create);
        CHECK(again.create->max_updates == 500);
    }
    SUBCASE("duplicate session create after use: already exists, with last_applied and the reward script") {
        policy.reward_script = Bytes{0x00, 0x14, 1, 2, 3};
        auto first = decide_create_session(policy, account(), std::nullopt, {0x0003, 1000, 0, 0, 10000}, 0);
        REQUIRE(first.create);
        CHECK(first.data == policy.reward_script);  // lnd: the reply carries the reward pkscript
        store::SessionRecord used = *first.create;
        used.last_applied = 1;
        auto dup = decide_create_session(policy, account(), used, {0x0003, 1000, 0, 0, 10000}, 1);
        CHECK(dup.code == code::session_already_exists);
        CHECK(dup.last_applied == 1);
        CHECK(dup.data == policy.reward_script);
        CHECK_FALSE(dup.create);
    }
    SUBCASE("reject unsupported blob type") {
        CHECK(decide_create_session(policy, account(), std::nullopt, {0x0000, 1000, 0, 0, 10000}, 0).code ==
              code::reject_blob_type);
        CHECK(decide_create_session(policy, account(), std::nullopt, {0xffff, 1000, 0, 0, 10000}, 0).code ==
              code::reject_blob_type);
    }
    SUBCASE("reward sessions without a reward address: rejected as a blob type (lnd DisableReward)") {
        CHECK(decide_create_session(policy, account(), std::nullopt, {0x0003, 1000, 0, 0, 10000}, 0).code ==
              code::reject_blob_type);
    }
}

TEST_CASE("wtwire rules: Argus's operator bounds") {
    WtwirePolicy policy;
    policy.max_updates = 1024;
    policy.max_sessions = 2;
    policy.reward_script = Bytes{0x00, 0x14, 9};
    policy.min_reward_base = 100;
    policy.min_reward_rate = 1000;
    auto decide = [&](wtwire::CreateSession r, std::uint64_t count = 0) {
        return decide_create_session(policy, account(), std::nullopt, r, count).code;
    };
    CHECK(decide(altruist(0)) == code::reject_max_updates);  // lnd wtpolicy ErrNoMaxUpdates
    CHECK(decide(altruist(1025)) == code::reject_max_updates);
    CHECK(decide(altruist(1024)) == code::ok);
    CHECK(decide({0x0002, 10, 0, 0, 999}) == code::reject_sweep_fee_rate);  // below wtpolicy.MinSweepFeeRate
    CHECK(decide({0x0002, 10, 0, 0, 1000}) == code::ok);
    CHECK(decide({0x0002, 10, 0, 0, 1'000'001}) == code::reject_sweep_fee_rate);
    CHECK(decide({0x0003, 10, 99, 1000, 2500}) == code::reject_reward_rate);
    CHECK(decide({0x0003, 10, 100, 999, 2500}) == code::reject_reward_rate);
    CHECK(decide({0x0003, 10, 100, 1000, 2500}) == code::ok);
    CHECK(decide(altruist(10), 2) == code::temporary_failure);  // the tower is full
    // An altruist session keeps no reward terms, whatever the client sent.
    auto a = decide_create_session(policy, account(), std::nullopt, {0x0002, 10, 5, 5, 2500}, 0);
    REQUIRE(a.create);
    CHECK(a.create->reward_script.empty());
    CHECK(a.create->reward_base == 0);
    CHECK(session_slots(*a.create) == 10);
}
