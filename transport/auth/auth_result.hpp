// The one vocabulary of authentication results (RFC 8601 §2.7): what SPF, DKIM and
// DMARC each conclude, in the words Authentication-Results, the agent log and
// Get-Message write. Each method uses the subset its RFC defines.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace edge::auth {

enum class Result : std::uint8_t {
    None,       // nothing to check (no record, no signature)
    Neutral,    // SPF "?all"; DKIM: a signature we did not judge
    Pass,
    Fail,
    SoftFail,   // SPF only
    Policy,     // DKIM: valid, but refused by local policy (rsa-sha1, a key too short, l=)
    TempError,  // a transient failure (DNS), may succeed later
    PermError,  // a permanent error (a broken record or signature)
};

// "none", "neutral", "pass", "fail", "softfail", "policy", "temperror", "permerror".
std::string_view to_string(Result r);
// The inverse, for reading back what was stored; case-insensitive.
std::optional<Result> result_from_string(std::string_view text);

}  // namespace edge::auth
