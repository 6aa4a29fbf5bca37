#include "log/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <utility>

namespace argus {

namespace {
// Length of the valid UTF-8 sequence at text[i], or 0.
std::size_t utf8_length(std::string_view text, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char b = byte(i);
    std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > text.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    }
    if (n == 2 && b < 0xC2) return 0;                              // overlong
    if (n == 3 && b == 0xE0 && byte(i + 1) < 0xA0) return 0;       // overlong
    if (n == 3 && b == 0xED && byte(i + 1) >= 0xA0) return 0;      // surrogate
    if (n == 4 && b == 0xF0 && byte(i + 1) < 0x90) return 0;       // overlong
    if (n == 4 && (b > 0xF4 || (b == 0xF4 && byte(i + 1) >= 0x90))) return 0;  // > U+10FFFF
    return n;
}

// RFC 8259 string: quote, backslash and control characters escaped, bytes
// that are not UTF-8 (a peer's text quoted in an error) replaced by U+FFFD,
// so every line parses.
void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (std::size_t i = 0; i < text.size();) {
        char c = text[i];
        std::size_t n = utf8_length(text, i);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        if (n > 1) {
            out.append(text.substr(i, n));
            i += n;
            continue;
        }
        ++i;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += escaped;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

std::atomic<int> minimum{static_cast<int>(LogLevel::info)};
std::mutex output;
const char* names[] = {"debug", "info", "warn", "error"};
LogFormat format;
}  // namespace

void set_log_format(LogFormat f) { format = std::move(f); }

void set_log_level(LogLevel level) { minimum = static_cast<int>(level); }

LogLevel log_level() { return static_cast<LogLevel>(minimum.load()); }

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
    std::string stamp;
    if (format.timestamp) {
        std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
        std::tm tm{};
        gmtime_r(&t, &tm);
        char text[32];
        std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
        stamp = text;
    }
    if (format.json) {
        line += "{";
        bool first = true;
        auto field = [&](std::string_view key, std::string_view value) {
            if (!first) line += ",";
            first = false;
            append_json_string(line, key);
            line += ":";
            append_json_string(line, value);
        };
        if (!stamp.empty()) field("time", stamp);
        if (!format.program.empty()) field("program", format.program);
        field("level", names[static_cast<int>(level)]);
        field("event", event);
        for (const auto& [key, value] : fields) field(key, value);
        line += "}\n";
        std::lock_guard lock(output);
        std::fputs(line.c_str(), format.stream);
        std::fflush(format.stream);
        return;
    }
    if (!stamp.empty()) line += stamp + " ";
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
    std::fputs(line.c_str(), format.stream);
    std::fflush(format.stream);
}

}  // namespace argus
