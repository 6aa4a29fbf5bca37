// The client's log: one line per event on stderr, `argus-client level event
// key=value ...` (values quoted when they hold spaces). No timestamp: the
// daemon runs under systemd or lightningd, which stamp each line. Never pass
// secrets, keys or blobs.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace argus::client {

enum class ClientLogLevel { info, warn, error };

void log_client_event(ClientLogLevel level, std::string_view event,
                      std::initializer_list<std::pair<std::string_view, std::string>> fields = {});

}  // namespace argus::client
