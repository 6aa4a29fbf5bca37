// One line per event: `time level event key=value ...` on stderr. Values are
// quoted when they contain spaces. Never pass secrets or blobs.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace argus {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

void set_log_level(LogLevel level);
bool parse_log_level(std::string_view name, LogLevel& out);
void log_event(LogLevel level, std::string_view event,
               std::initializer_list<std::pair<std::string_view, std::string>> fields = {});

}  // namespace argus
