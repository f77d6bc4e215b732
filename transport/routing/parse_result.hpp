// What every routing parser returns: a value, or a sentence saying what was expected.
// A parse may also accept its input with a remark (a CIDR block written with host
// bits set is stored normalised, and the administrator should be told).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace edge::routing {

template <class T>
struct ParseResult {
    std::optional<T> value;
    std::string error;    // empty when value is set
    std::string warning;  // set when the input was accepted but changed

    static ParseResult ok(T v, std::string warning_text = {}) { return {std::move(v), {}, std::move(warning_text)}; }
    static ParseResult fail(std::string why) { return {std::nullopt, std::move(why), {}}; }

    explicit operator bool() const { return value.has_value(); }
    const T& operator*() const { return *value; }
    const T* operator->() const { return &*value; }
};

}  // namespace edge::routing
