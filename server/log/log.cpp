#include "server/log/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace argus {

namespace {
std::atomic<int> minimum{static_cast<int>(LogLevel::info)};
std::mutex output;
const char* names[] = {"debug", "info", "warn", "error"};
}  // namespace

void set_log_level(LogLevel level) { minimum = static_cast<int>(level); }

bool parse_log_level(std::string_view name, LogLevel& out) {
    for (int i = 0; i < 4; ++i) {
        if (name == names[i]) {
            out = static_cast<LogLevel>(i);
            return true;
        }
    }
    return false;
}

void log_event(LogLevel level, std::string_view event,
               std::initializer_list<std::pair<std::string_view, std::string>> fields) {
    if (static_cast<int>(level) < minimum) return;
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string line = std::string(stamp) + " " + names[static_cast<int>(level)] + " " + std::string(event);
    for (const auto& [key, value] : fields) {
        line += " ";
        line += key;
        line += "=";
        bool quote = value.empty() || value.find_first_of(" \"=") != std::string::npos;
        if (quote) {
            line += "\"";
            for (char c : value) line += c == '"' ? std::string("\\\"") : std::string(1, c);
            line += "\"";
        } else {
            line += value;
        }
    }
    line += "\n";
    std::lock_guard lock(output);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

}  // namespace argus
