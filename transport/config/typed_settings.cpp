// Binds each row of the settings table to its member of a typed struct, and reads a
// configured object into that struct. The bindings are the one place a setting's
// name meets C++: consumers read members, never names.
#include "typed_settings.hpp"

#include <stdexcept>
#include <type_traits>
#include <utility>

namespace edge::config {

namespace {

template <class S>
struct Binding {
    std::string_view setting;  // the row's name (Exchange's)
    std::string_view member;   // the C++ member, for messages
    void (*read)(S&, const SettingDef&, const std::string& canonical);
    bool (*fits)(const SettingDef&);  // the member's type can hold the row's values
};

// ---- what each member type takes, and how it reads a canonical value ---------------

template <class T> struct is_flag_set : std::false_type {};
template <class E> struct is_flag_set<FlagSet<E>> : std::true_type {};
template <class T> concept Enumerated = std::is_enum_v<T>;

template <class E>
std::size_t choice_index(std::string_view canonical) {
    const auto& names = EnumNames<E>::names;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == canonical) return i;
    throw std::logic_error("'" + std::string(canonical) + "' is not a value of its enum");
}

template <class T>
bool fits(const SettingDef& d) {
    using Ty = SettingType;
    if constexpr (std::is_same_v<T, bool>) return d.type == Ty::Bool;
    else if constexpr (std::is_same_v<T, std::uint64_t>) return d.type == Ty::Int || d.type == Ty::ByteSize;
    // Percentages and the like: only when the row's range fits an int and has no "unlimited".
    else if constexpr (std::is_same_v<T, int>) return d.type == Ty::Int && !d.unlimited_allowed && d.max <= INT32_MAX;
    else if constexpr (std::is_same_v<T, std::chrono::seconds> || std::is_same_v<T, std::chrono::milliseconds>)
        return d.type == Ty::TimeSpan;
    else if constexpr (std::is_same_v<T, std::string>) return d.type == Ty::String;
    else if constexpr (std::is_same_v<T, Credential>) return d.type == Ty::String && d.element == ElementKind::Credential;
    else if constexpr (std::is_same_v<T, std::vector<std::string>>) return d.type == Ty::List;
    else if constexpr (std::is_same_v<T, std::vector<routing::Binding>>)
        return d.type == Ty::List && d.element == ElementKind::Binding;
    else if constexpr (std::is_same_v<T, std::vector<routing::IpRange>>)
        return d.type == Ty::List && d.element == ElementKind::IpRange;
    else if constexpr (std::is_same_v<T, std::vector<routing::AddressSpace>>)
        return d.type == Ty::List && d.element == ElementKind::AddressSpace;
    else static_assert(sizeof(T) == 0, "a member type the table cannot bind");
}

void read_value(bool& m, const SettingDef&, const std::string& t) { m = t == "$true"; }
void read_value(std::uint64_t& m, const SettingDef&, const std::string& t) {
    m = t == "unlimited" ? kUnlimited : parse_byte_size(t).value_or(0);
}
void read_value(int& m, const SettingDef&, const std::string& t) {
    m = static_cast<int>(parse_byte_size(t).value_or(0));  // fits<int>: the row's max is an int
}
void read_value(std::chrono::seconds& m, const SettingDef&, const std::string& t) {
    m = parse_time_span(t).value_or(std::chrono::seconds(0));
}
void read_value(std::chrono::milliseconds& m, const SettingDef&, const std::string& t) {
    m = parse_time_span(t).value_or(std::chrono::seconds(0));
}
void read_value(std::string& m, const SettingDef&, const std::string& t) { m = t; }
void read_value(Credential& m, const SettingDef&, const std::string& t) {
    m = {};
    if (auto colon = t.find(':'); colon != std::string::npos) m = {t.substr(0, colon), t.substr(colon + 1)};
}
void read_value(std::vector<std::string>& m, const SettingDef&, const std::string& t) { m = split_list(t); }
void read_value(std::vector<routing::Binding>& m, const SettingDef&, const std::string& t) {
    m.clear();
    for (const auto& item : split_list(t))
        if (auto v = routing::Binding::parse(item)) m.push_back(*v.value);
}
void read_value(std::vector<routing::IpRange>& m, const SettingDef&, const std::string& t) {
    m.clear();
    for (const auto& item : split_list(t))
        if (auto v = routing::IpRange::parse(item)) m.push_back(*v.value);
}
void read_value(std::vector<routing::AddressSpace>& m, const SettingDef&, const std::string& t) {
    m.clear();
    for (const auto& item : split_list(t))
        if (auto v = routing::AddressSpace::parse(item)) m.push_back(*v.value);
}
template <Enumerated E>
void read_value(E& m, const SettingDef&, const std::string& t) {
    m = static_cast<E>(choice_index<E>(t));
}
template <Enumerated E>
void read_value(FlagSet<E>& m, const SettingDef&, const std::string& t) {
    m = {};
    for (const auto& f : split_list(t)) m.add(static_cast<E>(choice_index<E>(f)));
}

// The enum a member names, for comparing its names with the row's choices.
template <class T> struct enum_of { using type = void; };
template <Enumerated E> struct enum_of<E> { using type = E; };
template <class E> struct enum_of<FlagSet<E>> { using type = E; };

template <class T>
bool names_match(const SettingDef& d) {
    using Enum = typename enum_of<T>::type;
    if constexpr (std::is_void_v<Enum>) {
        return true;
    } else {
        auto choices = split_list(d.choices);
        const auto& names = EnumNames<Enum>::names;
        if (choices.size() != names.size()) return false;
        for (std::size_t i = 0; i < names.size(); ++i)
            if (choices[i] != names[i]) return false;
        return true;
    }
}

template <class T>
bool member_fits(const SettingDef& d) {
    if constexpr (is_flag_set<T>::value) return d.type == SettingType::Flags && names_match<T>(d);
    else if constexpr (std::is_enum_v<T>) return d.type == SettingType::Enum && names_match<T>(d);
    else return fits<T>(d);
}

// One row → one member. `member` may be a path (back_pressure.x).
#define EDGE_BIND(S, Setting, member)                                                                        \
    Binding<S> {                                                                                             \
        Setting, #member, [](S& s, const SettingDef& d, const std::string& t) { read_value(s.member, d, t); }, \
            [](const SettingDef& d) { return member_fits<std::remove_cvref_t<decltype(std::declval<S&>().member)>>(d); } \
    }

// clang-format off
using RC = ReceiveConnectorSettings;
const Binding<RC> kReceiveConnector[] = {
    EDGE_BIND(RC, "Name", name),
    EDGE_BIND(RC, "Enabled", enabled),
    EDGE_BIND(RC, "Bindings", bindings),
    EDGE_BIND(RC, "RemoteIPRanges", remote_ip_ranges),
    EDGE_BIND(RC, "Fqdn", fqdn),
    EDGE_BIND(RC, "Banner", banner),
    EDGE_BIND(RC, "Comment", comment),
    EDGE_BIND(RC, "MaxMessageSize", max_message_size),
    EDGE_BIND(RC, "MaxHeaderSize", max_header_size),
    EDGE_BIND(RC, "MaxRecipientsPerMessage", max_recipients_per_message),
    EDGE_BIND(RC, "MaxInboundConnection", max_inbound_connection),
    EDGE_BIND(RC, "MaxInboundConnectionPerSource", max_inbound_connection_per_source),
    EDGE_BIND(RC, "MaxInboundConnectionPercentagePerSource", max_inbound_connection_percentage_per_source),
    EDGE_BIND(RC, "ConnectionTimeout", connection_timeout),
    EDGE_BIND(RC, "ConnectionInactivityTimeout", connection_inactivity_timeout),
    EDGE_BIND(RC, "MaxProtocolErrors", max_protocol_errors),
    EDGE_BIND(RC, "MaxHopCount", max_hop_count),
    EDGE_BIND(RC, "TarpitInterval", tarpit_interval),
    EDGE_BIND(RC, "PermissionGroups", permission_groups),
    EDGE_BIND(RC, "AuthMechanism", auth_mechanism),
    EDGE_BIND(RC, "TlsPinnedClientCertificates", tls_pinned_client_certificates),
    EDGE_BIND(RC, "DomainSecureEnabled", domain_secure_enabled),
    EDGE_BIND(RC, "RequireTLS", require_tls),
    EDGE_BIND(RC, "RequireEHLODomain", require_ehlo_domain),
    EDGE_BIND(RC, "ProtocolLoggingLevel", protocol_logging_level),
    EDGE_BIND(RC, "SizeEnabled", size_enabled),
    EDGE_BIND(RC, "PipeliningEnabled", pipelining_enabled),
    EDGE_BIND(RC, "ChunkingEnabled", chunking_enabled),
    EDGE_BIND(RC, "EightBitMimeEnabled", eight_bit_mime_enabled),
    EDGE_BIND(RC, "DeliveryStatusNotificationEnabled", delivery_status_notification_enabled),
    EDGE_BIND(RC, "EnhancedStatusCodesEnabled", enhanced_status_codes_enabled),
    EDGE_BIND(RC, "SmtpUtf8Enabled", smtp_utf8_enabled),
    EDGE_BIND(RC, "PreGreetDelay", pre_greet_delay),
    EDGE_BIND(RC, "PreGreetCacheTime", pre_greet_cache_time),
};

using AD = AcceptedDomainSettings;
const Binding<AD> kAcceptedDomain[] = {
    EDGE_BIND(AD, "Name", name),
    EDGE_BIND(AD, "DomainName", domain_name),
    EDGE_BIND(AD, "DomainType", domain_type),
    EDGE_BIND(AD, "Default", default_domain),
};

using SC = SendConnectorSettings;
const Binding<SC> kSendConnector[] = {
    EDGE_BIND(SC, "Name", name),
    EDGE_BIND(SC, "Enabled", enabled),
    EDGE_BIND(SC, "AddressSpaces", address_spaces),
    EDGE_BIND(SC, "DNSRoutingEnabled", dns_routing_enabled),
    EDGE_BIND(SC, "SmartHosts", smart_hosts),
    EDGE_BIND(SC, "SmartHostAuthMechanism", smart_host_auth_mechanism),
    EDGE_BIND(SC, "AuthenticationCredential", authentication_credential),
    EDGE_BIND(SC, "Port", port),
    EDGE_BIND(SC, "SourceIPAddress", source_ip_address),
    EDGE_BIND(SC, "Fqdn", fqdn),
    EDGE_BIND(SC, "MaxMessageSize", max_message_size),
    EDGE_BIND(SC, "RequireTLS", require_tls),
    EDGE_BIND(SC, "IgnoreSTARTTLS", ignore_starttls),
    EDGE_BIND(SC, "ForceHELO", force_helo),
    EDGE_BIND(SC, "ConnectionInactivityTimeOut", connection_inactivity_timeout),
    EDGE_BIND(SC, "UseExternalDNSServersEnabled", use_external_dns_servers_enabled),
    EDGE_BIND(SC, "AllowPrivateTargetAddresses", allow_private_target_addresses),
    EDGE_BIND(SC, "ProtocolLoggingLevel", protocol_logging_level),
    EDGE_BIND(SC, "SmtpMaxMessagesPerConnection", smtp_max_messages_per_connection),
    EDGE_BIND(SC, "TlsAuthLevel", tls_auth_level),
    EDGE_BIND(SC, "TlsDomain", tls_domain),
    EDGE_BIND(SC, "TlsCertificateName", tls_certificate_name),
    EDGE_BIND(SC, "DomainSecureEnabled", domain_secure_enabled),
    EDGE_BIND(SC, "Comment", comment),
};

using TS = TransportServerSettings;
const Binding<TS> kTransportServer[] = {
    EDGE_BIND(TS, "ReceiveProtocolLogPath", receive_protocol_log_path),
    EDGE_BIND(TS, "ReceiveProtocolLogMaxFileSize", receive_protocol_log_max_file_size),
    EDGE_BIND(TS, "ReceiveProtocolLogMaxDirectorySize", receive_protocol_log_max_directory_size),
    EDGE_BIND(TS, "ReceiveProtocolLogMaxAge", receive_protocol_log_max_age),
    EDGE_BIND(TS, "MessageExpirationTimeout", message_expiration_timeout),
    EDGE_BIND(TS, "SendProtocolLogPath", send_protocol_log_path),
    EDGE_BIND(TS, "SendProtocolLogMaxFileSize", send_protocol_log_max_file_size),
    EDGE_BIND(TS, "SendProtocolLogMaxDirectorySize", send_protocol_log_max_directory_size),
    EDGE_BIND(TS, "SendProtocolLogMaxAge", send_protocol_log_max_age),
    EDGE_BIND(TS, "MessageTrackingLogEnabled", message_tracking_log_enabled),
    EDGE_BIND(TS, "MessageTrackingLogPath", message_tracking_log_path),
    EDGE_BIND(TS, "MessageTrackingLogMaxFileSize", message_tracking_log_max_file_size),
    EDGE_BIND(TS, "MessageTrackingLogMaxDirectorySize", message_tracking_log_max_directory_size),
    EDGE_BIND(TS, "MessageTrackingLogMaxAge", message_tracking_log_max_age),
    EDGE_BIND(TS, "MessageTrackingLogSubjectLoggingEnabled", message_tracking_log_subject_logging_enabled),
    EDGE_BIND(TS, "ExternalDNSServers", external_dns_servers),
    EDGE_BIND(TS, "TlsCertificateAuthorityFile", tls_certificate_authority_file),
    EDGE_BIND(TS, "DnssecValidatingResolver", dnssec_validating_resolver),
    EDGE_BIND(TS, "InternalDNSServers", internal_dns_servers),
    EDGE_BIND(TS, "MaxOutboundConnections", max_outbound_connections),
    EDGE_BIND(TS, "MaxPerDomainOutboundConnections", max_per_domain_outbound_connections),
    EDGE_BIND(TS, "QueueGlitchRetryCount", queue_glitch_retry_count),
    EDGE_BIND(TS, "QueueGlitchRetryInterval", queue_glitch_retry_interval),
    EDGE_BIND(TS, "TransientFailureRetryCount", transient_failure_retry_count),
    EDGE_BIND(TS, "TransientFailureRetryInterval", transient_failure_retry_interval),
    EDGE_BIND(TS, "OutboundConnectionFailureRetryInterval", outbound_connection_failure_retry_interval),
    EDGE_BIND(TS, "MessageRetryInterval", message_retry_interval),
    EDGE_BIND(TS, "DelayNotificationTimeout", delay_notification_timeout),
    EDGE_BIND(TS, "ExternalDelayDsnEnabled", external_delay_dsn_enabled),
    EDGE_BIND(TS, "ExternalPostmasterAddress", external_postmaster_address),
    EDGE_BIND(TS, "ExternalDsnMaxMessageAttachSize", external_dsn_max_message_attach_size),
    EDGE_BIND(TS, "SendCopyOfNdrTo", send_copy_of_ndr_to),
    EDGE_BIND(TS, "EdgeSyncListenAddress", edge_sync_listen_address),
    EDGE_BIND(TS, "AgentLogEnabled", agent_log_enabled),
    EDGE_BIND(TS, "AgentLogPath", agent_log_path),
    EDGE_BIND(TS, "AgentLogMaxFileSize", agent_log_max_file_size),
    EDGE_BIND(TS, "AgentLogMaxDirectorySize", agent_log_max_directory_size),
    EDGE_BIND(TS, "AgentLogMaxAge", agent_log_max_age),
    EDGE_BIND(TS, "MtaStsEnabled", mta_sts_enabled),
    EDGE_BIND(TS, "MtaStsPolicyPort", mta_sts_policy_port),
    EDGE_BIND(TS, "MtaStsFetchTimeout", mta_sts_fetch_timeout),
    EDGE_BIND(TS, "TlsReportingEnabled", tls_reporting_enabled),
    EDGE_BIND(TS, "MetricsBindings", metrics_bindings),
    EDGE_BIND(TS, "PickupDirectoryPath", pickup_directory_path),
    EDGE_BIND(TS, "PickupDirectoryMaxMessagesPerMinute", pickup_directory_max_messages_per_minute),
    EDGE_BIND(TS, "PickupDirectoryMaxHeaderSize", pickup_directory_max_header_size),
    EDGE_BIND(TS, "PickupDirectoryMaxRecipientsPerMessage", pickup_directory_max_recipients_per_message),
    EDGE_BIND(TS, "ConnectivityLogEnabled", connectivity_log_enabled),
    EDGE_BIND(TS, "ConnectivityLogPath", connectivity_log_path),
    EDGE_BIND(TS, "ConnectivityLogMaxAge", connectivity_log_max_age),
    EDGE_BIND(TS, "ConnectivityLogMaxDirectorySize", connectivity_log_max_directory_size),
    EDGE_BIND(TS, "ConnectivityLogMaxFileSize", connectivity_log_max_file_size),
    EDGE_BIND(TS, "PoisonMessageDetectionEnabled", poison_message_detection_enabled),
    EDGE_BIND(TS, "PoisonThreshold", poison_threshold),
    EDGE_BIND(TS, "QueueMaxIdleTime", queue_max_idle_time),
};

using RF = RecipientFilterConfigSettings;
const Binding<RF> kRecipientFilterConfig[] = {
    EDGE_BIND(RF, "Enabled", enabled),
    EDGE_BIND(RF, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(RF, "InternalMailEnabled", internal_mail_enabled),
    EDGE_BIND(RF, "BlockListEnabled", block_list_enabled),
    EDGE_BIND(RF, "BlockedRecipients", blocked_recipients),
    EDGE_BIND(RF, "RecipientValidationEnabled", recipient_validation_enabled),
};

using TA = TransportAgentSettings;
const Binding<TA> kTransportAgent[] = {
    EDGE_BIND(TA, "Enabled", enabled),
    EDGE_BIND(TA, "Priority", priority),
};

using IE = IpListEntrySettings;
const Binding<IE> kIPBlockListEntry[] = {
    EDGE_BIND(IE, "IPRange", ip_range),
    EDGE_BIND(IE, "ExpirationTime", expiration_time),
    EDGE_BIND(IE, "Comment", comment),
    EDGE_BIND(IE, "IsMachine", is_machine),
};
const Binding<IE> kIPAllowListEntry[] = {
    EDGE_BIND(IE, "IPRange", ip_range),
    EDGE_BIND(IE, "ExpirationTime", expiration_time),
    EDGE_BIND(IE, "Comment", comment),
    EDGE_BIND(IE, "IsMachine", is_machine),
};
using BC = IPBlockListConfigSettings;
const Binding<BC> kIPBlockListConfig[] = {
    EDGE_BIND(BC, "Enabled", enabled),
    EDGE_BIND(BC, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(BC, "InternalMailEnabled", internal_mail_enabled),
    EDGE_BIND(BC, "StaticEntryRejectionResponse", static_entry_rejection_response),
    EDGE_BIND(BC, "MachineEntryRejectionResponse", machine_entry_rejection_response),
};
using AC = IPAllowListConfigSettings;
const Binding<AC> kIPAllowListConfig[] = {
    EDGE_BIND(AC, "Enabled", enabled),
    EDGE_BIND(AC, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(AC, "InternalMailEnabled", internal_mail_enabled),
};

using BL = IPBlockListProviderSettings;
const Binding<BL> kIPBlockListProvider[] = {
    EDGE_BIND(BL, "Name", name),
    EDGE_BIND(BL, "LookupDomain", lookup_domain),
    EDGE_BIND(BL, "AnyMatch", any_match),
    EDGE_BIND(BL, "BitmaskMatch", bitmask_match),
    EDGE_BIND(BL, "IPAddressesMatch", ip_addresses_match),
    EDGE_BIND(BL, "Priority", priority),
    EDGE_BIND(BL, "RejectionResponse", rejection_response),
    EDGE_BIND(BL, "Enabled", enabled),
    EDGE_BIND(BL, "Weight", weight),
};

using AL = IPAllowListProviderSettings;
const Binding<AL> kIPAllowListProvider[] = {
    EDGE_BIND(AL, "Name", name),
    EDGE_BIND(AL, "LookupDomain", lookup_domain),
    EDGE_BIND(AL, "AnyMatch", any_match),
    EDGE_BIND(AL, "BitmaskMatch", bitmask_match),
    EDGE_BIND(AL, "IPAddressesMatch", ip_addresses_match),
    EDGE_BIND(AL, "Priority", priority),
    EDGE_BIND(AL, "Enabled", enabled),
};

using BP = IPBlockListProvidersConfigSettings;
const Binding<BP> kIPBlockListProvidersConfig[] = {
    EDGE_BIND(BP, "Enabled", enabled),
    EDGE_BIND(BP, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(BP, "InternalMailEnabled", internal_mail_enabled),
    EDGE_BIND(BP, "BypassedRecipients", bypassed_recipients),
    EDGE_BIND(BP, "Threshold", threshold),
    EDGE_BIND(BP, "LookupTimeout", lookup_timeout),
};

using AP = IPAllowListProvidersConfigSettings;
const Binding<AP> kIPAllowListProvidersConfig[] = {
    EDGE_BIND(AP, "Enabled", enabled),
    EDGE_BIND(AP, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(AP, "InternalMailEnabled", internal_mail_enabled),
};
using TC = TransportConfigSettings;
const Binding<TC> kTransportConfig[] = {
    EDGE_BIND(TC, "TLSSendDomainSecureList", tls_send_domain_secure_list),
    EDGE_BIND(TC, "InternalSMTPServers", internal_smtp_servers),
    EDGE_BIND(TC, "TLSReceiveDomainSecureList", tls_receive_domain_secure_list),
    EDGE_BIND(TC, "MaxReceiveSize", max_receive_size),
    EDGE_BIND(TC, "MaxSendSize", max_send_size),
    EDGE_BIND(TC, "MaxRecipientEnvelopeLimit", max_recipient_envelope_limit),
    EDGE_BIND(TC, "GenerateCopyOfDSNFor", generate_copy_of_dsn_for),
};

using SI = SenderIdConfigSettings;
const Binding<SI> kSenderIdConfig[] = {
    EDGE_BIND(SI, "Enabled", enabled),
    EDGE_BIND(SI, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(SI, "InternalMailEnabled", internal_mail_enabled),
    EDGE_BIND(SI, "SpoofedDomainAction", spoofed_domain_action),
    EDGE_BIND(SI, "TempErrorAction", temp_error_action),
    EDGE_BIND(SI, "BypassedRecipients", bypassed_recipients),
    EDGE_BIND(SI, "BypassedSenderDomains", bypassed_sender_domains),
};
using AF = AttachmentFilterListConfigSettings;
const Binding<AF> kAttachmentFilterListConfig[] = {
    EDGE_BIND(AF, "Action", action),
    EDGE_BIND(AF, "RejectResponse", reject_response),
    EDGE_BIND(AF, "AdminMessage", admin_message),
    EDGE_BIND(AF, "ExceptionConnectors", exception_connectors),
    EDGE_BIND(AF, "MaxMimeDepth", max_mime_depth),
    EDGE_BIND(AF, "MaxMimeParts", max_mime_parts),
};
using AE = AttachmentFilterEntrySettings;
const Binding<AE> kAttachmentFilterEntry[] = {
    EDGE_BIND(AE, "Name", name),
    EDGE_BIND(AE, "Type", type),
};
using DV = DkimVerificationConfigSettings;
const Binding<DV> kDkimVerificationConfig[] = {
    EDGE_BIND(DV, "Enabled", enabled),
    EDGE_BIND(DV, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(DV, "InternalMailEnabled", internal_mail_enabled),
    EDGE_BIND(DV, "MaxSignatures", max_signatures),
};
using DM = DmarcConfigSettings;
const Binding<DM> kDmarcConfig[] = {
    EDGE_BIND(DM, "Enabled", enabled),
    EDGE_BIND(DM, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(DM, "InternalMailEnabled", internal_mail_enabled),
    EDGE_BIND(DM, "RejectPolicyAction", reject_policy_action),
    EDGE_BIND(DM, "QuarantinePolicyAction", quarantine_policy_action),
    EDGE_BIND(DM, "BadFromAction", bad_from_action),
    EDGE_BIND(DM, "AuthServId", auth_serv_id),
};
using DS = DkimSigningConfigSettings;
const Binding<DS> kDkimSigningConfig[] = {
    EDGE_BIND(DS, "Name", name),
    EDGE_BIND(DS, "DomainName", domain_name),
    EDGE_BIND(DS, "Selector", selector),
    EDGE_BIND(DS, "Algorithm", algorithm),
    EDGE_BIND(DS, "KeyFile", key_file),
    EDGE_BIND(DS, "Enabled", enabled),
};
using MS = MilterServerSettings;
const Binding<MS> kMilterServer[] = {
    EDGE_BIND(MS, "Name", name),
    EDGE_BIND(MS, "Address", address),
    EDGE_BIND(MS, "Protocol", protocol),
    EDGE_BIND(MS, "ConnectTimeout", connect_timeout),
    EDGE_BIND(MS, "CommandTimeout", command_timeout),
    EDGE_BIND(MS, "DefaultAction", default_action),
    EDGE_BIND(MS, "VerdictHandling", verdict_handling),
    EDGE_BIND(MS, "Enabled", enabled),
    EDGE_BIND(MS, "Priority", priority),
};

using AR = AddressRewriteEntrySettings;
const Binding<AR> kAddressRewriteEntry[] = {
    EDGE_BIND(AR, "Name", name),
    EDGE_BIND(AR, "InternalAddress", internal_address),
    EDGE_BIND(AR, "ExternalAddress", external_address),
    EDGE_BIND(AR, "ExceptionList", exception_list),
    EDGE_BIND(AR, "OutboundOnly", outbound_only),
};

using CF = ContentFilterConfigSettings;
const Binding<CF> kContentFilterConfig[] = {
    EDGE_BIND(CF, "Enabled", enabled),
    EDGE_BIND(CF, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(CF, "InternalMailEnabled", internal_mail_enabled),
    EDGE_BIND(CF, "SCLDeleteEnabled", scl_delete_enabled),
    EDGE_BIND(CF, "SCLDeleteThreshold", scl_delete_threshold),
    EDGE_BIND(CF, "SCLRejectEnabled", scl_reject_enabled),
    EDGE_BIND(CF, "SCLRejectThreshold", scl_reject_threshold),
    EDGE_BIND(CF, "SCLQuarantineEnabled", scl_quarantine_enabled),
    EDGE_BIND(CF, "SCLQuarantineThreshold", scl_quarantine_threshold),
    EDGE_BIND(CF, "QuarantineMailbox", quarantine_mailbox),
    EDGE_BIND(CF, "RejectionResponse", rejection_response),
    EDGE_BIND(CF, "BypassedRecipients", bypassed_recipients),
    EDGE_BIND(CF, "BypassedSenders", bypassed_senders),
    EDGE_BIND(CF, "BypassedSenderDomains", bypassed_sender_domains),
    EDGE_BIND(CF, "MaxScannedMessageSize", max_scanned_message_size),
    EDGE_BIND(CF, "MilterRejectScl", milter_reject_scl),
    EDGE_BIND(CF, "MilterDiscardScl", milter_discard_scl),
    EDGE_BIND(CF, "MilterQuarantineScl", milter_quarantine_scl),
    EDGE_BIND(CF, "MilterTempFailScl", milter_temp_fail_scl),
    EDGE_BIND(CF, "ScannerSpamFlagScl", scanner_spam_flag_scl),
    EDGE_BIND(CF, "ScannerScoreThresholds", scanner_score_thresholds),
    EDGE_BIND(CF, "DmarcQuarantineSclIncrease", dmarc_quarantine_scl_increase),
    EDGE_BIND(CF, "SenderIdSoftFailSclIncrease", sender_id_soft_fail_scl_increase),
};
using XC = ExchangeCertificateSettings;
const Binding<XC> kExchangeCertificate[] = {
    EDGE_BIND(XC, "Thumbprint", thumbprint),
    EDGE_BIND(XC, "Services", services),
    EDGE_BIND(XC, "Subject", subject),
    EDGE_BIND(XC, "Issuer", issuer),
    EDGE_BIND(XC, "CertificateDomains", certificate_domains),
    EDGE_BIND(XC, "NotBefore", not_before),
    EDGE_BIND(XC, "NotAfter", not_after),
    EDGE_BIND(XC, "IsSelfSigned", is_self_signed),
};
using CP = ContentFilterPhraseSettings;
const Binding<CP> kContentFilterPhrase[] = {
    EDGE_BIND(CP, "Phrase", phrase),
    EDGE_BIND(CP, "Influence", influence),
};

using SF = SenderFilterConfigSettings;
const Binding<SF> kSenderFilterConfig[] = {
    EDGE_BIND(SF, "Enabled", enabled),
    EDGE_BIND(SF, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(SF, "InternalMailEnabled", internal_mail_enabled),
    EDGE_BIND(SF, "BlockedSenders", blocked_senders),
    EDGE_BIND(SF, "BlockedDomains", blocked_domains),
    EDGE_BIND(SF, "BlockedDomainsAndSubdomains", blocked_domains_and_subdomains),
    EDGE_BIND(SF, "BlankSenderBlockingEnabled", blank_sender_blocking_enabled),
    EDGE_BIND(SF, "Action", action),
};

using SR = SenderReputationConfigSettings;
const Binding<SR> kSenderReputationConfig[] = {
    EDGE_BIND(SR, "Enabled", enabled),
    EDGE_BIND(SR, "ExternalMailEnabled", external_mail_enabled),
    EDGE_BIND(SR, "InternalMailEnabled", internal_mail_enabled),
    EDGE_BIND(SR, "SrlBlockThreshold", srl_block_threshold),
    EDGE_BIND(SR, "SenderBlockingEnabled", sender_blocking_enabled),
    EDGE_BIND(SR, "SenderBlockingPeriod", sender_blocking_period),
    EDGE_BIND(SR, "OpenProxyDetectionEnabled", open_proxy_detection_enabled),
    EDGE_BIND(SR, "MaxTrackedAddresses", max_tracked_addresses),
    EDGE_BIND(SR, "ReputationFlushInterval", reputation_flush_interval),
};

using BS = BootstrapSettings;
const Binding<BS> kBootstrap[] = {
    EDGE_BIND(BS, "DataDirectory", data_directory),
    EDGE_BIND(BS, "ServerFqdn", server_fqdn),
    EDGE_BIND(BS, "DefaultReceiveConnectorBindings", default_receive_connector_bindings),
    EDGE_BIND(BS, "TlsCertificateFile", tls_certificate_file),
    EDGE_BIND(BS, "TlsKeyFile", tls_key_file),
    EDGE_BIND(BS, "LmdbMapSize", lmdb_map_size),
    EDGE_BIND(BS, "QueueDatabaseReserveSize", queue_database_reserve_size),
    EDGE_BIND(BS, "ShutdownTimeout", shutdown_timeout),
    EDGE_BIND(BS, "ConfigPollInterval", config_poll_interval),
    EDGE_BIND(BS, "ReceiveSessionMemoryLimit", receive_session_memory_limit),
    EDGE_BIND(BS, "EnableResourceMonitoring", back_pressure.enable_resource_monitoring),
    EDGE_BIND(BS, "ResourceMonitoringInterval", back_pressure.resource_monitoring_interval),
    EDGE_BIND(BS, "PercentageDatabaseDiskSpaceUsedHighThreshold", back_pressure.percentage_database_disk_space_used_high_threshold),
    EDGE_BIND(BS, "PercentageDatabaseDiskSpaceUsedMediumThreshold", back_pressure.percentage_database_disk_space_used_medium_threshold),
    EDGE_BIND(BS, "PercentageDatabaseDiskSpaceUsedNormalThreshold", back_pressure.percentage_database_disk_space_used_normal_threshold),
    EDGE_BIND(BS, "PercentagePrivateBytesUsedHighThreshold", back_pressure.percentage_private_bytes_used_high_threshold),
    EDGE_BIND(BS, "PercentagePrivateBytesUsedMediumThreshold", back_pressure.percentage_private_bytes_used_medium_threshold),
    EDGE_BIND(BS, "PercentagePrivateBytesUsedNormalThreshold", back_pressure.percentage_private_bytes_used_normal_threshold),
    EDGE_BIND(BS, "DatabaseMapUsageHighThreshold", back_pressure.database_map_usage_high_threshold),
    EDGE_BIND(BS, "DatabaseMapUsageMediumThreshold", back_pressure.database_map_usage_medium_threshold),
    EDGE_BIND(BS, "DatabaseMapUsageNormalThreshold", back_pressure.database_map_usage_normal_threshold),
    EDGE_BIND(BS, "SubmissionQueueLengthHighThreshold", back_pressure.submission_queue_length_high_threshold),
    EDGE_BIND(BS, "SubmissionQueueLengthMediumThreshold", back_pressure.submission_queue_length_medium_threshold),
    EDGE_BIND(BS, "SubmissionQueueLengthNormalThreshold", back_pressure.submission_queue_length_normal_threshold),
};
// clang-format on
#undef EDGE_BIND

template <class S, std::size_t N>
S read_typed(const ConfigObject& o, ObjectKind kind, const Binding<S> (&bindings)[N]) {
    if (o.kind() != kind)
        throw std::logic_error(std::string("a ") + to_string(o.kind()) + " read as a " + to_string(kind));
    S s;
    for (const auto& b : bindings) {
        const SettingDef* d = find_setting(kind, b.setting);
        if (d == nullptr) throw std::logic_error("binding of " + std::string(b.member) + " names no setting");
        b.read(s, *d, o.text(d->name));
    }
    return s;
}

template <class S, std::size_t N>
void check_bindings(ObjectKind kind, const Binding<S> (&bindings)[N], std::vector<std::string>& errors) {
    for (const auto* d : settings_of(kind)) {
        int bound = 0;
        for (const auto& b : bindings)
            if (b.setting == d->name) {
                ++bound;
                if (!b.fits(*d))
                    errors.push_back(std::string(to_string(kind)) + "." + std::string(d->name) + ": member " +
                                     std::string(b.member) + " cannot hold its values");
            }
        if (bound != 1)
            errors.push_back(std::string(to_string(kind)) + "." + std::string(d->name) + " is bound to " +
                             std::to_string(bound) + " members (one expected)");
    }
    for (const auto& b : bindings)
        if (find_setting(kind, b.setting) == nullptr || find_setting(kind, b.setting)->name != b.setting)
            errors.push_back(std::string(to_string(kind)) + ": member " + std::string(b.member) + " is bound to '" +
                             std::string(b.setting) + "', not a setting as the table spells it");
}

template <class S, std::size_t N>
std::string_view member_of(const Binding<S> (&bindings)[N], std::string_view setting) {
    for (const auto& b : bindings)
        if (b.setting == setting) return b.member;
    return {};
}

}  // namespace

ReceiveConnectorSettings receive_connector_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::ReceiveConnector, kReceiveConnector);
}
AcceptedDomainSettings accepted_domain_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::AcceptedDomain, kAcceptedDomain);
}
SendConnectorSettings send_connector_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::SendConnector, kSendConnector);
}
TransportServerSettings transport_server_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::TransportServer, kTransportServer);
}
RecipientFilterConfigSettings recipient_filter_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::RecipientFilterConfig, kRecipientFilterConfig);
}
TransportAgentSettings transport_agent_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::TransportAgent, kTransportAgent);
}
IPBlockListProviderSettings ip_block_list_provider_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::IPBlockListProvider, kIPBlockListProvider);
}
IPAllowListProviderSettings ip_allow_list_provider_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::IPAllowListProvider, kIPAllowListProvider);
}
IPBlockListProvidersConfigSettings ip_block_list_providers_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::IPBlockListProvidersConfig, kIPBlockListProvidersConfig);
}
IPAllowListProvidersConfigSettings ip_allow_list_providers_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::IPAllowListProvidersConfig, kIPAllowListProvidersConfig);
}
SenderFilterConfigSettings sender_filter_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::SenderFilterConfig, kSenderFilterConfig);
}
SenderReputationConfigSettings sender_reputation_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::SenderReputationConfig, kSenderReputationConfig);
}
SenderIdConfigSettings sender_id_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::SenderIdConfig, kSenderIdConfig);
}
DkimVerificationConfigSettings dkim_verification_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::DkimVerificationConfig, kDkimVerificationConfig);
}
DmarcConfigSettings dmarc_config_settings(const ConfigObject& o) { return read_typed(o, ObjectKind::DmarcConfig, kDmarcConfig); }
DkimSigningConfigSettings dkim_signing_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::DkimSigningConfig, kDkimSigningConfig);
}
MilterServerSettings milter_server_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::MilterServer, kMilterServer);
}
AddressRewriteEntrySettings address_rewrite_entry_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::AddressRewriteEntry, kAddressRewriteEntry);
}
AttachmentFilterListConfigSettings attachment_filter_list_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::AttachmentFilterListConfig, kAttachmentFilterListConfig);
}
AttachmentFilterEntrySettings attachment_filter_entry_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::AttachmentFilterEntry, kAttachmentFilterEntry);
}
ContentFilterConfigSettings content_filter_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::ContentFilterConfig, kContentFilterConfig);
}
ContentFilterPhraseSettings content_filter_phrase_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::ContentFilterPhrase, kContentFilterPhrase);
}
ExchangeCertificateSettings exchange_certificate_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::ExchangeCertificate, kExchangeCertificate);
}
BootstrapSettings bootstrap_settings(const ConfigObject& o) { return read_typed(o, ObjectKind::Bootstrap, kBootstrap); }

IpListEntrySettings ip_list_entry_settings(const ConfigObject& o) {
    if (o.kind() == ObjectKind::IPAllowListEntry) return read_typed(o, ObjectKind::IPAllowListEntry, kIPAllowListEntry);
    return read_typed(o, ObjectKind::IPBlockListEntry, kIPBlockListEntry);
}
IPBlockListConfigSettings ip_block_list_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::IPBlockListConfig, kIPBlockListConfig);
}
IPAllowListConfigSettings ip_allow_list_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::IPAllowListConfig, kIPAllowListConfig);
}
TransportConfigSettings transport_config_settings(const ConfigObject& o) {
    return read_typed(o, ObjectKind::TransportConfig, kTransportConfig);
}

std::vector<std::string> binding_errors() {
    std::vector<std::string> errors;
    check_bindings(ObjectKind::ReceiveConnector, kReceiveConnector, errors);
    check_bindings(ObjectKind::AcceptedDomain, kAcceptedDomain, errors);
    check_bindings(ObjectKind::SendConnector, kSendConnector, errors);
    check_bindings(ObjectKind::TransportServer, kTransportServer, errors);
    check_bindings(ObjectKind::RecipientFilterConfig, kRecipientFilterConfig, errors);
    check_bindings(ObjectKind::TransportAgent, kTransportAgent, errors);
    check_bindings(ObjectKind::IPBlockListProvider, kIPBlockListProvider, errors);
    check_bindings(ObjectKind::IPAllowListProvider, kIPAllowListProvider, errors);
    check_bindings(ObjectKind::IPBlockListProvidersConfig, kIPBlockListProvidersConfig, errors);
    check_bindings(ObjectKind::IPAllowListProvidersConfig, kIPAllowListProvidersConfig, errors);
    check_bindings(ObjectKind::SenderReputationConfig, kSenderReputationConfig, errors);
    check_bindings(ObjectKind::Bootstrap, kBootstrap, errors);
    check_bindings(ObjectKind::IPBlockListEntry, kIPBlockListEntry, errors);
    check_bindings(ObjectKind::IPAllowListEntry, kIPAllowListEntry, errors);
    check_bindings(ObjectKind::IPBlockListConfig, kIPBlockListConfig, errors);
    check_bindings(ObjectKind::IPAllowListConfig, kIPAllowListConfig, errors);
    check_bindings(ObjectKind::TransportConfig, kTransportConfig, errors);
    check_bindings(ObjectKind::SenderFilterConfig, kSenderFilterConfig, errors);
    check_bindings(ObjectKind::SenderIdConfig, kSenderIdConfig, errors);
    check_bindings(ObjectKind::DkimVerificationConfig, kDkimVerificationConfig, errors);
    check_bindings(ObjectKind::DmarcConfig, kDmarcConfig, errors);
    check_bindings(ObjectKind::DkimSigningConfig, kDkimSigningConfig, errors);
    check_bindings(ObjectKind::MilterServer, kMilterServer, errors);
    check_bindings(ObjectKind::AddressRewriteEntry, kAddressRewriteEntry, errors);
    check_bindings(ObjectKind::AttachmentFilterListConfig, kAttachmentFilterListConfig, errors);
    check_bindings(ObjectKind::AttachmentFilterEntry, kAttachmentFilterEntry, errors);
    check_bindings(ObjectKind::ContentFilterConfig, kContentFilterConfig, errors);
    check_bindings(ObjectKind::ContentFilterPhrase, kContentFilterPhrase, errors);
    check_bindings(ObjectKind::ExchangeCertificate, kExchangeCertificate, errors);
    return errors;
}

std::string_view bound_member(ObjectKind kind, std::string_view setting) {
    switch (kind) {
        case ObjectKind::ReceiveConnector: return member_of(kReceiveConnector, setting);
        case ObjectKind::AcceptedDomain: return member_of(kAcceptedDomain, setting);
        case ObjectKind::SendConnector: return member_of(kSendConnector, setting);
        case ObjectKind::TransportServer: return member_of(kTransportServer, setting);
        case ObjectKind::RecipientFilterConfig: return member_of(kRecipientFilterConfig, setting);
        case ObjectKind::TransportAgent: return member_of(kTransportAgent, setting);
        case ObjectKind::IPBlockListProvider: return member_of(kIPBlockListProvider, setting);
        case ObjectKind::IPAllowListProvider: return member_of(kIPAllowListProvider, setting);
        case ObjectKind::IPBlockListProvidersConfig: return member_of(kIPBlockListProvidersConfig, setting);
        case ObjectKind::IPAllowListProvidersConfig: return member_of(kIPAllowListProvidersConfig, setting);
        case ObjectKind::SenderReputationConfig: return member_of(kSenderReputationConfig, setting);
        case ObjectKind::Bootstrap: return member_of(kBootstrap, setting);
        case ObjectKind::IPBlockListEntry: return member_of(kIPBlockListEntry, setting);
        case ObjectKind::IPAllowListEntry: return member_of(kIPAllowListEntry, setting);
        case ObjectKind::IPBlockListConfig: return member_of(kIPBlockListConfig, setting);
        case ObjectKind::IPAllowListConfig: return member_of(kIPAllowListConfig, setting);
        case ObjectKind::TransportConfig: return member_of(kTransportConfig, setting);
        case ObjectKind::SenderFilterConfig: return member_of(kSenderFilterConfig, setting);
        case ObjectKind::SenderIdConfig: return member_of(kSenderIdConfig, setting);
        case ObjectKind::DkimVerificationConfig: return member_of(kDkimVerificationConfig, setting);
        case ObjectKind::DmarcConfig: return member_of(kDmarcConfig, setting);
        case ObjectKind::DkimSigningConfig: return member_of(kDkimSigningConfig, setting);
        case ObjectKind::MilterServer: return member_of(kMilterServer, setting);
        case ObjectKind::AddressRewriteEntry: return member_of(kAddressRewriteEntry, setting);
        case ObjectKind::AttachmentFilterListConfig: return member_of(kAttachmentFilterListConfig, setting);
        case ObjectKind::AttachmentFilterEntry: return member_of(kAttachmentFilterEntry, setting);
        case ObjectKind::ContentFilterConfig: return member_of(kContentFilterConfig, setting);
        case ObjectKind::ContentFilterPhrase: return member_of(kContentFilterPhrase, setting);
        case ObjectKind::ExchangeCertificate: return member_of(kExchangeCertificate, setting);
    }
    return {};
}

}  // namespace edge::config
