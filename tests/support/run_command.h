// Runs a shell command for tests: stdin from /dev/null, stderr folded into stdout.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace argus::test {

struct CommandResult {
    int status = -1;  // exit status, -1 when it did not exit normally
    std::string output;
};

inline CommandResult run_command(const std::string& command) {
    std::FILE* pipe = popen((command + " 2>&1 </dev/null").c_str(), "r");
    if (pipe == nullptr) return {};
    std::string out;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace argus::test
