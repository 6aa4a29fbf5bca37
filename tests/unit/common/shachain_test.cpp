#include <doctest/doctest.h>

#include "common/hex.h"
#include "common/shachain.h"
#include "tests/support/vectors.h"

using namespace argus;
using namespace argus::bolt3;
using test::hex_array;

TEST_CASE("BOLT 3 Appendix D: per-commitment secret generation") {
    auto json = test::load_vectors("bolt3_secrets_and_keys.json");
    CHECK(json["generation"].size() == 5);
    for (const auto& v : json["generation"]) {
        CAPTURE(v["name"].get<std::string>());
        Hash256 out = generate_from_seed(hex_array<32>(v["seed"]), v["index"].get<std::uint64_t>());
        CHECK(to_hex(out) == v["output"].get<std::string>());
    }
}

TEST_CASE("BOLT 3 Appendix D: compact storage, every failure case") {
    auto json = test::load_vectors("bolt3_secrets_and_keys.json");
    CHECK(json["storage"].size() == 9);
    for (const auto& v : json["storage"]) {
        CAPTURE(v["name"].get<std::string>());
        ShachainStore store;
        for (const auto& step : v["steps"]) {
            auto index = step["index"].get<std::uint64_t>();
            auto result = store.insert(index, hex_array<32>(step["secret"]));
            CHECK(result.has_value() == step["ok"].get<bool>());
            if (!result) CHECK(result.error().code == ErrorCode::inconsistent_secret);
            if (result) CHECK(store.lookup(index).value() == hex_array<32>(step["secret"]));
        }
    }
}

TEST_CASE("shachain: derives every earlier secret and refuses out-of-order inserts") {
    Hash256 seed{};
    seed[0] = 0x5a;
    ShachainStore store;
    for (std::uint64_t i = 0; i < 1000; ++i) {
        std::uint64_t index = max_shachain_index - i;
        REQUIRE(store.insert(index, generate_from_seed(seed, index)));
    }
    for (std::uint64_t i = 0; i < 1000; ++i) {
        std::uint64_t index = max_shachain_index - i;
        CHECK(store.lookup(index).value() == generate_from_seed(seed, index));
    }
    CHECK_FALSE(store.lookup(max_shachain_index - 1000).has_value());  // not yet revealed
    std::uint64_t next = max_shachain_index - 1000;
    CHECK_FALSE(store.insert(next - 1, generate_from_seed(seed, next - 1)));  // skipped one
    CHECK_FALSE(store.insert(max_shachain_index + 1, seed));
    CHECK(store.insert(next, generate_from_seed(seed, next)));
}
