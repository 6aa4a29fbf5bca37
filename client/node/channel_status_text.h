// `argus-client channels` for people: GET /channels/status as text, a block
// per channel with one line per tower (pure; --json prints the JSON itself).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace argus::client {

std::string render_channel_status(const nlohmann::json& channels);

}  // namespace argus::client
