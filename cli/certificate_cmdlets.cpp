// Certificates managed live (issue 20), Exchange's cmdlets: Import-/New-/Get-/Enable-/
// Remove-ExchangeCertificate. The files live in <DataDirectory>/certificates (transport/
// tls/certificate_store.hpp); each certificate is an ExchangeCertificate object in the
// config store, named by thumbprint, so a change moves the config generation and the
// server offers the new set to new sessions within its ConfigPollInterval.
//
// Ours, where Exchange differs: Import takes PEM files (-Path and -KeyPath; Exchange
// takes a PFX with -Password: `openssl pkcs12 -in f.pfx -nokeys` / `-nocerts -nodes`
// convert one), and only the SMTP service exists.
#include "cmdlet.hpp"

#include "certificate_store.hpp"
#include "config_store.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"
#include "value_checks.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <map>
#include <stdexcept>

namespace edge::cli {

namespace {
using config::ObjectKind;
constexpr auto kCertificateKind = ObjectKind::ExchangeCertificate;
// Get-ExchangeCertificate and the server log warn this long before NotAfter.
constexpr auto kExpiryWarning = std::chrono::days(30);

std::string kind_name() { return config::to_string(kCertificateKind); }

// Exchange's Status words: Valid, DateInvalid (expired or not yet valid), Invalid (the
// files are gone or broken).
std::string status_of(const tls::CertificateInfo& info, std::chrono::system_clock::time_point now) {
    return now < info.not_before || now >= info.not_after ? "DateInvalid" : "Valid";
}

struct Shown {
    Record record;
    std::string warning;  // "" or a line for stderr
};

Shown certificate_record(const Context& ctx, const config::ExchangeCertificateSettings& c) {
    Shown out;
    Record& r = out.record;
    std::string status = "Invalid";
    std::vector<std::string> domains = c.certificate_domains;
    try {
        const tls::CertificateInfo info = tls::read_stored_certificate(ctx.data_directory, c.thumbprint);
        const auto now = std::chrono::system_clock::now();
        status = status_of(info, now);
        if (info.not_after <= now)
            out.warning = fmt::format("WARNING: the certificate {} expired on {}", c.thumbprint, tls::format_utc(info.not_after));
        else if (info.not_after - now <= kExpiryWarning)
            out.warning = fmt::format("WARNING: the certificate {} expires on {} (in {} days); import its renewal and enable it",
                                      c.thumbprint, tls::format_utc(info.not_after),
                                      std::chrono::duration_cast<std::chrono::days>(info.not_after - now).count());
    } catch (const std::exception& e) {
        out.warning = fmt::format("WARNING: the certificate {}: {}", c.thumbprint, e.what());
    }
    r.add("Thumbprint", Value::of_text(c.thumbprint));
    std::vector<std::string> services;
    if (c.services.has(config::CertificateService::SMTP)) services.emplace_back("SMTP");
    r.add("Services", Value::of_text(services.empty() ? "None" : fmt::format("{}", fmt::join(services, ", "))));
    r.add("Subject", Value::of_text(c.subject));
    r.add("Issuer", Value::of_text(c.issuer));
    r.add("CertificateDomains", Value::of_list(domains));
    r.add("NotBefore", Value::of_text(c.not_before));
    r.add("NotAfter", Value::of_text(c.not_after));
    r.add("IsSelfSigned", Value::of_bool(c.is_self_signed));
    r.add("Status", Value::of_text(status));
    return out;
}
const std::vector<std::string> kColumns{"Thumbprint", "Services", "Subject", "NotAfter", "Status"};

std::vector<config::ExchangeCertificateSettings> load_certificates(const Context& ctx) {
    std::vector<config::ExchangeCertificateSettings> out;
    for (const auto& o : config::load_objects(*ctx.db, kCertificateKind)) out.push_back(config::exchange_certificate_settings(o.object));
    return out;
}

std::string thumbprint_param(const Invocation& inv) {
    const std::string* t = inv.get("Thumbprint");
    if (t == nullptr || t->empty()) fail("which certificate? give -Thumbprint; 'edgectl Get-ExchangeCertificate' lists them", 2);
    std::string canonical = tls::canonical_thumbprint(*t);
    if (canonical.empty()) fail(fmt::format("-Thumbprint '{}': expected 40 hexadecimal digits (the certificate's SHA-1)", *t));
    return canonical;
}

config::ConfigObject stored_or_fail(const Context& ctx, const std::string& thumbprint) {
    auto o = config::load_object(*ctx.db, kCertificateKind, thumbprint);
    if (!o) fail(fmt::format("no certificate with thumbprint {}; 'edgectl Get-ExchangeCertificate' lists them", thumbprint));
    return *o;
}

// One guarded write: a command that raced another changes nothing.
void write_object(Context& ctx, std::uint64_t generation, const std::string& thumbprint,
                  std::optional<std::string> value) {
    auto r = ctx.db->config_apply({{kind_name(), thumbprint, std::move(value)}}, generation);
    if (!r) fail("the configuration changed meanwhile or could not be written (" + r.error().message() + "); nothing was changed");
}

void set_or_fail(config::ConfigObject& o, std::string_view name, std::string_view value) {
    if (auto err = o.set(name, value); !err.empty()) fail(err);
}

// The object that records a certificate's files, as Get shows it.
config::ConfigObject object_of(const tls::CertificateInfo& info, bool smtp) {
    config::ConfigObject o(kCertificateKind);
    set_or_fail(o, "Thumbprint", info.thumbprint);
    set_or_fail(o, "Services", smtp ? "SMTP" : "None");
    set_or_fail(o, "Subject", info.subject.substr(0, 1024));
    set_or_fail(o, "Issuer", info.issuer.substr(0, 1024));
    set_or_fail(o, "CertificateDomains", fmt::format("{}", fmt::join(info.domains, ",")));
    set_or_fail(o, "NotBefore", tls::format_utc(info.not_before));
    set_or_fail(o, "NotAfter", tls::format_utc(info.not_after));
    set_or_fail(o, "IsSelfSigned", info.self_signed ? "$true" : "$false");
    return o;
}

Output shown(Context& ctx, const config::ConfigObject& o) {
    Output out;
    Shown s = certificate_record(ctx, config::exchange_certificate_settings(o));
    out.records.push_back(std::move(s.record));
    out.columns = kColumns;
    out.note = s.warning;
    return out;
}

bool smtp_param(const Invocation& inv, bool fallback) {
    const std::string* s = inv.get("Services");
    if (s == nullptr) return fallback;
    bool smtp = false, none = false;
    for (const auto& item : config::split_list(*s)) {
        if (iequals(item, "SMTP")) smtp = true;
        else if (iequals(item, "None")) none = true;
        else
            fail(fmt::format("-Services: '{}' is not a service of this server; expected SMTP or None (IMAP, POP, IIS and UM "
                             "are Exchange's other servers')", item));
    }
    if (smtp && none) fail("-Services: give SMTP or None, not both");
    if (!smtp && !none) fail("-Services: expected SMTP or None");
    return smtp;
}

Output import_certificate(Context& ctx, const Invocation& inv) {
    const std::string* path = inv.get("Path");
    const std::string* key = inv.get("KeyPath");
    if (path == nullptr || path->empty()) fail("-Path is required: the PEM certificate (and its chain)", 2);
    if (key == nullptr || key->empty()) fail("-KeyPath is required: the certificate's PEM private key", 2);
    const bool smtp = smtp_param(inv, false);
    const std::uint64_t generation = ctx.db->config_generation();
    tls::CertificateInfo info;
    try {
        info = tls::import_certificate(ctx.data_directory, *path, *key);
    } catch (const std::exception& e) {
        fail(e.what());
    }
    if (auto existing = config::load_object(*ctx.db, kCertificateKind, info.thumbprint))
        fail(fmt::format("the certificate {} is already imported; 'edgectl Get-ExchangeCertificate -Thumbprint {}' shows it",
                         info.thumbprint, info.thumbprint));
    config::ConfigObject o = object_of(info, smtp);
    write_object(ctx, generation, info.thumbprint, o.serialize());
    return shown(ctx, o);
}

Output new_certificate(Context& ctx, const Invocation& inv) {
    const std::string* subject = inv.get("SubjectName");
    std::vector<std::string> domains;
    if (const std::string* d = inv.get("DomainName")) domains = config::split_list(*d);
    for (const auto& d : domains)
        if (auto err = config::check_element(config::ElementKind::DomainPattern, d))
            fail(fmt::format("-DomainName '{}': {}", d, *err));
    std::string subject_name = subject ? *subject : std::string();
    if (subject_name.empty()) {
        if (domains.empty()) fail("give -SubjectName \"CN=mail.contoso.com\" or -DomainName mail.contoso.com", 2);
        subject_name = "CN=" + domains.front();
    }
    const bool smtp = smtp_param(inv, true);
    const std::uint64_t generation = ctx.db->config_generation();
    tls::CertificateInfo info;
    try {
        info = tls::new_self_signed_certificate(ctx.data_directory, subject_name, domains);
    } catch (const std::exception& e) {
        fail(e.what());
    }
    config::ConfigObject o = object_of(info, smtp);
    write_object(ctx, generation, info.thumbprint, o.serialize());
    return shown(ctx, o);
}

Output get_certificates(Context& ctx, const Invocation& inv) {
    std::optional<std::string> wanted;
    if (inv.has("Thumbprint")) wanted = thumbprint_param(inv);
    std::vector<Record> records;
    std::map<std::string, std::string> warnings;  // by thumbprint: said only for what -Filter keeps
    for (const auto& c : load_certificates(ctx)) {
        if (wanted && c.thumbprint != *wanted) continue;
        Shown s = certificate_record(ctx, c);
        records.push_back(std::move(s.record));
        if (!s.warning.empty()) warnings.emplace(c.thumbprint, std::move(s.warning));
    }
    if (wanted && records.empty())
        fail(fmt::format("no certificate with thumbprint {}; 'edgectl Get-ExchangeCertificate' lists them", *wanted));
    Output out;
    out.records = select_records(std::move(records), inv, certificate_record(ctx, {}).record.names());
    out.columns = kColumns;
    std::vector<std::string> said;
    for (const auto& r : out.records)
        if (const Value* t = r.find("Thumbprint"); t != nullptr && warnings.contains(t->text)) said.push_back(warnings[t->text]);
    out.note = fmt::format("{}", fmt::join(said, "\n"));
    return out;
}

Output enable_certificate(Context& ctx, const Invocation& inv) {
    const std::string thumbprint = thumbprint_param(inv);
    if (!inv.has("Services")) fail("-Services is required: SMTP (or None to stop offering it)", 2);
    const bool smtp = smtp_param(inv, true);
    const std::uint64_t generation = ctx.db->config_generation();
    config::ConfigObject o = stored_or_fail(ctx, thumbprint);
    if (smtp) {
        // What the server will load: refuse here rather than have it skipped there.
        try {
            const tls::CertificateInfo info = tls::read_stored_certificate(ctx.data_directory, thumbprint);
            const auto now = std::chrono::system_clock::now();
            if (status_of(info, now) != "Valid")
                fail(fmt::format("the certificate {} is not valid now (NotBefore {}, NotAfter {}); SMTP clients would refuse it",
                                 thumbprint, tls::format_utc(info.not_before), tls::format_utc(info.not_after)));
        } catch (const std::runtime_error& e) {
            fail(fmt::format("the certificate {} cannot be offered: {}", thumbprint, e.what()));
        }
    }
    set_or_fail(o, "Services", smtp ? "SMTP" : "None");
    write_object(ctx, generation, thumbprint, o.serialize());
    Output out = shown(ctx, o);
    if (out.note.empty())
        out.note = smtp ? "new STARTTLS sessions get it within ConfigPollInterval (sessions in flight keep theirs)"
                        : "new STARTTLS sessions no longer get it";
    return out;
}

// The one in use is refused: removing the only certificate enabled for SMTP would put
// every new session back on the bootstrap certificate unannounced. Enable another
// first, or -Services None on this one to go back to the bootstrap certificate on purpose.
Output remove_certificate(Context& ctx, const Invocation& inv) {
    const std::string thumbprint = thumbprint_param(inv);
    const std::uint64_t generation = ctx.db->config_generation();
    const auto c = config::exchange_certificate_settings(stored_or_fail(ctx, thumbprint));
    if (c.services.has(config::CertificateService::SMTP)) {
        bool another = false;
        for (const auto& other : load_certificates(ctx))
            another = another || (other.thumbprint != thumbprint && other.services.has(config::CertificateService::SMTP));
        if (!another)
            fail(fmt::format("the certificate {} is the one STARTTLS offers; enable another first "
                             "(Enable-ExchangeCertificate -Services SMTP), or 'Enable-ExchangeCertificate -Thumbprint {} "
                             "-Services None' to go back to the bootstrap certificate",
                             thumbprint, thumbprint));
    }
    write_object(ctx, generation, thumbprint, std::nullopt);
    tls::remove_certificate_files(ctx.data_directory, thumbprint);
    return {};
}

ParamDef thumbprint_def(bool positional) {
    return {"Thumbprint", "String", "", "The certificate's SHA-1 thumbprint (40 hex digits, as Get-ExchangeCertificate shows it)",
            false, false, positional};
}
}  // namespace

void add_certificate_cmdlets(std::vector<Cmdlet>& table) {
    table.push_back(Cmdlet{"Import-ExchangeCertificate",
                           "Import a certificate and its private key (PEM files; Exchange takes a PFX) into "
                           "<DataDirectory>/certificates; Enable-ExchangeCertificate -Services SMTP offers it",
                           {{"Path", "LocalLongFullPath", "", "PEM file of the certificate, then its chain"},
                            {"KeyPath", "LocalLongFullPath", "", "PEM file of its private key, unencrypted (stored 0600)"},
                            {"Services", "Flags (None, SMTP)", "None", "SMTP: offer it to STARTTLS now"}},
                           true, import_certificate});
    table.push_back(Cmdlet{"New-ExchangeCertificate",
                           "Make a self-signed certificate (EC P-256, 5 years) for STARTTLS",
                           {{"SubjectName", "X500DistinguishedName", "", "The subject, \"CN=mail.contoso.com\"; default CN=<first DomainName>"},
                            {"DomainName", "Fqdn[]", "", "Its names (subjectAltName); default the CN", false, true},
                            {"Services", "Flags (None, SMTP)", "SMTP", "SMTP: offer it to STARTTLS now"}},
                           true, new_certificate});
    Cmdlet get{"Get-ExchangeCertificate",
               "List the certificates (a warning for each within 30 days of NotAfter), or one",
               {thumbprint_def(true)},
               true, get_certificates};
    for (auto& p : output_params()) get.params.push_back(std::move(p));
    table.push_back(std::move(get));
    table.push_back(Cmdlet{"Enable-ExchangeCertificate",
                           "Offer a certificate to STARTTLS (-Services SMTP) or stop (-Services None); new sessions "
                           "see it without a restart, SNI chooses among several",
                           {thumbprint_def(true), {"Services", "Flags (None, SMTP)", "", "SMTP, or None"}},
                           true, enable_certificate});
    table.push_back(Cmdlet{"Remove-ExchangeCertificate",
                           "Delete a certificate and its key (not the one STARTTLS offers while no other is enabled)",
                           {thumbprint_def(true),
                            {"Confirm", "Switch", "", "Accepted for Exchange scripts; edgectl never prompts", true}},
                           true, remove_certificate});
}

}  // namespace edge::cli
