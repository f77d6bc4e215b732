// A TLS client certificate as Domain Security reads it (transport/tls/certificate_store.*):
// DER from anyone who connects, parsed by OpenSSL, its names and dates read by us. The names
// we return never carry NUL, CR, LF or space, and the wildcard matcher holds to one label.
#include "certificate_store.hpp"
#include "fuzz_target.hpp"
#include "session.hpp"

#include <openssl/x509.h>

#include <string>

using namespace edge;

FUZZ_TARGET(client_certificate) {
    const unsigned char* p = data;
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(size));
    if (x == nullptr) return 0;
    const tls::CertificateInfo info = tls::certificate_info(x);
    FUZZ_CHECK(info.thumbprint.size() == 40);
    for (const auto& n : info.domains) {
        FUZZ_CHECK(!n.empty());
        for (char c : n) FUZZ_CHECK(c != '\0' && c != '\r' && c != '\n' && c != ' ');
        // A name matches the domain it is; a wildcard never matches its own parent.
        if (!n.starts_with("*.")) FUZZ_CHECK(smtp::certificate_name_matches(n, n));
        else FUZZ_CHECK(!smtp::certificate_name_matches(n, n.substr(2)));
    }
    X509_free(x);
    return 0;
}
