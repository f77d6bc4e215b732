// Reading the internal directory with libldap (OpenLDAP's client library): every
// recipient's SMTP addresses, AD's way — `mail` and the `smtp:`/`SMTP:` values of
// `proxyAddresses` — in pages (RFC 2696), so a directory larger than the server's
// size limit (Active Directory: 1,000) is read whole.
#pragma once

#include <string>
#include <vector>

namespace edge::edgesync {

struct DirectoryOptions {
    std::string uri;            // ldap://host:port or ldaps://
    std::string bind_dn;        // empty: anonymous
    std::string password;
    std::string base_dn;
    std::string filter = "(|(mail=*)(proxyAddresses=*))";
    int page_size = 500;
    int timeout_seconds = 30;
};

// Every SMTP address in canonical form (smtp::canonical_address), sorted, without duplicates. Throws
// std::runtime_error naming the LDAP call and its error when the directory cannot be
// read whole (a partial read must never look like deleted users).
std::vector<std::string> read_recipient_addresses(const DirectoryOptions& options);

}  // namespace edge::edgesync
