// Import-EdgeConfig's readers (transport/config/edge_config.*): the file another edge
// exported and the answer file an administrator edited, both untrusted. The first byte
// picks the reader. Whatever is accepted writes back to a file that reads as the same
// objects and writes again to the same bytes (the round trip is byte for byte).
#include "edge_config.hpp"
#include "fuzz_target.hpp"

using namespace edge::config;

FUZZ_TARGET(edge_config) {
    if (size == 0 || size > 65536) return 0;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    std::string error;
    if (data[0] & 1) {
        auto answers = read_answer_file(text, &error);
        FUZZ_CHECK(answers.has_value() == error.empty());
        if (!answers) return 0;
        const std::string written = write_answer_file(*answers);
        std::string again_error;
        auto again = read_answer_file(written, &again_error);
        FUZZ_CHECK(again.has_value());
        FUZZ_CHECK(write_answer_file(*again) == written);
        return 0;
    }
    auto file = read_edge_config(text, &error);
    FUZZ_CHECK(file.has_value() == error.empty());
    if (!file) return 0;
    std::string write_error;
    const std::string written = write_edge_config(file->objects, &write_error);
    // The reader takes JSON, which is UTF-8 by definition: every value it accepted writes.
    FUZZ_CHECK(write_error.empty());
    std::string again_error;
    auto again = read_edge_config(written, &again_error);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->objects.size() == file->objects.size());
    FUZZ_CHECK(write_edge_config(again->objects, &write_error) == written);
    return 0;
}
