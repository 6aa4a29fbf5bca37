// Runs a fuzz target over every file of its seed corpus, so the corpus is an
// ordinary regression test in builds without libFuzzer.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

int main(int argc, char** argv) {
    std::size_t count = 0;
    for (int i = 1; i < argc; ++i) {
        std::filesystem::path path(argv[i]);
        std::vector<std::filesystem::path> files;
        if (std::filesystem::is_directory(path)) {
            for (const auto& e : std::filesystem::directory_iterator(path)) files.push_back(e.path());
        } else {
            files.push_back(path);
        }
        for (const auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)), {});
            LLVMFuzzerTestOneInput(data.data(), data.size());
            ++count;
        }
    }
    if (count == 0) {
        std::cerr << "no corpus files found\n";
        return 1;
    }
    std::cout << "ran " << count << " corpus inputs\n";
    return 0;
}
