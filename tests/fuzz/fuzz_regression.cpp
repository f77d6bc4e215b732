// The corpus replayer of `make test`: every fuzz target compiled into one executable
// (no libFuzzer), run over each file of its seed corpus. Usage:
//   fuzz_regression <target> <file or directory>…     fuzz_regression --list
// Exit 0 when every input ran; a failed invariant or a sanitizer report aborts.
#include "fuzz_target.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace edge::fuzz {
namespace {
std::map<std::string, TargetFn>& table() {
    static std::map<std::string, TargetFn> t;
    return t;
}

int run_file(TargetFn fn, const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "fuzz_regression: cannot read %s\n", path.c_str());
        return 1;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "  %s (%zu bytes)\n", path.c_str(), bytes.size());
    // Like libFuzzer, hand the target a heap copy of exactly its size, so ASan sees a
    // read one past the end.
    auto* copy = new std::uint8_t[bytes.size()];
    std::copy(bytes.begin(), bytes.end(), copy);
    fn(copy, bytes.size());
    delete[] copy;
    return 0;
}
}  // namespace

bool register_target(const char* name, TargetFn fn) {
    table()[name] = fn;
    return true;
}
}  // namespace edge::fuzz

int main(int argc, char** argv) {
    using namespace edge::fuzz;
    if (argc == 2 && std::string(argv[1]) == "--list") {
        for (const auto& [name, fn] : table()) std::printf("%s\n", name.c_str());
        return 0;
    }
    if (argc < 3) {
        std::fprintf(stderr, "usage: fuzz_regression <target> <file or directory>...\n       fuzz_regression --list\n");
        return 2;
    }
    auto it = table().find(argv[1]);
    if (it == table().end()) {
        std::fprintf(stderr, "fuzz_regression: no target %s (--list shows them)\n", argv[1]);
        return 2;
    }
    int failures = 0;
    std::size_t inputs = 0;
    for (int i = 2; i < argc; ++i) {
        std::filesystem::path p(argv[i]);
        std::vector<std::filesystem::path> files;
        if (std::filesystem::is_directory(p)) {
            for (const auto& e : std::filesystem::directory_iterator(p))
                if (e.is_regular_file()) files.push_back(e.path());
            std::sort(files.begin(), files.end());
        } else {
            files.push_back(p);
        }
        for (const auto& f : files) {
            failures += run_file(it->second, f);
            ++inputs;
        }
    }
    // An empty corpus is a mistake in the tree, not a pass.
    if (inputs == 0) {
        std::fprintf(stderr, "fuzz_regression: %s: no inputs\n", argv[1]);
        return 1;
    }
    std::fprintf(stderr, "fuzz_regression: %s: %zu inputs\n", argv[1], inputs);
    return failures == 0 ? 0 : 1;
}
