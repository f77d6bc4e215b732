#include "auth_result.hpp"

#include "text_helpers.hpp"

#include <array>
#include <utility>

namespace edge::auth {

namespace {
constexpr std::array<std::pair<Result, std::string_view>, 8> kNames{{
    {Result::None, "none"},
    {Result::Neutral, "neutral"},
    {Result::Pass, "pass"},
    {Result::Fail, "fail"},
    {Result::SoftFail, "softfail"},
    {Result::Policy, "policy"},
    {Result::TempError, "temperror"},
    {Result::PermError, "permerror"},
}};

}  // namespace

std::string_view to_string(Result r) {
    for (const auto& [k, v] : kNames)
        if (k == r) return v;
    return "none";
}

std::optional<Result> result_from_string(std::string_view text) {
    for (const auto& [k, v] : kNames)
        if (text::iequals(text, v)) return k;
    return std::nullopt;
}

}  // namespace edge::auth
