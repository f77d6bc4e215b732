// xtext (RFC 3461 §4; transport/smtp/client_session.*): ENVID and ORCPT as a client
// sent them, decoded for the queue and encoded again when we relay.
#include "client_session.hpp"
#include "fuzz_target.hpp"

using namespace edge::smtp;

FUZZ_TARGET(xtext) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    // Any octets encode to xtext, which decodes back to them.
    std::string encoded = xtext_encode(in);
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        auto c = static_cast<unsigned char>(encoded[i]);
        FUZZ_CHECK(c >= 33 && c <= 126 && c != '=');
        if (c == '+') FUZZ_CHECK(i + 2 < encoded.size() && std::isxdigit(static_cast<unsigned char>(encoded[i + 1])) &&
                                 std::isxdigit(static_cast<unsigned char>(encoded[i + 2])));
    }
    auto back = xtext_decode(encoded);
    FUZZ_CHECK(back && *back == in);
    // What a client sent: decoded, encoded and decoded again it is the same octets.
    if (auto decoded = xtext_decode(in)) {
        auto again = xtext_decode(xtext_encode(*decoded));
        FUZZ_CHECK(again && *again == *decoded);
        FUZZ_CHECK(decoded->size() <= in.size());
    }
    (void)orcpt_decoded(in);
    return 0;
}
