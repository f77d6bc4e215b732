// The typed settings each consumer reads: one struct per object kind, every member
// bound to one row of the settings table (settings.cpp) by typed_settings.cpp, with
// real enums, sizes, time spans and lists. A test fails when a row has no member, a
// member's type cannot hold its row, or a struct's defaults are not the table's.
#pragma once

#include "settings.hpp"

#include "accepted_domains.hpp"
#include "address_space.hpp"
#include "ip.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edge::config {

// ---- enums, in the order of the table's `choices` (a test compares the names) ----------

enum class ProtocolLoggingLevel : std::uint8_t { None, Verbose };
enum class SizeEnabled : std::uint8_t { Disabled, Enabled, EnabledWithoutValue };
enum class SmartHostAuthMechanism : std::uint8_t { None, BasicAuth, BasicAuthRequireTLS, ExchangeServer, ExternalAuthoritative };
enum class PermissionGroup : std::uint8_t {
    None, AnonymousUsers, ExchangeUsers, ExchangeServers, ExchangeLegacyServers, Partners, Custom
};
enum class AuthMechanism : std::uint8_t {
    None, Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer, ExternalAuthoritative
};
using DomainType = routing::AcceptedDomainType;  // Authoritative, InternalRelay, ExternalRelay
enum class SenderFilterAction : std::uint8_t { Reject, StampStatus };
// Issue 18: what the Sender ID agent does with SPF Fail / TempError (reference §9.3), and
// what the DMARC agent does with a policy it is asked to honour.
enum class SenderIdAction : std::uint8_t { StampStatus, Reject, Delete };
enum class DmarcAction : std::uint8_t { Reject, Quarantine, StampStatus };
enum class DkimAlgorithm : std::uint8_t { RsaSha256, Ed25519Sha256 };
// Issue 19: what a milter's failure means (Postfix's milter_default_action) and who acts
// on its verdict.
enum class MilterDefaultAction : std::uint8_t { Accept, TempFail, Reject };
enum class MilterVerdictHandling : std::uint8_t { Apply, ContentFilter };
// Issue 19: Set-AttachmentFilterListConfig -Action, and an entry's -Type.
enum class AttachmentFilterAction : std::uint8_t { Reject, Strip, SilentDelete };
enum class AttachmentType : std::uint8_t { FileName, ContentType };
// Issue 19: a custom phrase's effect on the SCL (Add-ContentFilterPhrase -Influence).
enum class PhraseInfluence : std::uint8_t { GoodWord, BadWord };
// Issue 20: Set-SendConnector -TlsAuthLevel (None is Exchange's $null: opportunistic).
enum class TlsAuthLevel : std::uint8_t { None, EncryptionOnly, CertificateValidation, DomainValidation };
// Issue 20: what a certificate serves (Exchange's AllowedExchangeServices; only SMTP is ours).
enum class CertificateService : std::uint8_t { None, SMTP };

template <class E> struct EnumNames;
template <> struct EnumNames<ProtocolLoggingLevel> {
    static constexpr std::array<std::string_view, 2> names{"None", "Verbose"};
};
template <> struct EnumNames<TlsAuthLevel> {
    static constexpr std::array<std::string_view, 4> names{"None", "EncryptionOnly", "CertificateValidation",
                                                           "DomainValidation"};
};
template <> struct EnumNames<SizeEnabled> {
    static constexpr std::array<std::string_view, 3> names{"Disabled", "Enabled", "EnabledWithoutValue"};
};
template <> struct EnumNames<SmartHostAuthMechanism> {
    static constexpr std::array<std::string_view, 5> names{"None", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer",
                                                           "ExternalAuthoritative"};
};
template <> struct EnumNames<PermissionGroup> {
    static constexpr std::array<std::string_view, 7> names{"None", "AnonymousUsers", "ExchangeUsers", "ExchangeServers",
                                                           "ExchangeLegacyServers", "Partners", "Custom"};
};
template <> struct EnumNames<AuthMechanism> {
    static constexpr std::array<std::string_view, 7> names{"None", "Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS",
                                                           "ExchangeServer", "ExternalAuthoritative"};
};
template <> struct EnumNames<DomainType> {
    static constexpr std::array<std::string_view, 3> names{"Authoritative", "InternalRelay", "ExternalRelay"};
};
template <> struct EnumNames<SenderFilterAction> {
    static constexpr std::array<std::string_view, 2> names{"Reject", "StampStatus"};
};
template <> struct EnumNames<SenderIdAction> {
    static constexpr std::array<std::string_view, 3> names{"StampStatus", "Reject", "Delete"};
};
template <> struct EnumNames<DmarcAction> {
    static constexpr std::array<std::string_view, 3> names{"Reject", "Quarantine", "StampStatus"};
};
template <> struct EnumNames<AttachmentFilterAction> {
    static constexpr std::array<std::string_view, 3> names{"Reject", "Strip", "SilentDelete"};
};
template <> struct EnumNames<AttachmentType> {
    static constexpr std::array<std::string_view, 2> names{"FileName", "ContentType"};
};
template <> struct EnumNames<PhraseInfluence> {
    static constexpr std::array<std::string_view, 2> names{"GoodWord", "BadWord"};
};
template <> struct EnumNames<CertificateService> {
    static constexpr std::array<std::string_view, 2> names{"None", "SMTP"};
};
template <> struct EnumNames<DkimAlgorithm> {
    static constexpr std::array<std::string_view, 2> names{"rsa-sha256", "ed25519-sha256"};
};
template <> struct EnumNames<MilterDefaultAction> {
    static constexpr std::array<std::string_view, 3> names{"Accept", "TempFail", "Reject"};
};
template <> struct EnumNames<MilterVerdictHandling> {
    static constexpr std::array<std::string_view, 2> names{"Apply", "ContentFilter"};
};

// Exchange's name of an enum value, as the table spells it.
template <class E>
constexpr std::string_view to_name(E e) {
    return EnumNames<E>::names[static_cast<std::size_t>(e)];
}

// A Flags setting (PermissionGroups, AuthMechanism): a set of its enum's values.
template <class E>
struct FlagSet {
    std::uint32_t bits = 0;
    constexpr FlagSet() = default;
    constexpr FlagSet(std::initializer_list<E> flags) {
        for (E f : flags) bits |= 1u << static_cast<unsigned>(f);
    }
    constexpr bool has(E f) const { return (bits >> static_cast<unsigned>(f)) & 1u; }
    constexpr void add(E f) { bits |= 1u << static_cast<unsigned>(f); }
    friend bool operator==(const FlagSet&, const FlagSet&) = default;
};

// AuthenticationCredential "user:password"; the password is never logged or shown.
struct Credential {
    std::string user, password;
    bool empty() const { return user.empty() && password.empty(); }
    friend bool operator==(const Credential&, const Credential&) = default;
};

// ---- one struct per object kind; members are the settings' stems -----------------------
// kUnlimited marks "unlimited" in Int and ByteSize members (std::uint64_t).

struct ReceiveConnectorSettings {
    std::string name;
    bool enabled = true;
    std::vector<routing::Binding> bindings;
    std::vector<routing::IpRange> remote_ip_ranges{routing::IpRange::whole_v4(), routing::IpRange::whole_v6()};
    std::string fqdn;  // empty = the server FQDN
    std::string banner;
    std::string comment;
    std::uint64_t max_message_size = 10u << 20;
    std::uint64_t max_header_size = 64u << 10;
    std::uint64_t max_recipients_per_message = 200;
    std::uint64_t max_inbound_connection = 5000;
    std::uint64_t max_inbound_connection_per_source = 100;
    std::uint64_t max_inbound_connection_percentage_per_source = 2;
    std::chrono::seconds connection_timeout{300};
    std::chrono::seconds connection_inactivity_timeout{60};
    std::uint64_t max_protocol_errors = 5;
    std::uint64_t max_hop_count = 30;
    std::chrono::seconds tarpit_interval{5};
    FlagSet<PermissionGroup> permission_groups{PermissionGroup::AnonymousUsers};
    FlagSet<AuthMechanism> auth_mechanism{AuthMechanism::Tls};
    std::vector<std::string> tls_pinned_client_certificates;  // SHA-256, upper-case hex
    bool domain_secure_enabled = false;  // issue 20: Domain Security (TLSReceiveDomainSecureList)
    bool require_tls = false;
    bool require_ehlo_domain = false;
    ProtocolLoggingLevel protocol_logging_level = ProtocolLoggingLevel::None;
    SizeEnabled size_enabled = SizeEnabled::Enabled;
    bool pipelining_enabled = true;
    bool chunking_enabled = true;
    bool eight_bit_mime_enabled = true;
    bool delivery_status_notification_enabled = true;
    bool enhanced_status_codes_enabled = true;
    bool smtp_utf8_enabled = true;
    std::chrono::seconds pre_greet_delay{0};           // 0 = no pre-greet test
    std::chrono::seconds pre_greet_cache_time{86400};  // how long a polite client is remembered
    friend bool operator==(const ReceiveConnectorSettings&, const ReceiveConnectorSettings&) = default;
};

struct AcceptedDomainSettings {
    std::string name;
    std::string domain_name;
    DomainType domain_type = DomainType::Authoritative;
    bool default_domain = false;  // Default
    friend bool operator==(const AcceptedDomainSettings&, const AcceptedDomainSettings&) = default;
};

struct SendConnectorSettings {
    std::string name;
    bool enabled = true;
    std::vector<routing::AddressSpace> address_spaces;
    bool dns_routing_enabled = true;
    std::vector<std::string> smart_hosts;  // "[192.0.2.1]" or host names, canonical
    SmartHostAuthMechanism smart_host_auth_mechanism = SmartHostAuthMechanism::None;
    Credential authentication_credential;
    std::uint64_t port = 25;
    std::string source_ip_address = "0.0.0.0";
    std::string fqdn;  // empty = the server FQDN
    std::uint64_t max_message_size = 10u << 20;  // kUnlimited = none
    bool require_tls = false;
    bool ignore_starttls = false;
    bool force_helo = false;
    std::chrono::seconds connection_inactivity_timeout{600};
    bool use_external_dns_servers_enabled = false;
    bool allow_private_target_addresses = false;
    ProtocolLoggingLevel protocol_logging_level = ProtocolLoggingLevel::None;
    std::uint64_t smtp_max_messages_per_connection = 20;
    TlsAuthLevel tls_auth_level = TlsAuthLevel::None;
    std::string tls_domain;            // empty = the host's own name
    std::string tls_certificate_name;  // "<I>issuer<S>subject" or a thumbprint; empty = none
    bool domain_secure_enabled = false;
    std::string comment;
    friend bool operator==(const SendConnectorSettings&, const SendConnectorSettings&) = default;
};

struct TransportServerSettings {
    std::string receive_protocol_log_path;  // empty = <DataDirectory>/Logs/ProtocolLog/SmtpReceive
    std::uint64_t receive_protocol_log_max_file_size = 10u << 20;
    std::uint64_t receive_protocol_log_max_directory_size = 250u << 20;
    std::chrono::seconds receive_protocol_log_max_age{30 * 86400};
    std::chrono::seconds message_expiration_timeout{2 * 86400};
    std::string send_protocol_log_path;
    std::uint64_t send_protocol_log_max_file_size = 10u << 20;
    std::uint64_t send_protocol_log_max_directory_size = 250u << 20;
    std::chrono::seconds send_protocol_log_max_age{30 * 86400};
    bool message_tracking_log_enabled = true;
    std::string message_tracking_log_path;
    std::uint64_t message_tracking_log_max_file_size = 10u << 20;
    std::uint64_t message_tracking_log_max_directory_size = 250u << 20;
    std::chrono::seconds message_tracking_log_max_age{30 * 86400};
    bool message_tracking_log_subject_logging_enabled = true;
    std::vector<std::string> external_dns_servers;
    std::string tls_certificate_authority_file;
    std::string dnssec_validating_resolver;  // "" = no DANE
    std::vector<std::string> internal_dns_servers;
    std::uint64_t max_outbound_connections = 1000;
    std::uint64_t max_per_domain_outbound_connections = 20;
    std::uint64_t queue_glitch_retry_count = 4;
    std::chrono::seconds queue_glitch_retry_interval{60};
    std::uint64_t transient_failure_retry_count = 6;
    std::chrono::seconds transient_failure_retry_interval{600};
    std::chrono::seconds outbound_connection_failure_retry_interval{1800};
    std::chrono::seconds message_retry_interval{300};
    std::chrono::seconds delay_notification_timeout{4 * 3600};
    bool external_delay_dsn_enabled = true;
    std::string external_postmaster_address;  // empty = postmaster@<Default accepted domain> or @<server FQDN>
    std::uint64_t external_dsn_max_message_attach_size = 10u << 20;
    std::string send_copy_of_ndr_to;
    std::string edge_sync_listen_address = "127.0.0.1";
    bool agent_log_enabled = true;
    std::string agent_log_path;  // empty = <DataDirectory>/Logs/AgentLog
    std::uint64_t agent_log_max_file_size = 10u << 20;
    std::uint64_t agent_log_max_directory_size = 250u << 20;
    std::chrono::seconds agent_log_max_age{7 * 86400};
    bool mta_sts_enabled = true;                  // transport/sts/ (issue 20)
    std::uint64_t mta_sts_policy_port = 443;
    std::chrono::seconds mta_sts_fetch_timeout{60};
    bool tls_reporting_enabled = true;
    // transport/metrics/ (issue 21): empty = no metrics endpoint.
    std::vector<routing::Binding> metrics_bindings{routing::Binding{*routing::IpAddress::parse("127.0.0.1").value, 9525}};
    // Issue 21, item 5: the Pickup directory, the connectivity log, poison, idle queues.
    std::string pickup_directory_path;  // empty = <DataDirectory>/Pickup
    std::uint64_t pickup_directory_max_messages_per_minute = 100;
    std::uint64_t pickup_directory_max_header_size = 64u << 10;
    std::uint64_t pickup_directory_max_recipients_per_message = 100;
    bool connectivity_log_enabled = false;
    std::string connectivity_log_path;  // empty = <DataDirectory>/Logs/Connectivity
    std::chrono::seconds connectivity_log_max_age{30 * 86400};
    std::uint64_t connectivity_log_max_directory_size = 1000ull << 20;
    std::uint64_t connectivity_log_max_file_size = 10u << 20;
    bool poison_message_detection_enabled = true;
    std::uint64_t poison_threshold = 2;
    std::chrono::seconds queue_max_idle_time{180};
    friend bool operator==(const TransportServerSettings&, const TransportServerSettings&) = default;
};

struct RecipientFilterConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    bool block_list_enabled = false;
    std::vector<std::string> blocked_recipients;
    bool recipient_validation_enabled = false;
    friend bool operator==(const RecipientFilterConfigSettings&, const RecipientFilterConfigSettings&) = default;
};

// The Protocol Analysis agent's configuration (Set-SenderReputationConfig).
struct SenderReputationConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    int srl_block_threshold = 7;
    bool sender_blocking_enabled = true;
    int sender_blocking_period = 24;  // hours
    bool open_proxy_detection_enabled = false;
    int max_tracked_addresses = 100000;
    std::chrono::seconds reputation_flush_interval{5};
    friend bool operator==(const SenderReputationConfigSettings&, const SenderReputationConfigSettings&) = default;
};

// One transport agent's switches (Enable-/Disable-/Set-TransportAgent); the object's
// name is the agent's.
struct TransportAgentSettings {
    bool enabled = true;
    std::uint64_t priority = 1;
    friend bool operator==(const TransportAgentSettings&, const TransportAgentSettings&) = default;
};

// Issue 17, the Connection Filtering Agent. One IP Block List or IP Allow List entry
// (both kinds have the same settings); the object's name is its Identity. ip_range and
// expiration_time are their canonical texts: agents/ip_list.hpp reads them.
struct IpListEntrySettings {
    std::string ip_range;
    std::string expiration_time;  // "2026-12-31T00:00:00Z" (UTC) or empty = never
    std::string comment;
    bool is_machine = false;
    friend bool operator==(const IpListEntrySettings&, const IpListEntrySettings&) = default;
};
struct IPBlockListConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    std::string static_entry_rejection_response;   // empty = the built-in text
    std::string machine_entry_rejection_response;  // empty = the built-in text
    friend bool operator==(const IPBlockListConfigSettings&, const IPBlockListConfigSettings&) = default;
};
struct IPAllowListConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    friend bool operator==(const IPAllowListConfigSettings&, const IPAllowListConfigSettings&) = default;
};
struct TransportConfigSettings {
    std::vector<std::string> tls_send_domain_secure_list;
    std::vector<routing::IpRange> internal_smtp_servers;
    std::vector<std::string> tls_receive_domain_secure_list;  // issue 20: Domain Security partners (inbound)
    // Issue 21: the organisation limits (kUnlimited = unlimited).
    std::uint64_t max_receive_size = 10u << 20;
    std::uint64_t max_send_size = 10u << 20;
    std::uint64_t max_recipient_envelope_limit = 5000;
    std::vector<std::string> generate_copy_of_dsn_for{"5.4.8", "5.4.6", "5.4.4", "5.2.4", "5.2.0", "5.1.4"};
    friend bool operator==(const TransportConfigSettings&, const TransportConfigSettings&) = default;
};
// One IP Block List provider (DNSBL) or IP Allow List provider (DNSWL), Exchange's
// Add-IPBlockListProvider / Add-IPAllowListProvider; read by agents/ip_providers.*.
struct IPBlockListProviderSettings {
    std::string name;
    std::string lookup_domain;
    bool any_match = false;
    std::string bitmask_match;                  // a 127.0.0.0/8 address, or empty
    std::vector<std::string> ip_addresses_match;  // 127.0.0.0/8 addresses
    std::uint64_t priority = 1;
    std::string rejection_response;  // empty = Exchange's default text
    bool enabled = true;
    std::uint64_t weight = 1;
    friend bool operator==(const IPBlockListProviderSettings&, const IPBlockListProviderSettings&) = default;
};
struct IPAllowListProviderSettings {
    std::string name;
    std::string lookup_domain;
    bool any_match = false;
    std::string bitmask_match;
    std::vector<std::string> ip_addresses_match;
    std::uint64_t priority = 1;
    bool enabled = true;
    friend bool operator==(const IPAllowListProviderSettings&, const IPAllowListProviderSettings&) = default;
};
struct IPBlockListProvidersConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    std::vector<std::string> bypassed_recipients;
    std::uint64_t threshold = 1;
    std::chrono::seconds lookup_timeout{5};
    friend bool operator==(const IPBlockListProvidersConfigSettings&, const IPBlockListProvidersConfigSettings&) = default;
};
struct IPAllowListProvidersConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    friend bool operator==(const IPAllowListProvidersConfigSettings&, const IPAllowListProvidersConfigSettings&) = default;
};
// Set-SenderFilterConfig (issue 17); the Sender Filter Agent reads it (transport/agents/sender_filter.hpp).
struct SenderFilterConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    std::vector<std::string> blocked_senders;               // addresses, the domain canonical
    std::vector<std::string> blocked_domains;               // lower case
    std::vector<std::string> blocked_domains_and_subdomains;  // lower case, "*.x" or "x"
    bool blank_sender_blocking_enabled = false;
    SenderFilterAction action = SenderFilterAction::Reject;
    friend bool operator==(const SenderFilterConfigSettings&, const SenderFilterConfigSettings&) = default;
};

// Issue 19: Set-AttachmentFilterListConfig and one AttachmentFilterEntry (the
// Attachment Filtering Agent, transport/agents/attachment_filter.hpp).
struct AttachmentFilterListConfigSettings {
    AttachmentFilterAction action = AttachmentFilterAction::Reject;
    std::string reject_response = "Message rejected due to unacceptable attachments";
    std::string admin_message = "This attachment was removed.";
    std::vector<std::string> exception_connectors;
    int max_mime_depth = 30;
    int max_mime_parts = 1000;
    friend bool operator==(const AttachmentFilterListConfigSettings&, const AttachmentFilterListConfigSettings&) = default;
};
struct AttachmentFilterEntrySettings {
    std::string name;
    AttachmentType type = AttachmentType::FileName;
    friend bool operator==(const AttachmentFilterEntrySettings&, const AttachmentFilterEntrySettings&) = default;
};

// Issue 18: Set-SenderIdConfig (the Sender ID agent, evaluated as SPF), and ours:
// Set-DkimVerificationConfig, Set-DmarcConfig, New-DkimSigningConfig. The agents read them
// (transport/agents/auth_agents.hpp); signing is done at acceptance (transport/server/).
struct SenderIdConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    SenderIdAction spoofed_domain_action = SenderIdAction::StampStatus;
    SenderIdAction temp_error_action = SenderIdAction::StampStatus;
    std::vector<std::string> bypassed_recipients;
    std::vector<std::string> bypassed_sender_domains;
    friend bool operator==(const SenderIdConfigSettings&, const SenderIdConfigSettings&) = default;
};
struct DkimVerificationConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    int max_signatures = 5;
    friend bool operator==(const DkimVerificationConfigSettings&, const DkimVerificationConfigSettings&) = default;
};
struct DmarcConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    DmarcAction reject_policy_action = DmarcAction::Reject;
    DmarcAction quarantine_policy_action = DmarcAction::Quarantine;
    DmarcAction bad_from_action = DmarcAction::Reject;
    std::string auth_serv_id;  // empty: the server's FQDN
    friend bool operator==(const DmarcConfigSettings&, const DmarcConfigSettings&) = default;
};
struct DkimSigningConfigSettings {
    std::string name;
    std::string domain_name;  // lower case
    std::string selector;
    DkimAlgorithm algorithm = DkimAlgorithm::RsaSha256;
    std::string key_file;
    bool enabled = true;
    friend bool operator==(const DkimSigningConfigSettings&, const DkimSigningConfigSettings&) = default;
};
// Issue 19: New-MilterServer (transport/agents/milter_agent.* reads it).
struct MilterServerSettings {
    std::string name;
    std::string address;  // canonical: "host:port", "[v6]:port" or "unix:/path"
    int protocol = 6;
    std::chrono::seconds connect_timeout{30};
    std::chrono::seconds command_timeout{30};
    MilterDefaultAction default_action = MilterDefaultAction::TempFail;
    MilterVerdictHandling verdict_handling = MilterVerdictHandling::Apply;
    bool enabled = true;
    int priority = 1;
    friend bool operator==(const MilterServerSettings&, const MilterServerSettings&) = default;
};

// Issue 19: New-AddressRewriteEntry (reference §9.8). The shapes are checked by
// validate_object; the Address Rewriting agents read them (transport/agents/address_rewrite.hpp).
struct AddressRewriteEntrySettings {
    std::string name;
    std::string internal_address;  // "a@b", "b" or "*.b", as written
    std::string external_address;  // "a@b" or "b"
    std::vector<std::string> exception_list;  // lower case domains
    bool outbound_only = false;
    friend bool operator==(const AddressRewriteEntrySettings&, const AddressRewriteEntrySettings&) = default;
};

// Issue 19: Set-ContentFilterConfig and the custom phrases; the Content Filter agent
// reads them (transport/agents/content_filter.hpp).
struct ContentFilterConfigSettings {
    bool enabled = true;
    bool external_mail_enabled = true;
    bool internal_mail_enabled = false;
    bool scl_delete_enabled = false;
    int scl_delete_threshold = 9;
    bool scl_reject_enabled = true;
    int scl_reject_threshold = 7;
    bool scl_quarantine_enabled = false;
    int scl_quarantine_threshold = 9;
    std::string quarantine_mailbox;
    std::string rejection_response = "Message rejected as spam by Content Filtering";
    std::vector<std::string> bypassed_recipients;
    std::vector<std::string> bypassed_senders;
    std::vector<std::string> bypassed_sender_domains;  // "domain" or "*.domain"
    std::uint64_t max_scanned_message_size = 11u << 20;
    int milter_reject_scl = 9;
    int milter_discard_scl = 9;
    int milter_quarantine_scl = 8;
    int milter_temp_fail_scl = 5;
    int scanner_spam_flag_scl = 6;
    std::vector<std::string> scanner_score_thresholds{"0", "1", "2", "3", "4", "6", "8", "10", "15"};
    int dmarc_quarantine_scl_increase = 5;
    int sender_id_soft_fail_scl_increase = 1;
    friend bool operator==(const ContentFilterConfigSettings&, const ContentFilterConfigSettings&) = default;
};
// Issue 20: one certificate of Import-/New-ExchangeCertificate (transport/tls/certificate_store.hpp).
struct ExchangeCertificateSettings {
    std::string thumbprint;  // SHA-1, upper-case hex: <DataDirectory>/certificates/<thumbprint>.pem/.key
    FlagSet<CertificateService> services{CertificateService::None};
    std::string subject, issuer;
    std::vector<std::string> certificate_domains;
    std::string not_before, not_after;  // yyyy-MM-ddTHH:mm:ssZ
    bool is_self_signed = false;
    friend bool operator==(const ExchangeCertificateSettings&, const ExchangeCertificateSettings&) = default;
};
struct ContentFilterPhraseSettings {
    std::string phrase;
    PhraseInfluence influence = PhraseInfluence::BadWord;
    friend bool operator==(const ContentFilterPhraseSettings&, const ContentFilterPhraseSettings&) = default;
};

// The back-pressure keys of the bootstrap file (Exchange's EdgeTransport.exe.config
// names; DatabaseMapUsage* and SubmissionQueueLength* are ours). The monitor
// (backpressure/) reads this struct; its rules between keys are backpressure::validate().
struct BackPressureSettings {
    bool enable_resource_monitoring = true;
    std::chrono::milliseconds resource_monitoring_interval{2000};

    // Percent used of the volume holding the data directory. 0 = derived: High by
    // default_disk_high_threshold(), Medium = High − 2, Normal = Medium − 2. Setting only
    // High moves Medium and Normal with it; Medium or Normal may be set only with High.
    int percentage_database_disk_space_used_high_threshold = 0;
    int percentage_database_disk_space_used_medium_threshold = 0;
    int percentage_database_disk_space_used_normal_threshold = 0;

    // Process private memory as percent of physical RAM.
    int percentage_private_bytes_used_high_threshold = 75;
    int percentage_private_bytes_used_medium_threshold = 73;
    int percentage_private_bytes_used_normal_threshold = 71;

    // Ours: percent of the LMDB map in use (QueueDb::usage()).
    int database_map_usage_high_threshold = 95;
    int database_map_usage_medium_threshold = 93;
    int database_map_usage_normal_threshold = 91;

    // Ours, with Exchange 2013's defaults (2007 has no such key): messages waiting
    // in the submission path.
    std::uint64_t submission_queue_length_high_threshold = 15000;
    std::uint64_t submission_queue_length_medium_threshold = 10000;
    std::uint64_t submission_queue_length_normal_threshold = 2000;

    bool operator==(const BackPressureSettings&) const = default;
};

struct BootstrapSettings {
    std::string data_directory = "/var/lib/edge-transport";
    std::string server_fqdn;  // empty = the host's FQDN
    std::vector<routing::Binding> default_receive_connector_bindings{
        routing::Binding{*routing::IpAddress::parse("0.0.0.0").value, 25},
        routing::Binding{*routing::IpAddress::parse("::").value, 25}};
    std::string tls_certificate_file;
    std::string tls_key_file;
    std::uint64_t lmdb_map_size = 16ull << 30;
    std::uint64_t queue_database_reserve_size = 16u << 20;
    std::chrono::seconds shutdown_timeout{10};
    std::chrono::seconds config_poll_interval{1};
    std::uint64_t receive_session_memory_limit = 512u << 20;
    BackPressureSettings back_pressure;
    friend bool operator==(const BootstrapSettings&, const BootstrapSettings&) = default;
};

// The typed form of a configured object. The object must be of the function's kind
// (std::logic_error otherwise); its values are canonical, so reading cannot fail.
ReceiveConnectorSettings receive_connector_settings(const ConfigObject& o);
AcceptedDomainSettings accepted_domain_settings(const ConfigObject& o);
SendConnectorSettings send_connector_settings(const ConfigObject& o);
TransportServerSettings transport_server_settings(const ConfigObject& o);
RecipientFilterConfigSettings recipient_filter_config_settings(const ConfigObject& o);
TransportAgentSettings transport_agent_settings(const ConfigObject& o);
IPBlockListProviderSettings ip_block_list_provider_settings(const ConfigObject& o);
IPAllowListProviderSettings ip_allow_list_provider_settings(const ConfigObject& o);
IPBlockListProvidersConfigSettings ip_block_list_providers_config_settings(const ConfigObject& o);
IPAllowListProvidersConfigSettings ip_allow_list_providers_config_settings(const ConfigObject& o);
SenderFilterConfigSettings sender_filter_config_settings(const ConfigObject& o);
SenderReputationConfigSettings sender_reputation_config_settings(const ConfigObject& o);
AttachmentFilterListConfigSettings attachment_filter_list_config_settings(const ConfigObject& o);
AttachmentFilterEntrySettings attachment_filter_entry_settings(const ConfigObject& o);
SenderIdConfigSettings sender_id_config_settings(const ConfigObject& o);
DkimVerificationConfigSettings dkim_verification_config_settings(const ConfigObject& o);
DmarcConfigSettings dmarc_config_settings(const ConfigObject& o);
DkimSigningConfigSettings dkim_signing_config_settings(const ConfigObject& o);
MilterServerSettings milter_server_settings(const ConfigObject& o);
AddressRewriteEntrySettings address_rewrite_entry_settings(const ConfigObject& o);
ContentFilterConfigSettings content_filter_config_settings(const ConfigObject& o);
ContentFilterPhraseSettings content_filter_phrase_settings(const ConfigObject& o);
ExchangeCertificateSettings exchange_certificate_settings(const ConfigObject& o);
BootstrapSettings bootstrap_settings(const ConfigObject& o);
IpListEntrySettings ip_list_entry_settings(const ConfigObject& o);  // IPBlockListEntry or IPAllowListEntry
IPBlockListConfigSettings ip_block_list_config_settings(const ConfigObject& o);
IPAllowListConfigSettings ip_allow_list_config_settings(const ConfigObject& o);
TransportConfigSettings transport_config_settings(const ConfigObject& o);

// What binds the table to the structs, checked: every row of every kind bound to
// exactly one member whose type can hold it, no binding to a row that does not
// exist, every enum's names the row's choices. Empty when all is well; each entry
// names the row and the member.
std::vector<std::string> binding_errors();
// The C++ member a row is bound to ("" when none), for tests and messages.
std::string_view bound_member(ObjectKind kind, std::string_view setting);

}  // namespace edge::config
