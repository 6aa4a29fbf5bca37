// The benchmarks' teos load: per client (TeosUser seed client + 1), `per_client`
// add_appointment bodies with random 16-byte locators and 320-byte blobs,
// signed on two threads before the clock starts.
#pragma once

#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/teos_user.h"

namespace argus::bench {

inline std::vector<std::vector<std::string>> signed_appointment_bodies(int clients, std::size_t per_client,
                                                                       unsigned seed) {
    std::vector<std::vector<std::string>> bodies(static_cast<std::size_t>(clients));
    std::vector<std::thread> signers;
    for (int t = 0; t < 2; ++t) {
        signers.emplace_back([&, t] {
            std::mt19937_64 local(seed + static_cast<unsigned>(t));
            for (int c = t; c < clients; c += 2) {
                test::TeosUser user(static_cast<std::uint8_t>(c + 1));
                auto& list = bodies[static_cast<std::size_t>(c)];
                list.reserve(per_client);
                Bytes blob(320);
                for (std::size_t i = 0; i < per_client; ++i) {
                    Locator l;
                    for (std::size_t k = 0; k < l.size(); k += 8) {
                        std::uint64_t r = local();
                        std::memcpy(l.data() + k, &r, 8);
                    }
                    for (std::size_t k = 0; k < blob.size(); k += 8) {
                        std::uint64_t r = local();
                        std::memcpy(blob.data() + k, &r, 8);
                    }
                    list.push_back(user.add_appointment_body(l, blob, 144));
                }
            }
        });
    }
    for (auto& t : signers) t.join();
    return bodies;
}

}  // namespace argus::bench
