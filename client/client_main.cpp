// argus-client: the wallet-side node. This slice only identifies itself; the
// channel engine daemon, tower client and plugin mode arrive with issue #5.
#include <cstdio>
#include <cstring>

#include "common/version.h"

namespace {
void print_help() {
    std::printf(
        "Usage: argus-client [--version] [--help]\n"
        "\n"
        "Argus client node: Lightning channel state, justice transactions and\n"
        "backups to teos-compatible towers.\n"
        "Status: foundation build. The BOLT 3 engine and justice builder exist as the\n"
        "argus_common library; the daemon, CLI and plugin mode are not part of this build.\n");
}
}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
        std::printf("argus-client %s\n", argus::version_string);
        return 0;
    }
    if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        print_help();
        return 0;
    }
    std::fprintf(stderr, "argus-client: the daemon is not implemented in this build; see --help\n");
    return 2;
}
