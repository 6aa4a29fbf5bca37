// A child process for tests: stdin from /dev/null, output to a log file, killed
// with the test (PR_SET_PDEATHSIG) and on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace argus::test {

class ChildProcess {
public:
    ChildProcess(std::vector<std::string> argv, std::string log_path);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    bool running();
    void signal(int sig);
    // Waits for exit; returns the exit status, or -1 on timeout (then SIGKILLs).
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    std::string log() const;

private:
    pid_t pid_ = -1;
    std::string log_path_;
};

// Polls until `path` exists and returns its content (throws after `timeout`).
std::string wait_for_file(const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace argus::test
