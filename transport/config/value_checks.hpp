// Syntax of the elements settings hold (bindings, IP ranges, domains, paths): one
// check and one canonical form each, delegated to the routing library that owns
// their meaning.
#pragma once

#include "settings.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace edge::config {

// nullopt when `text` is a valid element of `kind`, else what is expected.
std::optional<std::string> check_element(ElementKind kind, std::string_view text);
// The canonical spelling of a valid element ("[::]:25", "10.0.0.0/8", "contoso.com").
std::string canonical_element(ElementKind kind, std::string_view text);

}  // namespace edge::config
