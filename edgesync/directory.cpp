// The directory reader (see directory.hpp): a simple bind, then a paged subtree search.
#include "directory.hpp"

#include "address.hpp"
#include "text_helpers.hpp"

#include <ldap.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace edge::edgesync {

namespace {

[[noreturn]] void fail(const char* call, int rc) {
    throw std::runtime_error(std::string("LDAP ") + call + ": " + ldap_err2string(rc));
}

struct LdapCloser {
    void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
struct MessageFree {
    void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};

}  // namespace

std::vector<std::string> read_recipient_addresses(const DirectoryOptions& o) {
    LDAP* raw = nullptr;
    if (int rc = ldap_initialize(&raw, o.uri.c_str()); rc != LDAP_SUCCESS) fail("ldap_initialize", rc);
    std::unique_ptr<LDAP, LdapCloser> ld(raw);
    int version = LDAP_VERSION3;
    ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);  // AD's referrals lead outside the site
    timeval tv{o.timeout_seconds, 0};
    ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &tv);

    berval cred{static_cast<ber_len_t>(o.password.size()), const_cast<char*>(o.password.data())};
    if (int rc = ldap_sasl_bind_s(ld.get(), o.bind_dn.empty() ? nullptr : o.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred,
                                  nullptr, nullptr, nullptr);
        rc != LDAP_SUCCESS)
        fail("bind", rc);

    char mail_attr[] = "mail", proxy_attr[] = "proxyAddresses";
    char* attrs[] = {mail_attr, proxy_attr, nullptr};
    std::vector<std::string> out;
    berval* cookie = nullptr;
    do {
        LDAPControl* page = nullptr;
        if (int rc = ldap_create_page_control(ld.get(), o.page_size, cookie, 1, &page); rc != LDAP_SUCCESS)
            fail("paged results control", rc);
        LDAPControl* server_controls[] = {page, nullptr};
        LDAPMessage* res_raw = nullptr;
        int rc = ldap_search_ext_s(ld.get(), o.base_dn.c_str(), LDAP_SCOPE_SUBTREE, o.filter.c_str(), attrs, 0,
                                   server_controls, nullptr, &tv, LDAP_NO_LIMIT, &res_raw);
        ldap_control_free(page);
        std::unique_ptr<LDAPMessage, MessageFree> res(res_raw);
        if (rc != LDAP_SUCCESS) {
            if (cookie) ber_bvfree(cookie);
            fail("search", rc);
        }
        for (LDAPMessage* e = ldap_first_entry(ld.get(), res.get()); e != nullptr; e = ldap_next_entry(ld.get(), e)) {
            for (char* attr : {mail_attr, proxy_attr}) {
                berval** values = ldap_get_values_len(ld.get(), e, attr);
                if (values == nullptr) continue;
                for (int i = 0; values[i] != nullptr; ++i) {
                    std::string v(values[i]->bv_val, values[i]->bv_len);
                    if (attr == proxy_attr) {
                        // "SMTP:" is the primary address, "smtp:" a secondary one; X400:, SIP: … are not mail.
                        if (!text::istarts_with(v, "smtp:")) continue;
                        v.erase(0, 5);
                    }
                    // The edge's one canonical form (smtp::canonical_address), the same the
                    // Recipient Filter hashes; what is not an address is not replicated.
                    auto canonical = smtp::canonical_address(v);
                    if (canonical && v.size() <= 320) out.push_back(canonical.str());
                }
                ldap_value_free_len(values);
            }
        }
        // The next page's cookie; empty when the server has no more.
        LDAPControl** returned = nullptr;
        int err = 0;
        rc = ldap_parse_result(ld.get(), res.get(), &err, nullptr, nullptr, nullptr, &returned, 0);
        if (cookie) {
            ber_bvfree(cookie);
            cookie = nullptr;
        }
        if (rc != LDAP_SUCCESS) fail("parse result", rc);
        if (err != LDAP_SUCCESS) {
            ldap_controls_free(returned);
            fail("search result", err);
        }
        LDAPControl* pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, returned, nullptr);
        if (pr != nullptr) {
            ber_int_t estimate = 0;
            berval next{0, nullptr};
            if (ldap_parse_pageresponse_control(ld.get(), pr, &estimate, &next) == LDAP_SUCCESS && next.bv_len > 0)
                cookie = ber_bvdup(&next);
            if (next.bv_val) ber_memfree(next.bv_val);
        }
        ldap_controls_free(returned);
    } while (cookie != nullptr);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace edge::edgesync
