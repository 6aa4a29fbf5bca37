// Computes a batch's net WriteEffects from what each operation observed, for
// the store backends: a key's state before the batch is what its first
// operation saw, its state after is what its last operation left.
#pragma once

#include <string>
#include <unordered_map>

#include "server/store/store.h"

namespace argus::store {

class EffectsTracker {
public:
    // `key` identifies the appointment row (backend-specific bytes). An
    // operation that found no row and left none need not be reported.
    void observed(const std::string& key, const Locator& locator, bool existed_before, bool exists_after) {
        auto [it, fresh] = states_.try_emplace(key, State{locator, existed_before, exists_after});
        if (!fresh) it->second.after = exists_after;
    }

    WriteEffects finish() const {
        WriteEffects effects;
        for (const auto& [key, state] : states_) {
            if (!state.before && state.after) effects.inserted.push_back(state.locator);
            if (state.before && !state.after) effects.removed.push_back(state.locator);
        }
        return effects;
    }

private:
    struct State {
        Locator locator{};
        bool before = false;
        bool after = false;
    };
    std::unordered_map<std::string, State> states_;
};

inline std::string effects_key(ByteSpan user, const Locator& locator) {
    std::string key(reinterpret_cast<const char*>(user.data()), user.size());
    key.append(reinterpret_cast<const char*>(locator.data()), locator.size());
    return key;
}

}  // namespace argus::store
