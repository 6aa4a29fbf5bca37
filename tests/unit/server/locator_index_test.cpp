#include <doctest/doctest.h>

#include <map>
#include <random>

#include "server/tower/locator_index.h"

using namespace argus;
using argus::tower::LocatorIndex;

namespace {
Locator random_locator(std::mt19937_64& rng, std::uint64_t prefix_space) {
    Locator l{};
    std::uint64_t prefix = rng() % prefix_space;
    for (int i = 0; i < 8; ++i) l[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(prefix >> (8 * (7 - i)));
    for (int i = 8; i < 16; ++i) l[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(rng());
    return l;
}
}  // namespace

TEST_CASE("locator index: agrees with a multiset model under random inserts and erases") {
    // A small prefix space forces duplicates and long probe runs; deletion must
    // keep every other entry findable (backward-shift correctness).
    for (std::uint64_t space : {50ULL, 5000ULL, ~0ULL}) {
        std::mt19937_64 rng(space);
        LocatorIndex index(12345, 16);
        std::multimap<std::uint64_t, Locator> model;
        auto prefix = [](const Locator& l) {
            std::uint64_t p = 0;
            for (int i = 0; i < 8; ++i) p = (p << 8) | l[static_cast<std::size_t>(i)];
            return p;
        };
        std::vector<Locator> present;
        for (int step = 0; step < 20'000; ++step) {
            if (present.empty() || rng() % 3 != 0) {
                Locator l = random_locator(rng, space);
                index.insert(l);
                model.emplace(prefix(l), l);
                present.push_back(l);
            } else {
                std::size_t k = rng() % present.size();
                CHECK(index.erase(present[k]));
                model.erase(model.find(prefix(present[k])));
                present[k] = present.back();
                present.pop_back();
            }
        }
        CHECK(index.size() == present.size());
        for (const auto& l : present) CHECK(index.maybe_contains(l));
        for (int probe = 0; probe < 2000; ++probe) {
            Locator l = random_locator(rng, space);
            CHECK(index.maybe_contains(l) == (model.count(prefix(l)) > 0));
        }
    }
}

TEST_CASE("locator index: memory stays under 16 bytes per entry as it grows") {
    LocatorIndex index;
    std::mt19937_64 rng(7);
    for (int i = 1; i <= 200'000; ++i) {
        index.insert(random_locator(rng, ~0ULL));
        if (i > 1000 && i % 997 == 0) {
            CHECK(static_cast<double>(index.memory_bytes()) / i <= 16.0);
        }
    }
    std::vector<Locator> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(random_locator(rng, ~0ULL));
    CHECK(index.candidates(batch).empty());  // random 8-byte prefixes do not collide
    CHECK_FALSE(index.erase(batch[0]));
}
