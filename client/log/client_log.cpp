#include "client/log/client_log.h"

#include <cstdio>
#include <mutex>

namespace argus::client {

namespace {
std::mutex output;

const char* name_of(ClientLogLevel level) {
    switch (level) {
        case ClientLogLevel::info: return "info";
        case ClientLogLevel::warn: return "warn";
        case ClientLogLevel::error: return "error";
    }
    return "error";
}
}  // namespace

void log_client_event(ClientLogLevel level, std::string_view event,
                      std::initializer_list<std::pair<std::string_view, std::string>> fields) {
    std::string line = std::string("argus-client ") + name_of(level) + " " + std::string(event);
    for (const auto& [key, value] : fields) {
        line += " ";
        line += key;
        line += "=";
        bool quote = value.empty() || value.find_first_of(" \"=\n") != std::string::npos;
        if (!quote) {
            line += value;
            continue;
        }
        line += "\"";
        for (char c : value) {
            if (c == '"') line += "\\\"";
            else if (c == '\n') line += "\\n";
            else line += c;
        }
        line += "\"";
    }
    line += "\n";
    std::lock_guard lock(output);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

}  // namespace argus::client
