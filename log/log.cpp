#include "log/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <utility>

namespace argus {

namespace {
std::atomic<int> minimum{static_cast<int>(LogLevel::info)};
std::mutex output;
const char* names[] = {"debug", "info", "warn", "error"};
LogFormat format;
}  // namespace

void set_log_format(LogFormat f) { format = std::move(f); }

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
    std::string line;
    if (format.timestamp) {
        std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
        std::tm tm{};
        gmtime_r(&t, &tm);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &tm);
        line += stamp;
    }
    if (!format.program.empty()) line += format.program + " ";
    line += names[static_cast<int>(level)];
    line += " ";
    line += event;
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
            if (c == '"') {
                line += "\\\"";
            } else if (c == '\n') {
                line += "\\n";
            } else {
                line += c;
            }
        }
        line += "\"";
    }
    line += "\n";
    std::lock_guard lock(output);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

}  // namespace argus
