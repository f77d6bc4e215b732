// The one table of settings: every setting of every configurable object (Receive
// connectors, accepted domains, the transport server, the bootstrap file) is declared
// here once, with Exchange's name, its type, its default, its range and one line of
// meaning. That table drives parsing and validation (edgectl, the bootstrap file),
// the defaults an object gets, `conf/` documentation (a test compares them) and help.
//
// Values travel as text, in the form an administrator writes them ("10MB",
// "00:00:05", "$true", "0.0.0.0:25,[::]:25"), and are stored in canonical form.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edge::config {

enum class SettingType : std::uint8_t {
    Bool,      // $true / $false (true/false, 1/0)
    Int,       // a whole number in [min, max], or "unlimited" when allowed
    ByteSize,  // "10MB", "500KB", "1GB", "65536", or "unlimited" when allowed
    TimeSpan,  // "[d.]hh:mm:ss"
    String,    // free text on one line
    Enum,      // one of `choices`
    Flags,     // a comma list of `choices`
    List,      // a comma list of elements checked by `element`
};

// What one element of a List (or a String with syntax) must be.
enum class ElementKind : std::uint8_t {
    None,          // anything on one line
    Binding,       // IP:port
    IpRange,       // IP, a-b, CIDR
    Domain,        // an SMTP domain (an FQDN)
    DomainPattern, // a domain or *.domain
    Path,          // a file-system path
    CertificatePin, // a SHA-256 certificate fingerprint: 64 hex digits, colons allowed
    AddressSpace,  // a Send connector address space: [SMTP:]domain[;cost], *, --
    SmartHost,     // a host name or an IP address ([brackets] allowed)
    IpAddress,     // an IPv4 or IPv6 address
    DnsServer,     // an IP address, optionally :port ([IPv6]:port)
    EmailAddress,  // local@domain
    Credential,    // user:password
    MilterAddress, // host:port, [IPv6]:port, inet:host:port or unix:/path (issue 19)
};

// Which object a setting belongs to. The config-store kind is the name.
enum class ObjectKind : std::uint8_t {
    Bootstrap,
    ReceiveConnector,
    AcceptedDomain,
    TransportServer,
    SendConnector,
    RecipientFilterConfig,
    TransportAgent,  // one per agent, named by its Identity (issue 16)
    // Issue 17, the Connection Filtering Agent: list entries named by their Identity (an
    // integer), the lists' configurations and Set-TransportConfig (singletons).
    IPBlockListEntry,
    IPAllowListEntry,
    IPBlockListConfig,
    IPAllowListConfig,
    TransportConfig,
    // IP Block/Allow List providers (DNSBL, DNSWL) and their configurations (issue 17)
    IPBlockListProvider,
    IPAllowListProvider,
    IPBlockListProvidersConfig,
    IPAllowListProvidersConfig,
    SenderFilterConfig,  // the Sender Filter Agent's configuration (issue 17), a singleton
    SenderReputationConfig,  // the Protocol Analysis agent (issue 17)
    // Issue 18, who really sent it: the Sender ID agent (SPF), DKIM verification and
    // DMARC (singletons), and DKIM signing configurations (one per domain).
    SenderIdConfig,
    DkimVerificationConfig,
    DmarcConfig,
    DkimSigningConfig,
    // Issue 19: the milters the Milter Agent asks (New-MilterServer), named, in Priority order.
    MilterServer,
    // Issue 19: the Address Rewriting agents' entries (New-AddressRewriteEntry), one per entry.
    AddressRewriteEntry,
    // Issue 19, the Attachment Filtering Agent: its configuration (a singleton) and the
    // entries of its list, named by their Identity ("FileName:*.exe").
    AttachmentFilterListConfig,
    AttachmentFilterEntry,
    // Issue 19: the Content Filter agent's configuration (a singleton) and its custom
    // phrases (one object each, named by the phrase in lower case).
    ContentFilterConfig,
    ContentFilterPhrase,
    // Issue 20: the certificates STARTTLS may offer (Import-/New-ExchangeCertificate), named
    // by Thumbprint.
    ExchangeCertificate,
};
// How many kinds there are (the last one + 1), for code that walks them all.
inline constexpr unsigned kObjectKindCount = static_cast<unsigned>(ObjectKind::ExchangeCertificate) + 1;
const char* to_string(ObjectKind);

struct SettingDef {
    ObjectKind object;
    std::string_view name;           // Exchange's parameter name: config key, C++ lookup key and docs
    SettingType type;
    std::string_view default_value;  // as an administrator writes it; "" = empty / none
    std::uint64_t min = 0, max = 0;  // Int, ByteSize: value range; TimeSpan: seconds
    bool unlimited_allowed = false;  // Int, ByteSize: "unlimited" is a value
    std::string_view choices;        // Enum, Flags: "A,B,C"
    ElementKind element = ElementKind::None;
    bool required = false;           // New-* must give it
    std::string_view meaning;        // one line
    std::string_view source;         // where the default comes from (reference section / Exchange version)
};

std::span<const SettingDef> settings_table();
std::vector<const SettingDef*> settings_of(ObjectKind kind);
// Case-insensitive lookup, as PowerShell parameters are.
const SettingDef* find_setting(ObjectKind kind, std::string_view name);

// Parses `text` for `def` and returns its canonical form, or an error that names the
// setting and says what is expected.
struct Canonical {
    std::string value;
    std::string error;  // empty when valid
    bool ok() const { return error.empty(); }
};
Canonical canonicalize(const SettingDef& def, std::string_view text);

// Typed readers of canonical values.
inline constexpr std::uint64_t kUnlimited = UINT64_MAX;
bool parse_bool(std::string_view text, bool& out);
std::optional<std::uint64_t> parse_byte_size(std::string_view text);  // kUnlimited for "unlimited"
std::optional<std::chrono::seconds> parse_time_span(std::string_view text);
std::string format_time_span(std::chrono::seconds s);  // "d.hh:mm:ss" or "hh:mm:ss"
std::vector<std::string> split_list(std::string_view text);  // comma list, items trimmed, empties dropped
// A decimal score ("-1.5", "15"), as scanners write them; nullopt when it is none.
std::optional<double> parse_score(std::string_view text);

// One configured object: every setting of its kind, canonical text by name. Built
// from defaults, then the stored record, then an administrator's changes.
class ConfigObject {
public:
    explicit ConfigObject(ObjectKind kind);  // every setting at its default
    ObjectKind kind() const { return kind_; }

    // Sets a value after canonicalize(); returns the error, or "" when applied.
    std::string set(std::string_view name, std::string_view text);
    const std::string& text(std::string_view name) const;  // the canonical text; the setting must exist

    bool get_bool(std::string_view name) const;
    std::uint64_t get_uint(std::string_view name) const;  // Int and ByteSize; kUnlimited for unlimited
    std::chrono::seconds get_time_span(std::string_view name) const;
    std::vector<std::string> get_list(std::string_view name) const;  // List and Flags
    bool has_flag(std::string_view name, std::string_view flag) const;

    // The stored form: "Name=value" lines in table order. Values never hold CR or LF.
    std::string serialize() const;
    // Reads a stored record over the defaults. Unknown names (a newer version's
    // settings) are kept aside and written back unchanged; bad values are errors.
    static std::optional<ConfigObject> deserialize(ObjectKind kind, std::string_view record, std::string* error);

    const std::map<std::string, std::string, std::less<>>& values() const { return values_; }

private:
    ObjectKind kind_;
    std::map<std::string, std::string, std::less<>> values_;  // canonical name -> canonical text
    std::string unknown_;                                     // lines we do not know, kept verbatim
};

// Rules between settings of one object (Exchange's Set-ReceiveConnector checks):
// returns the errors, each naming the parameters involved.
std::vector<std::string> validate_object(const ConfigObject& object);

}  // namespace edge::config
