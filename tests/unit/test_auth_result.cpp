// The shared result words (RFC 8601 §2.7): written and read back the same.
#include "auth_result.hpp"

#include <catch2/catch.hpp>

using edge::auth::Result;

TEST_CASE("authentication results are written in RFC 8601's words and read back") {
    for (Result r : {Result::None, Result::Neutral, Result::Pass, Result::Fail, Result::SoftFail, Result::Policy,
                     Result::TempError, Result::PermError}) {
        auto back = edge::auth::result_from_string(edge::auth::to_string(r));
        REQUIRE(back.has_value());
        CHECK(*back == r);
    }
    CHECK(edge::auth::to_string(Result::SoftFail) == "softfail");
    CHECK(edge::auth::result_from_string("PermError") == Result::PermError);
    CHECK_FALSE(edge::auth::result_from_string("passed").has_value());
    CHECK_FALSE(edge::auth::result_from_string("").has_value());
}
