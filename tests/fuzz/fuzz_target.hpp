// One fuzz target = one file with FUZZ_TARGET(name) { … }. Built two ways from the same
// source: with clang's libFuzzer (EDGE_FUZZ_LIBFUZZER, one executable per target) the
// macro is LLVMFuzzerTestOneInput; in the g++ ASan+UBSan build it registers the body
// in the table of fuzz_regression, which replays a target's seed corpus under CTest.
// FUZZ_CHECK states an invariant: when it fails the input is a finding (abort, so
// libFuzzer keeps the input and CTest fails).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace edge::fuzz {

using TargetFn = int (*)(const std::uint8_t* data, std::size_t size);
// fuzz_regression's table (fuzz_regression.cpp); unused in the libFuzzer build.
bool register_target(const char* name, TargetFn fn);

[[noreturn]] inline void invariant_failed(const char* target, const char* what, const char* file, int line) {
    std::fprintf(stderr, "fuzz target %s: invariant failed at %s:%d: %s\n", target, file, line, what);
    std::abort();
}

// Takes bytes off the front of the input: the target's "tape" for choices (which
// settings, which verdict, how to split a stream), so every run is a function of the
// input alone and a crash replays.
class Tape {
public:
    Tape(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
    bool empty() const { return n_ == 0; }
    std::uint8_t byte() {
        if (n_ == 0) return 0;
        --n_;
        return *p_++;
    }
    bool flag() { return (byte() & 1) != 0; }
    std::uint32_t u16() { return static_cast<std::uint32_t>(byte()) << 8 | byte(); }
    // Up to `max` bytes.
    std::string_view take(std::size_t max) {
        std::size_t k = max < n_ ? max : n_;
        std::string_view s(reinterpret_cast<const char*>(p_), k);
        p_ += k;
        n_ -= k;
        return s;
    }
    std::string_view rest() { return take(n_); }
    // The bytes up to the next LF (which is dropped), or the rest.
    std::string_view line() {
        std::string_view all(reinterpret_cast<const char*>(p_), n_);
        auto lf = all.find('\n');
        auto s = take(lf == std::string_view::npos ? n_ : lf);
        if (lf != std::string_view::npos) take(1);
        return s;
    }

private:
    const std::uint8_t* p_;
    std::size_t n_;
};

}  // namespace edge::fuzz

#define FUZZ_CHECK_AT(name, cond) \
    do { \
        if (!(cond)) ::edge::fuzz::invariant_failed(name, #cond, __FILE__, __LINE__); \
    } while (0)

#ifdef EDGE_FUZZ_LIBFUZZER
#define FUZZ_TARGET(name) \
    static constexpr const char* kFuzzTargetName = #name; \
    static int fuzz_one_##name(const std::uint8_t* data, std::size_t size); \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
        return fuzz_one_##name(data, size); \
    } \
    static int fuzz_one_##name(const std::uint8_t* data, std::size_t size)
#else
#define FUZZ_TARGET(name) \
    static constexpr const char* kFuzzTargetName = #name; \
    static int fuzz_one_##name(const std::uint8_t* data, std::size_t size); \
    [[maybe_unused]] static const bool fuzz_registered_##name = ::edge::fuzz::register_target(#name, fuzz_one_##name); \
    static int fuzz_one_##name(const std::uint8_t* data, std::size_t size)
#endif

#define FUZZ_CHECK(cond) FUZZ_CHECK_AT(kFuzzTargetName, cond)
