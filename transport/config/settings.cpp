// The settings table and the value syntax. Defaults are Exchange 2007 SP1's where the
// reference confirms them, else the Edge value of Exchange 2010 (reference §1.2, §3.1,
// §4); `source` says which.
#include "settings.hpp"

#include "ip.hpp"
#include "text_helpers.hpp"
#include "value_checks.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace edge::config {

namespace {
using T = SettingType;
using E = ElementKind;
using O = ObjectKind;
constexpr std::uint64_t kDay = 86400;
constexpr std::uint64_t kInt32Max = 2147483647;

// clang-format off
// A plain array: std::array's deduction guide is a fold over every row, past clang's nesting
// limit of 256 (the fuzz build) once the table grew beyond that.
constexpr SettingDef kTable[] = {
    // ---- the bootstrap file (conf/edge-transport.conf): read at start ------------------------------
    SettingDef{O::Bootstrap, "DataDirectory", T::String, "/var/lib/edge-transport", 0, 0, false, "", E::Path, false,
               "Directory of the queue database, TLS material and logs (overridden by --data)", "ours"},
    SettingDef{O::Bootstrap, "ServerFqdn", T::String, "", 0, 0, false, "", E::Domain, false,
               "The server's FQDN: default connector Fqdn, Message-ID domain; empty = the host's FQDN", "ours"},
    SettingDef{O::Bootstrap, "DefaultReceiveConnectorBindings", T::List, "0.0.0.0:25,[::]:25", 0, 0, false, "", E::Binding, false,
               "Bindings of the default Receive connector created at first start", "§1.3 (0.0.0.0:25; [::]:25 ours)"},
    SettingDef{O::Bootstrap, "TlsCertificateFile", T::String, "", 0, 0, false, "", E::Path, false,
               "PEM certificate (chain) for STARTTLS; empty = a self-signed one made at first start in <DataDirectory>/tls", "ours"},
    SettingDef{O::Bootstrap, "TlsKeyFile", T::String, "", 0, 0, false, "", E::Path, false,
               "PEM private key of TlsCertificateFile", "ours"},
    SettingDef{O::Bootstrap, "LmdbMapSize", T::ByteSize, "16GB", 16ull << 20, 1ull << 40, false, "", E::None, false,
               "Upper bound of the queue database (sparse on disk)", "ours"},
    SettingDef{O::Bootstrap, "QueueDatabaseReserveSize", T::ByteSize, "16MB", 0, 1ull << 34, false, "", E::None, false,
               "Space held on the queue volume (<DataDirectory>/queue-reserve) that only delivery and recovery use when it is full; 0 = none", "ours"},
    SettingDef{O::Bootstrap, "ShutdownTimeout", T::TimeSpan, "00:00:10", 0, 600, false, "", E::None, false,
               "On SIGTERM, how long sessions in a transaction may take to finish before they are cut", "ours"},
    SettingDef{O::Bootstrap, "ConfigPollInterval", T::TimeSpan, "00:00:01", 1, 60, false, "", E::None, false,
               "How often the server looks for config-store changes (edgectl applies within this)", "ours"},
    SettingDef{O::Bootstrap, "EnableResourceMonitoring", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Back pressure on or off", "§4.2"},
    SettingDef{O::Bootstrap, "ResourceMonitoringInterval", T::TimeSpan, "00:00:02", 1, 3600, false, "", E::None, false,
               "How often resources are sampled", "§4.1 (2007)"},
    SettingDef{O::Bootstrap, "PercentageDatabaseDiskSpaceUsedHighThreshold", T::Int, "0", 0, 100, false, "", E::None, false,
               "Queue volume % used for High; 0 = 100*(size-500MB)/size (2007 SP1)", "§4.1 (2007 SP1)"},
    SettingDef{O::Bootstrap, "PercentageDatabaseDiskSpaceUsedMediumThreshold", T::Int, "0", 0, 100, false, "", E::None, false,
               "Queue volume % used for Medium; 0 = High - 2", "§4.1"},
    SettingDef{O::Bootstrap, "PercentageDatabaseDiskSpaceUsedNormalThreshold", T::Int, "0", 0, 100, false, "", E::None, false,
               "Queue volume % used below which the level returns to Normal; 0 = High - 4", "§4.1"},
    SettingDef{O::Bootstrap, "PercentagePrivateBytesUsedHighThreshold", T::Int, "75", 1, 100, false, "", E::None, false,
               "Process private memory, % of physical RAM, for High", "§4.1 (2007 SP1)"},
    SettingDef{O::Bootstrap, "PercentagePrivateBytesUsedMediumThreshold", T::Int, "73", 1, 100, false, "", E::None, false,
               "Process private memory % for Medium", "§4.1"},
    SettingDef{O::Bootstrap, "PercentagePrivateBytesUsedNormalThreshold", T::Int, "71", 1, 100, false, "", E::None, false,
               "Process private memory % below which the level returns to Normal", "§4.1"},
    SettingDef{O::Bootstrap, "DatabaseMapUsageHighThreshold", T::Int, "95", 1, 100, false, "", E::None, false,
               "Queue database map in use, %, for High (a full map behaves as High)", "ours"},
    SettingDef{O::Bootstrap, "DatabaseMapUsageMediumThreshold", T::Int, "93", 1, 100, false, "", E::None, false,
               "Queue database map in use, %, for Medium", "ours"},
    SettingDef{O::Bootstrap, "DatabaseMapUsageNormalThreshold", T::Int, "91", 1, 100, false, "", E::None, false,
               "Queue database map in use, %, below which the level returns to Normal", "ours"},
    SettingDef{O::Bootstrap, "SubmissionQueueLengthHighThreshold", T::Int, "15000", 1, 4294967295, false, "", E::None, false,
               "Messages waiting for their commit, for High", "Exchange 2013 (no 2007 key)"},
    SettingDef{O::Bootstrap, "SubmissionQueueLengthMediumThreshold", T::Int, "10000", 1, 4294967295, false, "", E::None, false,
               "Messages waiting for their commit, for Medium", "Exchange 2013"},
    SettingDef{O::Bootstrap, "SubmissionQueueLengthNormalThreshold", T::Int, "2000", 1, 4294967295, false, "", E::None, false,
               "Messages waiting for their commit, below which the level returns to Normal", "Exchange 2013"},
    // 512 MB: fifty 10 MB messages arriving at once, or 5,000 sessions' buffers many
    // times over, and a small share of an edge machine's RAM (back pressure's private
    // bytes threshold is 75 % of it); the total cannot grow past it whatever clients send.
    SettingDef{O::Bootstrap, "ReceiveSessionMemoryLimit", T::ByteSize, "512MB", 16ull << 20, 1ull << 40, false, "", E::None, false,
               "Memory all SMTP sessions together may hold (buffers, bodies in flight); from 90 % new MAIL gets 452 4.3.1 and new connections 421 4.3.2; a body that would pass it is not stored and gets 452 4.3.1", "ours"},

    // ---- Receive connectors (reference §1.2; New-/Set-/Get-ReceiveConnector) ----------------------
    SettingDef{O::ReceiveConnector, "Name", T::String, "", 0, 64, false, "", E::None, true,
               "Unique connector name (Identity)", "§1.2"},
    SettingDef{O::ReceiveConnector, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The connector listens and serves", "§1.2"},
    SettingDef{O::ReceiveConnector, "Bindings", T::List, "", 0, 0, false, "", E::Binding, true,
               "Local IP:port pairs listened on (IPv4 and [IPv6])", "§1.2"},
    SettingDef{O::ReceiveConnector, "RemoteIPRanges", T::List, "0.0.0.0-255.255.255.255,::/0", 0, 0, false, "", E::IpRange, false,
               "Clients served: IP, range a-b or CIDR; the most specific match among connectors wins", "§1.2 (::/0 ours)"},
    SettingDef{O::ReceiveConnector, "Fqdn", T::String, "", 0, 255, false, "", E::Domain, false,
               "Name in banner, EHLO reply and Received header; empty = the server FQDN", "§1.2"},
    SettingDef{O::ReceiveConnector, "Banner", T::String, "", 0, 512, false, "", E::None, false,
               "220 greeting; must start with 220; empty = \"220 <Fqdn> edge-transport ESMTP service ready\"", "§1.2"},
    SettingDef{O::ReceiveConnector, "Comment", T::String, "", 0, 1024, false, "", E::None, false,
               "Administrator's note", "§1.2"},
    SettingDef{O::ReceiveConnector, "MaxMessageSize", T::ByteSize, "10MB", 65536, kInt32Max, false, "", E::None, false,
               "Largest message accepted; advertised in SIZE, enforced on MAIL SIZE= and while streaming", "§1.2 (2007)"},
    SettingDef{O::ReceiveConnector, "MaxHeaderSize", T::ByteSize, "64KB", 1, kInt32Max, false, "", E::None, false,
               "Largest message header accepted", "§1.2 (2007)"},
    SettingDef{O::ReceiveConnector, "MaxRecipientsPerMessage", T::Int, "200", 1, 512000, false, "", E::None, false,
               "Recipients accepted per message; more get 452 4.5.3", "§1.2 (2007)"},
    SettingDef{O::ReceiveConnector, "MaxInboundConnection", T::Int, "5000", 1, kInt32Max, true, "", E::None, false,
               "Concurrent connections the connector serves", "§1.2 (2010)"},
    SettingDef{O::ReceiveConnector, "MaxInboundConnectionPerSource", T::Int, "100", 1, 10000, true, "", E::None, false,
               "Concurrent connections from one IP address", "§1.2 (2007)"},
    SettingDef{O::ReceiveConnector, "MaxInboundConnectionPercentagePerSource", T::Int, "2", 1, 100, false, "", E::None, false,
               "Share of the remaining connections one IP address may hold, in %", "§1.2 (2010)"},
    SettingDef{O::ReceiveConnector, "ConnectionTimeout", T::TimeSpan, "00:05:00", 1, kDay, false, "", E::None, false,
               "Longest session, active or not; then 421 4.4.1", "§1.2 (Edge 2010)"},
    SettingDef{O::ReceiveConnector, "ConnectionInactivityTimeout", T::TimeSpan, "00:01:00", 1, kDay, false, "", E::None, false,
               "Longest wait for the client; then 421 4.4.1", "§1.2 (Edge 2010)"},
    SettingDef{O::ReceiveConnector, "MaxProtocolErrors", T::Int, "5", 0, kInt32Max, true, "", E::None, false,
               "Protocol errors before the session is closed with 421", "§1.2 (2010)"},
    SettingDef{O::ReceiveConnector, "MaxHopCount", T::Int, "30", 1, 500, false, "", E::None, false,
               "Received: headers allowed; more is a loop: 554 5.4.6", "§1.2 (2010)"},
    SettingDef{O::ReceiveConnector, "TarpitInterval", T::TimeSpan, "00:00:05", 0, 600, false, "", E::None, false,
               "Delay of negative replies to anonymous sessions; 00:00:00 disables", "§7 (2007)"},
    SettingDef{O::ReceiveConnector, "PermissionGroups", T::Flags, "AnonymousUsers", 0, 0, false,
               "None,AnonymousUsers,ExchangeUsers,ExchangeServers,ExchangeLegacyServers,Partners,Custom", E::None, false,
               "Who may use the connector and with which rights (§1.4)", "§1.2/§1.4"},
    SettingDef{O::ReceiveConnector, "AuthMechanism", T::Flags, "Tls", 0, 0, false,
               "None,Tls,Integrated,BasicAuth,BasicAuthRequireTLS,ExchangeServer,ExternalAuthoritative", E::None, false,
               "How sessions authenticate; Tls offers STARTTLS; ExternalAuthoritative trusts the RemoteIPRanges", "§1.2/§1.5"},
    SettingDef{O::ReceiveConnector, "TlsPinnedClientCertificates", T::List, "", 0, 0, false, "", E::CertificatePin, false,
               "SHA-256 fingerprints of hub client certificates: a session that presents one after STARTTLS holds ExchangeServers rights (needs ExchangeServers in PermissionGroups)", "ours"},
    SettingDef{O::ReceiveConnector, "DomainSecureEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Domain Security: mail from a domain in Set-TransportConfig -TLSReceiveDomainSecureList is accepted only over mutual TLS with a client certificate valid for that domain (needs Tls in AuthMechanism)", "§1.2"},
    SettingDef{O::ReceiveConnector, "RequireTLS", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Mail only after STARTTLS (530 5.7.0 before)", "§1.2"},
    SettingDef{O::ReceiveConnector, "RequireEHLODomain", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "EHLO/HELO must name a domain or address literal", "§1.2"},
    SettingDef{O::ReceiveConnector, "ProtocolLoggingLevel", T::Enum, "None", 0, 0, false, "None,Verbose", E::None, false,
               "Verbose writes the SmtpReceive protocol log", "§1.2 (2007)"},
    SettingDef{O::ReceiveConnector, "SizeEnabled", T::Enum, "Enabled", 0, 0, false, "Disabled,Enabled,EnabledWithoutValue", E::None, false,
               "SIZE extension: with MaxMessageSize, bare, or off", "§1.2"},
    SettingDef{O::ReceiveConnector, "PipeliningEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false, "PIPELINING (RFC 2920)", "§1.2"},
    SettingDef{O::ReceiveConnector, "ChunkingEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false, "CHUNKING/BDAT (RFC 3030)", "§1.2"},
    SettingDef{O::ReceiveConnector, "EightBitMimeEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false, "8BITMIME (RFC 6152)", "§1.2"},
    SettingDef{O::ReceiveConnector, "DeliveryStatusNotificationEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false, "DSN (RFC 3461)", "§1.2"},
    SettingDef{O::ReceiveConnector, "EnhancedStatusCodesEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false, "ENHANCEDSTATUSCODES (RFC 2034)", "§1.2"},
    SettingDef{O::ReceiveConnector, "SmtpUtf8Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "SMTPUTF8 (RFC 6531; an Exchange 2013+ extension, ours to offer)", "ours"},

    // ---- accepted domains (reference §3.3) -------------------------------------------------------
    SettingDef{O::AcceptedDomain, "Name", T::String, "", 0, 64, false, "", E::None, true, "Unique name (Identity)", "§3.3"},
    SettingDef{O::AcceptedDomain, "DomainName", T::String, "", 0, 255, false, "", E::DomainPattern, true,
               "contoso.com, or *.contoso.com for it and its subdomains", "§3.3"},
    SettingDef{O::AcceptedDomain, "DomainType", T::Enum, "Authoritative", 0, 0, false, "Authoritative,InternalRelay,ExternalRelay", E::None, false,
               "Authoritative/InternalRelay go to the hubs; ExternalRelay to its own Send connector", "§3.3"},
    SettingDef{O::AcceptedDomain, "Default", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "The default domain (postmaster@<default>)", "§3.3"},

    // ---- Send connectors (reference §2.1; New-/Set-/Get-SendConnector) -----------------------------
    SettingDef{O::SendConnector, "Name", T::String, "", 0, 64, false, "", E::None, true,
               "Unique connector name (Identity)", "§2.1"},
    SettingDef{O::SendConnector, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The connector takes part in routing", "§2.1"},
    SettingDef{O::SendConnector, "AddressSpaces", T::List, "", 0, 0, false, "", E::AddressSpace, true,
               "SMTP:domain;cost entries: contoso.com, *.contoso.com, * or -- (the Authoritative and InternalRelay accepted domains)", "§2.1"},
    SettingDef{O::SendConnector, "DNSRoutingEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Deliver by the recipient domain's MX records; $false sends to SmartHosts", "§2.1"},
    SettingDef{O::SendConnector, "SmartHosts", T::List, "", 0, 0, false, "", E::SmartHost, false,
               "Host names or IP addresses to relay through (required when DNSRoutingEnabled is $false)", "§2.1"},
    SettingDef{O::SendConnector, "SmartHostAuthMechanism", T::Enum, "None", 0, 0, false,
               "None,BasicAuth,BasicAuthRequireTLS,ExchangeServer,ExternalAuthoritative", E::None, false,
               "How the connector authenticates to its smart hosts", "§2.1"},
    SettingDef{O::SendConnector, "AuthenticationCredential", T::String, "", 0, 1024, false, "", E::Credential, false,
               "user:password for BasicAuth to the smart hosts (shown masked)", "§2.1"},
    SettingDef{O::SendConnector, "Port", T::Int, "25", 1, 65535, false, "", E::None, false,
               "TCP port of the smart hosts or MX hosts", "§2.1"},
    SettingDef{O::SendConnector, "SourceIPAddress", T::String, "0.0.0.0", 0, 64, false, "", E::IpAddress, false,
               "Local address outbound connections are bound to before connecting; 0.0.0.0 = the OS chooses", "§2.1 (Edge only)"},
    SettingDef{O::SendConnector, "Fqdn", T::String, "", 0, 255, false, "", E::Domain, false,
               "Name sent in EHLO/HELO; empty = the server FQDN", "§2.1"},
    SettingDef{O::SendConnector, "MaxMessageSize", T::ByteSize, "10MB", 0, kInt32Max, true, "", E::None, false,
               "Larger messages are refused (NDR 5.3.4); they never fall through to a less specific connector", "§2.1 (2007)"},
    SettingDef{O::SendConnector, "RequireTLS", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Send only after STARTTLS; a peer without it is deferred", "§2.1"},
    SettingDef{O::SendConnector, "IgnoreSTARTTLS", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Never use the peer's STARTTLS (must be $false when RequireTLS is $true)", "§2.1"},
    SettingDef{O::SendConnector, "ForceHELO", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Send HELO instead of EHLO", "§2.1"},
    SettingDef{O::SendConnector, "ConnectionInactivityTimeOut", T::TimeSpan, "00:10:00", 1, kDay, false, "", E::None, false,
               "Longest wait for the peer before the connection is dropped", "§2.1"},
    SettingDef{O::SendConnector, "UseExternalDNSServersEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Resolve with the transport server's ExternalDNSServers instead of InternalDNSServers / resolv.conf", "§2.1"},
    SettingDef{O::SendConnector, "AllowPrivateTargetAddresses", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Connect to MX hosts and smart-host names that resolve to loopback, link-local, unspecified or multicast addresses, or (DNS routing with address space *) private, ULA or CGNAT ones; smart hosts given as IP addresses are always used", "ours (issue 13)"},
    SettingDef{O::SendConnector, "ProtocolLoggingLevel", T::Enum, "None", 0, 0, false, "None,Verbose", E::None, false,
               "Verbose writes the SmtpSend protocol log", "§2.1 (2007)"},
    SettingDef{O::SendConnector, "SmtpMaxMessagesPerConnection", T::Int, "20", 1, kInt32Max, false, "", E::None, false,
               "Messages sent over one connection before it is closed and a new one opened", "Exchange 2010 (not in 2007)"},
    SettingDef{O::SendConnector, "TlsAuthLevel", T::Enum, "None", 0, 0, false,
               "None,EncryptionOnly,CertificateValidation,DomainValidation", E::None, false,
               "What TLS with the next hop must prove; any level makes TLS required (no clear text): EncryptionOnly = no check, CertificateValidation = a chain to a trusted CA, DomainValidation = also the name (TlsDomain, else the host's name); None ($null) = opportunistic", "Exchange 2010"},
    SettingDef{O::SendConnector, "TlsDomain", T::String, "", 0, 255, false, "", E::Domain, false,
               "The name DomainValidation checks in the peer's certificate; empty = the MX or smart host's own name", "Exchange 2010"},
    SettingDef{O::SendConnector, "TlsCertificateName", T::String, "", 0, 1024, false, "", E::None, false,
               "Client certificate we present: <I>issuer<S>subject or a thumbprint, from <DataDirectory>/certificates; empty = none (Domain Security: the receive certificate)", "Exchange 2010 (thumbprint ours)"},
    SettingDef{O::SendConnector, "DomainSecureEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Mail to a domain of TLSSendDomainSecureList goes only over mutual TLS with a certificate valid for that domain", "Exchange 2007"},
    SettingDef{O::SendConnector, "Comment", T::String, "", 0, 1024, false, "", E::None, false,
               "Administrator's note", "§2.1"},

    // ---- the transport server (reference §3.1; Set-TransportServer) -------------------------------
    SettingDef{O::TransportServer, "ReceiveProtocolLogPath", T::String, "", 0, 4096, false, "", E::Path, false,
               "SmtpReceive protocol log directory; empty = <DataDirectory>/Logs/ProtocolLog/SmtpReceive", "§3.1"},
    SettingDef{O::TransportServer, "ReceiveProtocolLogMaxFileSize", T::ByteSize, "10MB", 1, 1ull << 40, true, "", E::None, false,
               "A new receive log file past this size", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "ReceiveProtocolLogMaxDirectorySize", T::ByteSize, "250MB", 1, 1ull << 44, true, "", E::None, false,
               "Oldest receive log files deleted past this total", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "ReceiveProtocolLogMaxAge", T::TimeSpan, "30.00:00:00", 0, 24855 * kDay, false, "", E::None, false,
               "Receive log files older than this are deleted; 00:00:00 = never", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "MessageExpirationTimeout", T::TimeSpan, "2.00:00:00", 5, 90 * kDay, false, "", E::None, false,
               "A message not delivered by then expires (NDR 4.4.7)", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "SendProtocolLogPath", T::String, "", 0, 4096, false, "", E::Path, false,
               "SmtpSend protocol log directory; empty = <DataDirectory>/Logs/ProtocolLog/SmtpSend", "§3.1"},
    SettingDef{O::TransportServer, "SendProtocolLogMaxFileSize", T::ByteSize, "10MB", 1, 1ull << 40, true, "", E::None, false,
               "A new send log file past this size", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "SendProtocolLogMaxDirectorySize", T::ByteSize, "250MB", 1, 1ull << 44, true, "", E::None, false,
               "Oldest send log files deleted past this total", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "SendProtocolLogMaxAge", T::TimeSpan, "30.00:00:00", 0, 24855 * kDay, false, "", E::None, false,
               "Send log files older than this are deleted; 00:00:00 = never", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "MessageTrackingLogEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Write the message tracking log", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "MessageTrackingLogPath", T::String, "", 0, 4096, false, "", E::Path, false,
               "Message tracking log directory; empty = <DataDirectory>/Logs/MessageTracking", "§3.1"},
    SettingDef{O::TransportServer, "MessageTrackingLogMaxFileSize", T::ByteSize, "10MB", 1, 4ull << 30, false, "", E::None, false,
               "A new tracking log file past this size", "§3.1"},
    SettingDef{O::TransportServer, "MessageTrackingLogMaxDirectorySize", T::ByteSize, "250MB", 1, 1ull << 44, true, "", E::None, false,
               "Oldest tracking log files deleted past this total", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "MessageTrackingLogMaxAge", T::TimeSpan, "30.00:00:00", 0, 24855 * kDay, false, "", E::None, false,
               "Tracking log files older than this are deleted; 00:00:00 = never", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "MessageTrackingLogSubjectLoggingEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Subjects are written to the tracking log", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "ExternalDNSServers", T::List, "", 0, 0, false, "", E::DnsServer, false,
               "DNS servers of connectors with UseExternalDNSServersEnabled (IP, or IP:port)", "§3.1"},
    SettingDef{O::TransportServer, "TlsCertificateAuthorityFile", T::String, "", 0, 0, false, "", E::Path, false, "PEM file of certificate authorities trusted in addition to the system store (/etc/ssl/certs), for outbound TLS authentication and Domain Security client certificates", "ours"},
    SettingDef{O::TransportServer, "DnssecValidatingResolver", T::String, "", 0, 0, false, "", E::DnsServer, false,
               "The DNSSEC-validating resolver DANE trusts (IP or IP:port): MX and TLSA of MX-routed mail are asked of it, and only its AD bit is believed; empty = no DANE", "ours (Postfix: one validating resolver)"},
    SettingDef{O::TransportServer, "InternalDNSServers", T::List, "", 0, 0, false, "", E::DnsServer, false,
               "DNS servers of the other connectors; empty = /etc/resolv.conf", "§3.1"},
    SettingDef{O::TransportServer, "MaxOutboundConnections", T::Int, "1000", 1, kInt32Max, true, "", E::None, false,
               "Concurrent outbound SMTP connections, server-wide", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "MaxPerDomainOutboundConnections", T::Int, "20", 1, kInt32Max, true, "", E::None, false,
               "Concurrent outbound connections to one next hop", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "QueueGlitchRetryCount", T::Int, "4", 0, 15, false, "", E::None, false,
               "Quick retries of a next hop after a connection failure", "§3.4 (2007)"},
    SettingDef{O::TransportServer, "QueueGlitchRetryInterval", T::TimeSpan, "00:01:00", 1, 12 * 3600, false, "", E::None, false,
               "Interval of the glitch retries", "§3.4"},
    SettingDef{O::TransportServer, "TransientFailureRetryCount", T::Int, "6", 0, 15, false, "", E::None, false,
               "Retries at TransientFailureRetryInterval after the glitch retries", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "TransientFailureRetryInterval", T::TimeSpan, "00:10:00", 1, 12 * 3600, false, "", E::None, false,
               "Interval of the transient-failure retries", "§3.1 (Edge 2007)"},
    SettingDef{O::TransportServer, "OutboundConnectionFailureRetryInterval", T::TimeSpan, "00:30:00", 1, 20 * kDay, false, "", E::None, false,
               "Interval of every later retry of a next hop that cannot be reached", "§3.1 (Edge 2007)"},
    SettingDef{O::TransportServer, "MessageRetryInterval", T::TimeSpan, "00:05:00", 1, kDay, false, "", E::None, false,
               "Retry of a message the next hop deferred (4xx) while the connection worked", "§3.1 (2010)"},
    SettingDef{O::TransportServer, "DelayNotificationTimeout", T::TimeSpan, "04:00:00", 1, 30 * kDay, false, "", E::None, false,
               "A message still undelivered after this gets one delay DSN", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "ExternalDelayDsnEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Delay DSNs are sent at all", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "ExternalPostmasterAddress", T::String, "", 0, 320, false, "", E::EmailAddress, false,
               "From address of DSNs; empty = postmaster@<the Default accepted domain>, without one postmaster@<server FQDN>", "§3.1"},
    SettingDef{O::TransportServer, "ExternalDsnMaxMessageAttachSize", T::ByteSize, "10MB", 0, kInt32Max, false, "", E::None, false,
               "An NDR for RET=FULL returns the whole original only up to this size, else its headers; 0 = headers always", "§3.1 (2007)"},
    SettingDef{O::TransportServer, "SendCopyOfNdrTo", T::String, "", 0, 320, false, "", E::EmailAddress, false,
               "A copy of every NDR goes to this address (the book's \"Send copy of NDR to\"); empty = none", "ours (Exchange: GenerateCopyOfDSNFor)"},
    SettingDef{O::TransportServer, "EdgeSyncListenAddress", T::String, "127.0.0.1", 0, 64, false, "", E::IpAddress, true,
               "Address the EdgeSync listener binds (the subscription's port): this edge's address on the internal network, where edgesync connects from; 0.0.0.0 or :: = every interface", "ours (Exchange: ADAM's port 50636)"},
    // The agent log (issue 16): Exchange 2007 SP1 keeps these in EdgeTransport.exe.config;
    // here they are live transport-server settings, with Exchange's defaults.
    SettingDef{O::TransportServer, "AgentLogEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Write the agent log (one line per agent verdict that is not Continue)", "2007 SP1 EdgeTransport.exe.config"},
    SettingDef{O::TransportServer, "AgentLogPath", T::String, "", 0, 4096, false, "", E::Path, false,
               "Agent log directory; empty = <DataDirectory>/Logs/AgentLog", "2007 SP1 EdgeTransport.exe.config"},
    SettingDef{O::TransportServer, "AgentLogMaxFileSize", T::ByteSize, "10MB", 1, 1ull << 40, true, "", E::None, false,
               "A new agent log file past this size", "2007 SP1 EdgeTransport.exe.config"},
    SettingDef{O::TransportServer, "AgentLogMaxDirectorySize", T::ByteSize, "250MB", 1, 1ull << 44, true, "", E::None, false,
               "Oldest agent log files deleted past this total", "2007 SP1 EdgeTransport.exe.config"},
    SettingDef{O::TransportServer, "AgentLogMaxAge", T::TimeSpan, "7.00:00:00", 0, 24855 * kDay, false, "", E::None, false,
               "Agent log files older than this are deleted; 00:00:00 = never", "2007 SP1 EdgeTransport.exe.config"},
    // MTA-STS and TLS-RPT (issue 20, transport/sts/): Exchange Online enforces MTA-STS for
    // outbound mail by default and sends TLS reports; so does this edge.
    SettingDef{O::TransportServer, "MtaStsEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "MTA-STS (RFC 8461) for internet delivery by MX: the _mta-sts TXT record and the HTTPS policy of each recipient domain decide which MX hosts may be used and that their certificates must verify", "ours (Exchange Online enforces it outbound)"},
    SettingDef{O::TransportServer, "MtaStsPolicyPort", T::Int, "443", 1, 65535, false, "", E::None, false,
               "TCP port of the MTA-STS policy servers (https://mta-sts.<domain>/); 443 by RFC 8461, another only for tests", "ours"},
    SettingDef{O::TransportServer, "MtaStsFetchTimeout", T::TimeSpan, "00:01:00", 1, 600, false, "", E::None, false,
               "Longest an MTA-STS policy fetch may take, connection to last byte", "ours (RFC 8461 §3.3 suggests about a minute)"},
    SettingDef{O::TransportServer, "TlsReportingEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Count outbound TLS outcomes per recipient domain and mail a daily TLS-RPT report (RFC 8460) to the domains that publish _smtp._tls", "ours (Exchange Online sends them)"},

    // ---- the Recipient Filter agent (Set-RecipientFilterConfig): one object --------------------------
    SettingDef{O::RecipientFilterConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The agent runs at RCPT TO", "§9.5"},
    SettingDef{O::RecipientFilterConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Filter anonymous (internet) sessions", "§9.5"},
    SettingDef{O::RecipientFilterConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Filter sessions of hubs and partners (authenticated or ExternalAuthoritative)", "§9.5"},
    SettingDef{O::RecipientFilterConfig, "BlockListEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Refuse the BlockedRecipients with 550 5.1.1", "§9.5"},
    SettingDef{O::RecipientFilterConfig, "BlockedRecipients", T::List, "", 0, 0, false, "", E::EmailAddress, false,
               "Addresses refused when BlockListEnabled, in any accepted domain", "§9.5"},
    SettingDef{O::RecipientFilterConfig, "RecipientValidationEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Refuse recipients of Authoritative domains that EdgeSync did not replicate (550 5.1.1)", "§9.5"},

    // ---- transport agents (Enable-/Disable-/Set-TransportAgent): one object per agent, named by its
    // Identity, stored once an administrator changes one (else Exchange's order and Enabled) ----------
    SettingDef{O::TransportAgent, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The agent runs (Relay Control cannot be disabled)", "Exchange 2007 Get-TransportAgent"},
    SettingDef{O::TransportAgent, "Priority", T::Int, "1", 1, 100, false, "", E::None, false,
               "Order among the agents, 1 first; Set-TransportAgent -Priority renumbers the others", "Exchange 2007 Get-TransportAgent"},

    // ---- the Connection Filtering agent (issue 17): IP Block / Allow List entries (one object per
    // entry, named by its Identity, an integer given as max + 1), the lists' configurations, and
    // Set-TransportConfig -InternalSMTPServers -------------------------------------------------------
    SettingDef{O::IPBlockListEntry, "IPRange", T::String, "", 0, 128, false, "", E::IpRange, true,
               "The addresses blocked: an IP address, a range a-b or a CIDR block (IPv4 or IPv6)", "§9.1"},
    SettingDef{O::IPBlockListEntry, "ExpirationTime", T::String, "", 0, 20, false, "", E::None, false,
               "When the entry stops matching, UTC (2026-12-31T00:00:00Z); empty = never", "§9.1"},
    SettingDef{O::IPBlockListEntry, "Comment", T::String, "", 0, 1024, false, "", E::None, false,
               "Administrator's note", "§9.1"},
    SettingDef{O::IPBlockListEntry, "IsMachine", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Added by Sender Reputation (a machine entry: MachineEntryRejectionResponse), not by an administrator", "§9.1/§9.6"},
    SettingDef{O::IPAllowListEntry, "IPRange", T::String, "", 0, 128, false, "", E::IpRange, true,
               "The addresses allowed: an IP address, a range a-b or a CIDR block (IPv4 or IPv6)", "§9.1"},
    SettingDef{O::IPAllowListEntry, "ExpirationTime", T::String, "", 0, 20, false, "", E::None, false,
               "When the entry stops matching, UTC (2026-12-31T00:00:00Z); empty = never", "§9.1"},
    SettingDef{O::IPAllowListEntry, "Comment", T::String, "", 0, 1024, false, "", E::None, false,
               "Administrator's note", "§9.1"},
    SettingDef{O::IPAllowListEntry, "IsMachine", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Added by the server rather than an administrator", "§9.1"},
    SettingDef{O::IPBlockListConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The Connection Filtering Agent uses the IP Block List", "§9.1"},
    SettingDef{O::IPBlockListConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The IP Block List applies to anonymous (internet) sessions", "§9.1"},
    SettingDef{O::IPBlockListConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "The IP Block List applies to sessions of hubs and partners", "§9.1"},
    SettingDef{O::IPBlockListConfig, "StaticEntryRejectionResponse", T::String, "", 0, 240, false, "", E::None, false,
               "Text of the 550 5.7.1 to a client on an administrator's entry; empty = \"External client with IP address <ip> does not have permissions to submit to this server\"", "§9.1 (text [unconf])"},
    SettingDef{O::IPBlockListConfig, "MachineEntryRejectionResponse", T::String, "", 0, 240, false, "", E::None, false,
               "Text of the 550 5.7.1 to a client on a Sender Reputation entry; empty = \"External client with IP address <ip> is blocked by Sender Reputation\"", "§9.1 (text [unconf])"},
    SettingDef{O::IPAllowListConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The Connection Filtering Agent uses the IP Allow List", "§9.1"},
    SettingDef{O::IPAllowListConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The IP Allow List applies to anonymous (internet) sessions", "§9.1"},
    SettingDef{O::IPAllowListConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "The IP Allow List applies to sessions of hubs and partners", "§9.1"},
    SettingDef{O::TransportConfig, "TLSSendDomainSecureList", T::List, "", 0, 0, false, "", E::Domain, false,
               "Partner domains whose mail leaves only over mutual TLS (Domain Security), through a Send connector with DomainSecureEnabled", "Exchange 2007"},
    SettingDef{O::TransportConfig, "InternalSMTPServers", T::List, "", 0, 0, false, "", E::IpRange, false,
               "MTAs in front of this edge: for their sessions the Connection Filtering Agent judges the first address in Received: that is not one of them", "§9.1"},
    SettingDef{O::TransportConfig, "TLSReceiveDomainSecureList", T::List, "", 0, 0, false, "", E::Domain, false,
               "Domain Security partners: on a Receive connector with DomainSecureEnabled, mail from these domains needs mutual TLS with a valid certificate for the domain (else 450 4.7.1)", "§5 (S45)"},
    // ---- IP Block List providers (DNSBL; Add-/Set-IPBlockListProvider): one object per provider -------
    // BitmaskMatch / IPAddressesMatch must be 127.0.0.0/8 addresses (validate_object).
    SettingDef{O::IPBlockListProvider, "Name", T::String, "", 0, 64, false, "", E::None, true,
               "Unique name (Identity)", "§9.1"},
    SettingDef{O::IPBlockListProvider, "LookupDomain", T::String, "", 0, 255, false, "", E::Domain, true,
               "The list's DNS zone: the client's reversed address is asked under it (zen.spamhaus.org)", "§9.1"},
    SettingDef{O::IPBlockListProvider, "AnyMatch", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Any 127.0.0.0/8 answer is a listing (so is any when BitmaskMatch and IPAddressesMatch are empty)", "§9.1"},
    SettingDef{O::IPBlockListProvider, "BitmaskMatch", T::String, "", 0, 0, false, "", E::IpAddress, false,
               "A 127.x.y.z mask: an answer whose low 24 bits share a bit with it is a listing; empty = none", "§9.1"},
    SettingDef{O::IPBlockListProvider, "IPAddressesMatch", T::List, "", 0, 0, false, "", E::IpAddress, false,
               "127.x.y.z answers that are listings (127.0.0.2 direct spam source, 127.0.0.4 bulk mailer, ...)", "§9.1"},
    SettingDef{O::IPBlockListProvider, "Priority", T::Int, "1", 1, 1000, false, "", E::None, false,
               "Order of evaluation and of who is named, 1 first; Add- puts a provider last, Set- renumbers the others", "§9.1"},
    SettingDef{O::IPBlockListProvider, "RejectionResponse", T::String, "", 0, 240, false, "", E::None, false,
               "Text of the 550 5.7.1 at RCPT TO (printable ASCII); empty = Exchange's: Recipient not authorized, your IP has been found on a block list", "§9.1"},
    SettingDef{O::IPBlockListProvider, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The provider is asked", "§9.1"},
    SettingDef{O::IPBlockListProvider, "Weight", T::Int, "1", 1, 100, false, "", E::None, false,
               "Added to the score when the provider lists the client; the client is blocked at Threshold (postscreen_dnsbl_sites' weight); Add- defaults it to the Threshold", "ours (Postfix postscreen)"},

    // ---- IP Allow List providers (DNSWL; Add-/Set-IPAllowListProvider): one object per provider -------
    SettingDef{O::IPAllowListProvider, "Name", T::String, "", 0, 64, false, "", E::None, true,
               "Unique name (Identity)", "§9.1"},
    SettingDef{O::IPAllowListProvider, "LookupDomain", T::String, "", 0, 255, false, "", E::Domain, true,
               "The list's DNS zone: the client's reversed address is asked under it (list.dnswl.org)", "§9.1"},
    SettingDef{O::IPAllowListProvider, "AnyMatch", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Any 127.0.0.0/8 answer is a listing (so is any when BitmaskMatch and IPAddressesMatch are empty)", "§9.1"},
    SettingDef{O::IPAllowListProvider, "BitmaskMatch", T::String, "", 0, 0, false, "", E::IpAddress, false,
               "A 127.x.y.z mask: an answer whose low 24 bits share a bit with it is a listing; empty = none", "§9.1"},
    SettingDef{O::IPAllowListProvider, "IPAddressesMatch", T::List, "", 0, 0, false, "", E::IpAddress, false,
               "127.x.y.z answers that are listings", "§9.1"},
    SettingDef{O::IPAllowListProvider, "Priority", T::Int, "1", 1, 1000, false, "", E::None, false,
               "Order of evaluation, 1 first; Add- puts a provider last, Set- renumbers the others", "§9.1"},
    SettingDef{O::IPAllowListProvider, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The provider is asked", "§9.1"},

    // ---- Set-IPBlockListProvidersConfig: one object -------------------------------------------------
    SettingDef{O::IPBlockListProvidersConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The Connection Filtering agent asks the IP Block List providers", "§9"},
    SettingDef{O::IPBlockListProvidersConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Ask them for anonymous (internet) sessions", "§9"},
    SettingDef{O::IPBlockListProvidersConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Ask them for sessions of hubs and partners", "§9"},
    SettingDef{O::IPBlockListProvidersConfig, "BypassedRecipients", T::List, "", 0, 0, false, "", E::EmailAddress, false,
               "Recipients accepted from a listed client all the same (postmaster@, abuse@)", "§9.1"},
    SettingDef{O::IPBlockListProvidersConfig, "Threshold", T::Int, "1", 1, 100, false, "", E::None, false,
               "The client is blocked when the weights of the providers listing it add up to this (postscreen_dnsbl_threshold)", "ours (Postfix postscreen)"},
    SettingDef{O::IPBlockListProvidersConfig, "LookupTimeout", T::TimeSpan, "00:00:05", 1, 60, false, "", E::None, false,
               "How long the allow and block list providers, asked together, may take; a provider without an answer by then does not count (fail open)", "ours"},

    // ---- Set-IPAllowListProvidersConfig: one object -------------------------------------------------
    SettingDef{O::IPAllowListProvidersConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The Connection Filtering agent asks the IP Allow List providers", "§9"},
    SettingDef{O::IPAllowListProvidersConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Ask them for anonymous (internet) sessions", "§9"},
    SettingDef{O::IPAllowListProvidersConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Ask them for sessions of hubs and partners", "§9"},
    // ---- the Sender Filter Agent (Set-SenderFilterConfig): one object (issue 17) --------------------
    SettingDef{O::SenderFilterConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The agent runs at MAIL FROM", "§9.4"},
    SettingDef{O::SenderFilterConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Filter anonymous (internet) sessions", "§9.4"},
    SettingDef{O::SenderFilterConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Filter sessions of hubs and partners (authenticated or ExternalAuthoritative)", "§9.4"},
    SettingDef{O::SenderFilterConfig, "BlockedSenders", T::List, "", 0, 0, false, "", E::EmailAddress, false,
               "Sender addresses refused at MAIL FROM, compared in canonical form (quotes, case, IDN)", "§9.4"},
    SettingDef{O::SenderFilterConfig, "BlockedDomains", T::List, "", 0, 0, false, "", E::Domain, false,
               "Sender domains refused at MAIL FROM (the domain itself, not its subdomains)", "§9.4"},
    SettingDef{O::SenderFilterConfig, "BlockedDomainsAndSubdomains", T::List, "", 0, 0, false, "", E::DomainPattern, false,
               "Sender domains refused with every domain below them; contoso.com and *.contoso.com both mean both", "§9.4"},
    SettingDef{O::SenderFilterConfig, "BlankSenderBlockingEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Refuse the blank sender MAIL FROM:<> (NDRs; a defence against backscatter floods)", "§9.4"},
    SettingDef{O::SenderFilterConfig, "Action", T::Enum, "Reject", 0, 0, false, "Reject,StampStatus", E::None, false,
               "Reject: 554 5.1.0 Sender Denied; StampStatus: accept and mark the message (SenderFilter.Status) for later agents", "§9.4"},

    // ---- the pre-greet test on Receive connectors (issue 17; Postfix postscreen's pregreet) -------------
    SettingDef{O::ReceiveConnector, "PreGreetDelay", T::TimeSpan, "00:00:00", 0, 60, false, "", E::None, false,
               "Wait this long before the 220 banner; a client that talks first is refused (554 5.5.1) and reported to Sender Reputation; 00:00:00 = off", "ours (postscreen_greet_wait)"},
    SettingDef{O::ReceiveConnector, "PreGreetCacheTime", T::TimeSpan, "1.00:00:00", 0, 30 * kDay, false, "", E::None, false,
               "A client that waited politely is not delayed again for this long (in memory, at most 100,000 addresses); 00:00:00 = every time", "ours (postscreen_greet_ttl)"},
    // ---- Sender Reputation, the Protocol Analysis agent (Set-SenderReputationConfig): one object ---------
    SettingDef{O::SenderReputationConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The agent gathers evidence and computes each sender's SRL", "§9"},
    SettingDef{O::SenderReputationConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Analyse anonymous (internet) sessions", "§9"},
    SettingDef{O::SenderReputationConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Analyse sessions of hubs and partners", "§9"},
    SettingDef{O::SenderReputationConfig, "SrlBlockThreshold", T::Int, "7", 0, 9, false, "", E::None, false,
               "An SRL above this blocks the sender (when SenderBlockingEnabled)", "§9"},
    SettingDef{O::SenderReputationConfig, "SenderBlockingEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Put senders over the threshold on the IP Block List", "§9"},
    SettingDef{O::SenderReputationConfig, "SenderBlockingPeriod", T::Int, "24", 0, 48, false, "", E::None, false,
               "Hours a blocked sender stays on the IP Block List", "§9"},
    SettingDef{O::SenderReputationConfig, "OpenProxyDetectionEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Exchange's open proxy test; not built here ($true is refused)", "§9"},
    SettingDef{O::SenderReputationConfig, "MaxTrackedAddresses", T::Int, "100000", 1, 10000000, false, "", E::None, false,
               "Addresses remembered; past it the least recently seen are forgotten", "ours"},
    SettingDef{O::SenderReputationConfig, "ReputationFlushInterval", T::TimeSpan, "00:00:05", 1, 300, false, "", E::None, false,
               "How often gathered evidence is written to the store (and at shutdown)", "ours"},

    // ---- who really sent it (issue 18) ------------------------------------------------------------------
    // The Sender ID agent (Set-SenderIdConfig, reference §9.3): Exchange's administration,
    // evaluated as SPF (RFC 7208) on the MAIL FROM identity (HELO when the path is null).
    SettingDef{O::SenderIdConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The agent checks SPF at the end of the headers", "§9.3"},
    SettingDef{O::SenderIdConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Check anonymous (internet) sessions", "§9.3"},
    SettingDef{O::SenderIdConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Check sessions of hubs and partners", "§9.3"},
    SettingDef{O::SenderIdConfig, "SpoofedDomainAction", T::Enum, "StampStatus", 0, 0, false, "StampStatus,Reject,Delete", E::None, false,
               "SPF Fail: StampStatus (stamp, deliver), Reject (550 5.7.23 with the domain's explanation), Delete (250, then discard)", "§9.3"},
    SettingDef{O::SenderIdConfig, "TempErrorAction", T::Enum, "StampStatus", 0, 0, false, "StampStatus,Reject,Delete", E::None, false,
               "SPF TempError: StampStatus, Reject (451 4.7.24: the client retries), Delete", "§9.3"},
    SettingDef{O::SenderIdConfig, "BypassedRecipients", T::List, "", 0, 0, false, "", E::EmailAddress, false,
               "A message to only these recipients is stamped, never rejected or deleted", "§9.3"},
    SettingDef{O::SenderIdConfig, "BypassedSenderDomains", T::List, "", 0, 0, false, "", E::Domain, false,
               "Senders of these domains are not checked", "§9.3"},
    // DKIM verification (RFC 6376, RFC 8463; ours: Exchange 2007 had none).
    SettingDef{O::DkimVerificationConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The agent verifies DKIM signatures at the end of data (results only: a failed signature alone refuses nothing)", "ours (RFC 6376 §6.3)"},
    SettingDef{O::DkimVerificationConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Verify mail of anonymous (internet) sessions", "ours"},
    SettingDef{O::DkimVerificationConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Verify mail of hubs and partners", "ours"},
    SettingDef{O::DkimVerificationConfig, "MaxSignatures", T::Int, "5", 1, 50, false, "", E::None, false,
               "Signatures checked per message, the first ones from the top; the others are reported as not checked", "ours"},
    // DMARC (RFC 7489; ours).
    SettingDef{O::DmarcConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The agent evaluates the From: domain's DMARC policy at the end of data", "ours (RFC 7489)"},
    SettingDef{O::DmarcConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Evaluate mail of anonymous (internet) sessions", "ours"},
    SettingDef{O::DmarcConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Evaluate mail of hubs and partners", "ours"},
    SettingDef{O::DmarcConfig, "RejectPolicyAction", T::Enum, "Reject", 0, 0, false, "Reject,Quarantine,StampStatus", E::None, false,
               "A failing message whose domain says p=reject: Reject (550 5.7.1 at end of data), Quarantine, or StampStatus", "ours (RFC 7489 §6.7)"},
    SettingDef{O::DmarcConfig, "QuarantinePolicyAction", T::Enum, "Quarantine", 0, 0, false, "Reject,Quarantine,StampStatus", E::None, false,
               "p=quarantine: Quarantine (stamped Dmarc.Quarantine, the Content Filter's SCL raised), Reject, or StampStatus", "ours"},
    SettingDef{O::DmarcConfig, "BadFromAction", T::Enum, "Reject", 0, 0, false, "Reject,Quarantine,StampStatus", E::None, false,
               "Several From: fields, or one DMARC cannot read (RFC 7489 §6.6.1; a way around a policy): Reject (550 5.7.1), Quarantine or StampStatus. No From: at all names no domain: stamped dmarc=none", "ours (RFC 7489 §6.6.1)"},
    SettingDef{O::DmarcConfig, "AuthServId", T::String, "", 0, 255, false, "", E::Domain, false,
               "The authserv-id of the edge's Authentication-Results (RFC 8601); empty: this server's FQDN. Incoming headers with it are removed", "ours (RFC 8601 §5)"},
    // DKIM signing on the way out (ours; New-/Get-/Set-/Remove-DkimSigningConfig), one per domain.
    SettingDef{O::DkimSigningConfig, "Name", T::String, "", 0, 255, false, "", E::None, false,
               "Unique name (Identity); the DomainName when not given", "ours"},
    SettingDef{O::DkimSigningConfig, "DomainName", T::String, "", 0, 255, false, "", E::Domain, true,
               "Mail whose From: domain is this (d=) is signed", "ours (RFC 6376)"},
    SettingDef{O::DkimSigningConfig, "Selector", T::String, "", 0, 63, false, "", E::Domain, true,
               "s=: the key is published at <Selector>._domainkey.<DomainName>", "ours (RFC 6376 §3.1)"},
    SettingDef{O::DkimSigningConfig, "Algorithm", T::Enum, "rsa-sha256", 0, 0, false, "rsa-sha256,ed25519-sha256", E::None, false,
               "a=: rsa-sha256 (keys of 2048 bits advised) or ed25519-sha256 (RFC 8463)", "ours"},
    SettingDef{O::DkimSigningConfig, "KeyFile", T::String, "", 0, 4096, false, "", E::Path, true,
               "The private key, PEM (New-DkimSigningKey writes one); read by the server, never shown", "ours"},
    SettingDef{O::DkimSigningConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Sign with this configuration", "ours"},

    // ---- the milters (issue 19; ours, after Postfix's smtpd_milters) -------------------------------------
    // The Milter Agent asks each enabled one, in Priority order, at the end of data.
    SettingDef{O::MilterServer, "Name", T::String, "", 0, 64, false, "", E::None, true,
               "Unique name (Identity): the agent log and the Content Filter's properties name the milter by it", "ours"},
    SettingDef{O::MilterServer, "Address", T::String, "", 0, 255, false, "", E::MilterAddress, true,
               "Where the milter listens: host:port, [IPv6]:port, or unix:/path (Postfix's inet:host:port is taken too)", "ours (Postfix smtpd_milters)"},
    SettingDef{O::MilterServer, "Protocol", T::Int, "6", 6, 6, false, "", E::None, false,
               "The milter protocol version offered (Sendmail 8.14's 6, as Postfix 2.6 and later)", "ours (Postfix milter_protocol)"},
    SettingDef{O::MilterServer, "ConnectTimeout", T::TimeSpan, "00:00:30", 1, 3600, false, "", E::None, false,
               "How long connecting to the milter may take", "Postfix milter_connect_timeout"},
    SettingDef{O::MilterServer, "CommandTimeout", T::TimeSpan, "00:00:30", 1, 3600, false, "", E::None, false,
               "How long the milter may take to answer one command", "Postfix milter_command_timeout"},
    SettingDef{O::MilterServer, "DefaultAction", T::Enum, "TempFail", 0, 0, false, "Accept,TempFail,Reject", E::None, false,
               "When the milter is down, slow or breaks the protocol: Accept (the message goes on), TempFail (451 4.7.1), Reject (550 5.7.1)", "Postfix milter_default_action"},
    SettingDef{O::MilterServer, "VerdictHandling", T::Enum, "Apply", 0, 0, false, "Apply,ContentFilter", E::None, false,
               "Apply: the milter's reject, tempfail, discard are the answer; ContentFilter: they are recorded for the Content Filter Agent's SCL (its modifications apply either way)", "ours"},
    SettingDef{O::MilterServer, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Ask this milter", "ours"},
    SettingDef{O::MilterServer, "Priority", T::Int, "1", 1, 1000, false, "", E::None, false,
               "Order among the milters: 1 is asked first (equal priorities by Name); New-MilterServer without it puts the milter last", "ours"},
    // Address rewriting (New-/Set-AddressRewriteEntry, reference §9.8): one object per entry.
    // The shapes (an address, a domain, *.domain) and the rules between them are validate_object's.
    SettingDef{O::AddressRewriteEntry, "Name", T::String, "", 0, 64, false, "", E::None, true,
               "Unique name (Identity)", "§9.8"},
    SettingDef{O::AddressRewriteEntry, "InternalAddress", T::String, "", 0, 320, false, "", E::None, true,
               "The address inside: one address (david@contoso.com), a domain (contoso.com) or a domain and its subdomains (*.contoso.com, with -OutboundOnly $true)", "§9.8"},
    SettingDef{O::AddressRewriteEntry, "ExternalAddress", T::String, "", 0, 320, false, "", E::None, true,
               "What the world sees: an address when InternalAddress is one, else a domain", "§9.8"},
    SettingDef{O::AddressRewriteEntry, "ExceptionList", T::List, "", 0, 0, false, "", E::Domain, false,
               "Subdomains of a *.domain InternalAddress that are not rewritten", "§9.8"},
    SettingDef{O::AddressRewriteEntry, "OutboundOnly", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "$false: RCPT TO of inbound mail is rewritten back from ExternalAddress to InternalAddress too", "§9.8"},
    // ---- the Attachment Filtering Agent (issue 19, reference §9.7) ---------------------------------------
    // Action: Reject, as the Set-AttachmentFilterListConfig reference says (the 2013 concept
    // page says Strip; [unconf]): the sender learns at once, nothing is lost silently, and the
    // message is never changed in transit (a strip breaks its DKIM signatures).
    SettingDef{O::AttachmentFilterListConfig, "Action", T::Enum, "Reject", 0, 0, false, "Reject,Strip,SilentDelete", E::None, false,
               "A message with a listed attachment: Reject (550 5.7.1 RejectResponse), Strip (the attachment becomes a text part holding AdminMessage), SilentDelete (250, then discarded)", "§9.7"},
    SettingDef{O::AttachmentFilterListConfig, "RejectResponse", T::String, "Message rejected due to unacceptable attachments", 0, 240, false, "", E::None, false,
               "The text of the 550 5.7.1 reply when Action is Reject", "§9.7"},
    SettingDef{O::AttachmentFilterListConfig, "AdminMessage", T::String, "This attachment was removed.", 0, 240, false, "", E::None, false,
               "The text of the part that replaces a stripped attachment (the original file name follows it)", "§9.7 (Exchange's default text)"},
    SettingDef{O::AttachmentFilterListConfig, "ExceptionConnectors", T::List, "", 0, 0, false, "", E::None, false,
               "Receive connectors (by Name) whose mail is not filtered", "§9.7"},
    SettingDef{O::AttachmentFilterListConfig, "MaxMimeDepth", T::Int, "30", 2, 100, false, "", E::None, false,
               "Nesting of multiparts and attached messages past which a message is refused (554 5.6.0) unread", "ours"},
    SettingDef{O::AttachmentFilterListConfig, "MaxMimeParts", T::Int, "1000", 10, 100000, false, "", E::None, false,
               "MIME parts past which a message is refused (554 5.6.0) unread", "ours"},
    // One entry of the list (Add-/Get-/Remove-AttachmentFilterEntry); stored by Identity "Type:Name".
    SettingDef{O::AttachmentFilterEntry, "Name", T::String, "", 1, 255, false, "", E::None, true,
               "A file name (BadFile.exe), *.extension, or a MIME content type (type/subtype)", "§9.7"},
    SettingDef{O::AttachmentFilterEntry, "Type", T::Enum, "FileName", 0, 0, false, "FileName,ContentType", E::None, true,
               "What Name is compared with: the attachment's file name or its content type", "§9.7"},
    // ---- the message's content (issue 19) ---------------------------------------------------------------
    // The Content Filter agent (Set-ContentFilterConfig, reference §9.2): an SCL 0-9 for each
    // message from custom phrases, the milter scanners' verdicts and other agents' stamps.
    SettingDef{O::ContentFilterConfig, "Enabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "The agent rates each message's Spam Confidence Level (SCL) at the end of data", "§9.2"},
    SettingDef{O::ContentFilterConfig, "ExternalMailEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Rate mail of anonymous (internet) sessions", "§9.2"},
    SettingDef{O::ContentFilterConfig, "InternalMailEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Rate mail of hubs and partners", "§9.2"},
    SettingDef{O::ContentFilterConfig, "SCLDeleteEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Delete (250, then discard) messages whose SCL is at least SCLDeleteThreshold", "§9.2"},
    SettingDef{O::ContentFilterConfig, "SCLDeleteThreshold", T::Int, "9", 0, 9, false, "", E::None, false,
               "SCL from which a message is deleted", "§9.2"},
    SettingDef{O::ContentFilterConfig, "SCLRejectEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "Reject at the end of data (550 5.7.1 RejectionResponse) messages whose SCL is at least SCLRejectThreshold", "§9.2 (2007 EMC default)"},
    SettingDef{O::ContentFilterConfig, "SCLRejectThreshold", T::Int, "7", 0, 9, false, "", E::None, false,
               "SCL from which a message is rejected", "§9.2"},
    SettingDef{O::ContentFilterConfig, "SCLQuarantineEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Redirect messages whose SCL is at least SCLQuarantineThreshold to QuarantineMailbox (their recipients kept with them)", "§9.2"},
    SettingDef{O::ContentFilterConfig, "SCLQuarantineThreshold", T::Int, "9", 0, 9, false, "", E::None, false,
               "SCL from which a message is quarantined", "§9.2"},
    SettingDef{O::ContentFilterConfig, "QuarantineMailbox", T::String, "", 0, 320, false, "", E::EmailAddress, false,
               "Where quarantined messages go (required with SCLQuarantineEnabled $true)", "§9.2"},
    SettingDef{O::ContentFilterConfig, "RejectionResponse", T::String, "Message rejected as spam by Content Filtering", 0, 240, false, "", E::None, false,
               "Text of the 550 5.7.1 reply to a rejected message (printable ASCII)", "§9.2 (2007/2010 observed)"},
    SettingDef{O::ContentFilterConfig, "BypassedRecipients", T::List, "", 0, 0, false, "", E::EmailAddress, false,
               "A message to only these recipients is not rated (SCL -1)", "§9.2"},
    SettingDef{O::ContentFilterConfig, "BypassedSenders", T::List, "", 0, 0, false, "", E::EmailAddress, false,
               "Messages from these senders (MAIL FROM) are not rated (SCL -1)", "§9.2"},
    SettingDef{O::ContentFilterConfig, "BypassedSenderDomains", T::List, "", 0, 0, false, "", E::DomainPattern, false,
               "Messages from senders of these domains (*.domain: and its subdomains) are not rated (SCL -1)", "§9.2"},
    SettingDef{O::ContentFilterConfig, "MaxScannedMessageSize", T::ByteSize, "11MB", 0, kInt32Max, false, "", E::None, false,
               "Larger messages are not searched for phrases (the scanners' verdicts and other agents' stamps still count)", "§9.2 (Exchange 2013's fixed 11 MB)"},
    SettingDef{O::ContentFilterConfig, "MilterRejectScl", T::Int, "9", 0, 9, false, "", E::None, false,
               "SCL of a message a scanner milter (VerdictHandling ContentFilter) rejected (rspamd: reject)", "ours"},
    SettingDef{O::ContentFilterConfig, "MilterDiscardScl", T::Int, "9", 0, 9, false, "", E::None, false,
               "SCL of a message a scanner milter discarded", "ours"},
    SettingDef{O::ContentFilterConfig, "MilterQuarantineScl", T::Int, "8", 0, 9, false, "", E::None, false,
               "SCL of a message a scanner milter quarantined", "ours"},
    SettingDef{O::ContentFilterConfig, "MilterTempFailScl", T::Int, "5", 0, 9, false, "", E::None, false,
               "SCL of a message a scanner milter answered tempfail (rspamd: soft reject, greylist)", "ours"},
    SettingDef{O::ContentFilterConfig, "ScannerSpamFlagScl", T::Int, "6", 0, 9, false, "", E::None, false,
               "SCL of a message a scanner flagged as spam in a header (X-Spam: Yes, X-Spam-Flag: YES, X-Spam-Status: Yes; rspamd: add header)", "ours"},
    SettingDef{O::ContentFilterConfig, "ScannerScoreThresholds", T::List, "0,1,2,3,4,6,8,10,15", 0, 0, false, "", E::None, false,
               "Nine ascending scores: a scanner's score (X-Spam-Score, X-Rspamd-Score, X-Spam-Status score=) at or above the n-th gives SCL n; below the first, SCL 0", "ours (rspamd's greylist 4, add header 6, reject 15)"},
    SettingDef{O::ContentFilterConfig, "DmarcQuarantineSclIncrease", T::Int, "5", 0, 9, false, "", E::None, false,
               "Added to the SCL of a message DMARC says to quarantine (0 + 5 passes the mailbox's junk threshold 4)", "ours"},
    SettingDef{O::ContentFilterConfig, "SenderIdSoftFailSclIncrease", T::Int, "1", 0, 9, false, "", E::None, false,
               "Added to the SCL of a message whose Sender ID status is SoftFail", "ours"},
    // Custom phrases (Add-/Get-/Remove-ContentFilterPhrase), one object each, named by the phrase in lower case.
    SettingDef{O::ContentFilterPhrase, "Phrase", T::String, "", 0, 128, false, "", E::None, true,
               "Words matched case-insensitively in the Subject and the text of the body", "§9.2"},
    SettingDef{O::ContentFilterPhrase, "Influence", T::Enum, "BadWord", 0, 0, false, "GoodWord,BadWord", E::None, true,
               "GoodWord: SCL 0 whatever else is found; BadWord: SCL 9", "§9.2"},
    // Issue 20: certificates managed live (Import-/New-/Enable-/Get-/Remove-ExchangeCertificate,
    // cli/certificate_cmdlets.cpp), one object each, named by its Thumbprint; the files are
    // <DataDirectory>/certificates/<Thumbprint>.pem and .key. The cmdlets write what Get shows.
    SettingDef{O::ExchangeCertificate, "Thumbprint", T::String, "", 0, 40, false, "", E::None, true,
               "SHA-1 of the DER certificate in upper-case hex, as Exchange shows it (the Identity)", "Exchange 2007"},
    SettingDef{O::ExchangeCertificate, "Services", T::Flags, "None", 0, 0, false, "None,SMTP", E::None, false,
               "SMTP: STARTTLS offers it (Enable-ExchangeCertificate -Services SMTP); None: stored only", "Exchange 2007"},
    SettingDef{O::ExchangeCertificate, "Subject", T::String, "", 0, 1024, false, "", E::None, false,
               "The certificate's subject (\"CN=mail.contoso.com\")", "Exchange 2007"},
    SettingDef{O::ExchangeCertificate, "Issuer", T::String, "", 0, 1024, false, "", E::None, false,
               "The certificate's issuer (its subject when self-signed)", "Exchange 2007"},
    SettingDef{O::ExchangeCertificate, "CertificateDomains", T::List, "", 0, 0, false, "", E::None, false,
               "DNS names of the certificate (subjectAltName, else the CN): what SNI and Domain Security match", "Exchange 2007"},
    SettingDef{O::ExchangeCertificate, "NotBefore", T::String, "", 0, 32, false, "", E::None, false,
               "Start of validity, UTC (yyyy-MM-ddTHH:mm:ssZ)", "Exchange 2007"},
    SettingDef{O::ExchangeCertificate, "NotAfter", T::String, "", 0, 32, false, "", E::None, false,
               "End of validity, UTC; the server log and Get-ExchangeCertificate warn 30 days before", "Exchange 2007"},
    SettingDef{O::ExchangeCertificate, "IsSelfSigned", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Made by New-ExchangeCertificate, or issued by itself", "Exchange 2007"},
    // Issue 21: metrics and health over HTTP (transport/metrics/). Loopback by default: the
    // figures say much about the mail flow, so another interface is the administrator's choice.
    SettingDef{O::TransportServer, "MetricsBindings", T::List, "127.0.0.1:9525", 0, 0, false, "", E::Binding, false,
               "IP:port pairs serving /metrics (Prometheus text format), /healthz and /readyz over HTTP; empty = off", "ours (Exchange: performance counters)"},
    // ---- Exchange's operational files (issue 21, item 5; Set-TransportServer) -----------------------------
    // The Pickup directory (transport/server/pickup*): an RFC 5322 file dropped there is submitted.
    SettingDef{O::TransportServer, "PickupDirectoryPath", T::String, "", 0, 4096, false, "", E::Path, false,
               "Directory watched for .eml files to submit; empty = <DataDirectory>/Pickup (Exchange: <install>\\Pickup)", "§3.1"},
    SettingDef{O::TransportServer, "PickupDirectoryMaxMessagesPerMinute", T::Int, "100", 1, 20000, false, "", E::None, false,
               "Pickup files submitted per minute; the rest wait for the next minute", "§3.1 (2010)"},
    SettingDef{O::TransportServer, "PickupDirectoryMaxHeaderSize", T::ByteSize, "64KB", 32768, kInt32Max, false, "", E::None, false,
               "Largest header of a pickup file; a larger one is renamed .bad", "§3.1 (2010)"},
    SettingDef{O::TransportServer, "PickupDirectoryMaxRecipientsPerMessage", T::Int, "100", 1, 10000, false, "", E::None, false,
               "Recipients a pickup file may name; more and it is renamed .bad", "§3.1 (2010)"},
    // The connectivity log (logging/connectivity_log.*): one line per outbound connection event.
    SettingDef{O::TransportServer, "ConnectivityLogEnabled", T::Bool, "$false", 0, 0, false, "", E::None, false,
               "Write the connectivity log (DNS answer, each address tried, TLS outcome, failure reason of outbound connections)", "§3.1 (Exchange 2007 SP1: $false)"},
    SettingDef{O::TransportServer, "ConnectivityLogPath", T::String, "", 0, 4096, false, "", E::Path, false,
               "Connectivity log directory; empty = <DataDirectory>/Logs/Connectivity", "§3.1"},
    SettingDef{O::TransportServer, "ConnectivityLogMaxAge", T::TimeSpan, "30.00:00:00", 0, 24855 * kDay, false, "", E::None, false,
               "Connectivity log files older than this are deleted; 00:00:00 = never", "§3.1 (2010)"},
    SettingDef{O::TransportServer, "ConnectivityLogMaxDirectorySize", T::ByteSize, "1000MB", 1, 1ull << 44, true, "", E::None, false,
               "Oldest connectivity log files deleted past this total", "§3.1 (2010)"},
    SettingDef{O::TransportServer, "ConnectivityLogMaxFileSize", T::ByteSize, "10MB", 1, 1ull << 40, true, "", E::None, false,
               "A new connectivity log file past this size", "§3.1 (2010)"},
    // Poison messages (queue-db recovery): read at start, before the queue's crash recovery runs.
    SettingDef{O::TransportServer, "PoisonMessageDetectionEnabled", T::Bool, "$true", 0, 0, false, "", E::None, false,
               "A message that was being delivered at PoisonThreshold crashes goes to the Poison queue (applies at the next start)", "§3.1 (2010)"},
    SettingDef{O::TransportServer, "PoisonThreshold", T::Int, "2", 1, 10, false, "", E::None, false,
               "Crashes during a message's delivery that make it poison (applies at the next start)", "§3.1 (2010)"},
    SettingDef{O::TransportServer, "QueueMaxIdleTime", T::TimeSpan, "00:03:00", 1, kDay, false, "", E::None, false,
               "An empty next-hop queue is removed after it has been empty this long", "§3.1 (2010); §5 \"three minutes\" (2007)"},
    // Issue 21: Set-TransportConfig's organisation limits, the local copy an Edge keeps (reference §3.2).
    SettingDef{O::TransportConfig, "MaxReceiveSize", T::ByteSize, "10MB", 65536, kInt32Max, true, "", E::None, false,
               "Largest message any Receive connector accepts: each takes the smaller of its MaxMessageSize and this (SIZE in EHLO says it; 552 5.3.4 beyond)", "§3.2 (2007 SP1)"},
    SettingDef{O::TransportConfig, "MaxSendSize", T::ByteSize, "10MB", 65536, kInt32Max, true, "", E::None, false,
               "Largest message sent on: a larger one is not sent and gets an NDR 5.3.4", "§3.2 (2007 SP1)"},
    SettingDef{O::TransportConfig, "MaxRecipientEnvelopeLimit", T::Int, "5000", 1, kInt32Max, true, "", E::None, false,
               "Most recipients of one message: each Receive connector takes the smaller of its MaxRecipientsPerMessage and this (452 4.5.3 beyond)", "§3.2 (2007 SP1)"},
    SettingDef{O::TransportConfig, "GenerateCopyOfDSNFor", T::List, "5.4.8,5.4.6,5.4.4,5.2.4,5.2.0,5.1.4", 0, 0, false, "", E::None, false,
               "Enhanced status codes (5.x.y) whose NDRs are copied to ExternalPostmasterAddress, when that is set", "§3.2 (Exchange 2010 list)"},
};
// clang-format on

std::string unquote(std::string_view s) {
    s = text::trim_space(s);
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
    return std::string(s);
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::string range_text(const SettingDef& d) {
    if (d.type == T::TimeSpan)
        return format_time_span(std::chrono::seconds(d.min)) + " to " + format_time_span(std::chrono::seconds(d.max));
    std::string r = std::to_string(d.min) + " to " + std::to_string(d.max);
    if (d.unlimited_allowed) r += ", or unlimited";
    return r;
}

std::string expected_of(const SettingDef& d) {
    switch (d.type) {
        case T::Bool: return "$true or $false";
        case T::Int: return "a whole number from " + range_text(d);
        case T::ByteSize: return "a size such as 10MB, 500KB or 65536 bytes, from " + range_text(d);
        case T::TimeSpan: return "a time span [d.]hh:mm:ss from " + range_text(d);
        case T::String: return "one line of text";
        case T::Enum: return "one of " + std::string(d.choices);
        case T::Flags: return "a comma list of " + std::string(d.choices);
        case T::List: return "a comma list";
    }
    return "?";
}

// The choice as spelled in the table, or nullopt.
std::optional<std::string_view> find_choice(std::string_view choices, std::string_view v) {
    for (const auto& c : split_list(choices))
        if (text::iequals(c, v)) {
            auto pos = choices.find(c);
            return choices.substr(pos, c.size());
        }
    return std::nullopt;
}
}  // namespace

const char* to_string(ObjectKind k) {
    switch (k) {
        case O::Bootstrap: return "Bootstrap";
        case O::ReceiveConnector: return "ReceiveConnector";
        case O::AcceptedDomain: return "AcceptedDomain";
        case O::TransportServer: return "TransportServer";
        case O::SendConnector: return "SendConnector";
        case O::RecipientFilterConfig: return "RecipientFilterConfig";
        case O::TransportAgent: return "TransportAgent";
        case O::IPBlockListEntry: return "IPBlockListEntry";
        case O::IPAllowListEntry: return "IPAllowListEntry";
        case O::IPBlockListConfig: return "IPBlockListConfig";
        case O::IPAllowListConfig: return "IPAllowListConfig";
        case O::TransportConfig: return "TransportConfig";
        case O::IPBlockListProvider: return "IPBlockListProvider";
        case O::IPAllowListProvider: return "IPAllowListProvider";
        case O::IPBlockListProvidersConfig: return "IPBlockListProvidersConfig";
        case O::IPAllowListProvidersConfig: return "IPAllowListProvidersConfig";
        case O::SenderFilterConfig: return "SenderFilterConfig";
        case O::SenderReputationConfig: return "SenderReputationConfig";
        case O::SenderIdConfig: return "SenderIdConfig";
        case O::DkimVerificationConfig: return "DkimVerificationConfig";
        case O::DmarcConfig: return "DmarcConfig";
        case O::DkimSigningConfig: return "DkimSigningConfig";
        case O::MilterServer: return "MilterServer";
        case O::AddressRewriteEntry: return "AddressRewriteEntry";
        case O::AttachmentFilterListConfig: return "AttachmentFilterListConfig";
        case O::AttachmentFilterEntry: return "AttachmentFilterEntry";
        case O::ContentFilterConfig: return "ContentFilterConfig";
        case O::ContentFilterPhrase: return "ContentFilterPhrase";
        case O::ExchangeCertificate: return "ExchangeCertificate";
    }
    return "?";
}

std::span<const SettingDef> settings_table() { return kTable; }

std::vector<const SettingDef*> settings_of(ObjectKind kind) {
    std::vector<const SettingDef*> out;
    for (const auto& d : kTable)
        if (d.object == kind) out.push_back(&d);
    return out;
}

const SettingDef* find_setting(ObjectKind kind, std::string_view name) {
    for (const auto& d : kTable)
        if (d.object == kind && text::iequals(d.name, name)) return &d;
    return nullptr;
}

std::optional<double> parse_score(std::string_view text) {
    text = text::trim_space(text);
    double v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || p != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    while (true) {
        auto comma = text.find(',');
        std::string item = unquote(text.substr(0, comma));
        if (!item.empty()) out.push_back(std::move(item));
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

bool parse_bool(std::string_view t, bool& out) {
    t = text::trim_space(t);
    if (text::iequals(t, "$true") || text::iequals(t, "true") || t == "1") {
        out = true;
        return true;
    }
    if (text::iequals(t, "$false") || text::iequals(t, "false") || t == "0") {
        out = false;
        return true;
    }
    return false;
}

std::optional<std::uint64_t> parse_byte_size(std::string_view t) {
    t = text::trim_space(t);
    if (text::iequals(t, "unlimited")) return kUnlimited;
    std::uint64_t mult = 1;
    auto ends = [&](std::string_view suf) {
        if (t.size() > suf.size() && text::iequals(t.substr(t.size() - suf.size()), suf)) {
            t.remove_suffix(suf.size());
            t = text::trim_space(t);
            return true;
        }
        return false;
    };
    if (ends("bytes") || ends("B")) {
        // "10MB" ends in B too: look at the letter before it
        if (ends("K")) mult = 1ull << 10;
        else if (ends("M")) mult = 1ull << 20;
        else if (ends("G")) mult = 1ull << 30;
        else if (ends("T")) mult = 1ull << 40;
    }
    auto v = parse_u64(t);
    if (!v || (*v != 0 && mult > UINT64_MAX / *v)) return std::nullopt;
    return *v * mult;
}

std::optional<std::chrono::seconds> parse_time_span(std::string_view t) {
    t = text::trim_space(t);
    std::uint64_t days = 0;
    if (auto dot = t.find('.'); dot != std::string_view::npos && dot < t.find(':')) {
        auto d = parse_u64(t.substr(0, dot));
        if (!d) return std::nullopt;
        days = *d;
        t.remove_prefix(dot + 1);
    }
    std::array<std::uint64_t, 3> hms{};
    for (std::size_t i = 0; i < 3; ++i) {
        auto colon = t.find(':');
        if ((i < 2) != (colon != std::string_view::npos)) return std::nullopt;
        auto part = t.substr(0, colon);
        if (part.size() != 2) return std::nullopt;
        auto v = parse_u64(part);
        if (!v) return std::nullopt;
        hms[i] = *v;
        if (colon != std::string_view::npos) t.remove_prefix(colon + 1);
    }
    if (hms[0] > 23 || hms[1] > 59 || hms[2] > 59 || days > 1000000) return std::nullopt;
    return std::chrono::seconds(static_cast<std::int64_t>(days * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2]));
}

std::string format_time_span(std::chrono::seconds s) {
    auto v = static_cast<std::uint64_t>(s.count() < 0 ? 0 : s.count());
    char buf[48];
    std::uint64_t d = v / 86400, h = v / 3600 % 24, m = v / 60 % 60, sec = v % 60;
    if (d > 0)
        std::snprintf(buf, sizeof buf, "%llu.%02llu:%02llu:%02llu", static_cast<unsigned long long>(d),
                      static_cast<unsigned long long>(h), static_cast<unsigned long long>(m),
                      static_cast<unsigned long long>(sec));
    else
        std::snprintf(buf, sizeof buf, "%02llu:%02llu:%02llu", static_cast<unsigned long long>(h),
                      static_cast<unsigned long long>(m), static_cast<unsigned long long>(sec));
    return buf;
}

Canonical canonicalize(const SettingDef& d, std::string_view raw) {
    std::string text = unquote(raw);
    auto bad = [&](std::string why = {}) {
        // The syntax checks word their reasons "expected …" themselves.
        if (why.starts_with("expected ")) why.erase(0, 9);
        return Canonical{{}, "-" + std::string(d.name) + ": '" + text + "' is not valid; expected " +
                                 (why.empty() ? expected_of(d) : why)};
    };
    if (text.find_first_of("\r\n") != std::string::npos) return bad("a value on one line");
    switch (d.type) {
        case T::Bool: {
            bool b = false;
            if (!parse_bool(text, b)) return bad();
            return {b ? "$true" : "$false", {}};
        }
        case T::Int:
        case T::ByteSize: {
            std::optional<std::uint64_t> v =
                d.type == T::Int ? (text::iequals(text, "unlimited") ? std::optional(kUnlimited) : parse_u64(text))
                                 : parse_byte_size(text);
            if (!v) return bad();
            if (*v == kUnlimited) {
                if (!d.unlimited_allowed) return bad();
                return {"unlimited", {}};
            }
            if (*v < d.min || *v > d.max) return bad();
            return {std::to_string(*v), {}};
        }
        case T::TimeSpan: {
            auto v = parse_time_span(text);
            if (!v || static_cast<std::uint64_t>(v->count()) < d.min || static_cast<std::uint64_t>(v->count()) > d.max)
                return bad();
            return {format_time_span(*v), {}};
        }
        case T::String: {
            if (d.max != 0 && text.size() > d.max) return bad("at most " + std::to_string(d.max) + " characters");
            if (d.required && text.empty()) return bad("a value");
            if (!text.empty() && d.element != E::None) {
                if (auto err = check_element(d.element, text)) return bad(*err);
            }
            if (d.object == O::ReceiveConnector && d.name == "Banner" && !text.empty() && !text.starts_with("220 "))
                return bad("a banner that starts with \"220 \"");
            if (!text.empty() && d.element != E::None) return {canonical_element(d.element, text), {}};
            return {text, {}};
        }
        case T::Enum: {
            // Exchange's $null for "not set" is our None where an enum has one.
            if (text == "$null" && find_choice(d.choices, "None")) return {"None", {}};
            auto c = find_choice(d.choices, text);
            if (!c) return bad();
            return {std::string(*c), {}};
        }
        case T::Flags: {
            std::vector<std::string> picked;
            for (const auto& item : split_list(text)) {
                auto c = find_choice(d.choices, item);
                if (!c) return bad();
                if (std::find(picked.begin(), picked.end(), *c) == picked.end()) picked.emplace_back(*c);
            }
            if (picked.empty()) return bad();
            if (picked.size() > 1 && std::find(picked.begin(), picked.end(), "None") != picked.end())
                return bad("None alone, or a list without None");
            // In table order, as Exchange prints flags.
            std::string out;
            for (const auto& c : split_list(d.choices))
                if (std::find(picked.begin(), picked.end(), c) != picked.end()) out += (out.empty() ? "" : ",") + c;
            return {out, {}};
        }
        case T::List: {
            std::string out;
            for (const auto& item : split_list(text)) {
                if (auto err = check_element(d.element, item)) return bad(*err);
                out += (out.empty() ? "" : ",") + canonical_element(d.element, item);
            }
            if (d.required && out.empty()) return bad("at least one value");
            return {out, {}};
        }
    }
    return bad();
}

ConfigObject::ConfigObject(ObjectKind kind) : kind_(kind) {
    for (const auto* d : settings_of(kind)) {
        Canonical c = canonicalize(*d, d->default_value);
        // The table's own defaults must be valid; a test checks each one, so this
        // only keeps an empty required default (Name) empty.
        values_.emplace(std::string(d->name), c.ok() ? c.value : std::string(d->default_value));
    }
}

std::string ConfigObject::set(std::string_view name, std::string_view text) {
    const SettingDef* d = find_setting(kind_, name);
    if (d == nullptr) return "-" + std::string(name) + ": no such parameter of " + to_string(kind_);
    Canonical c = canonicalize(*d, text);
    if (!c.ok()) return c.error;
    values_.find(d->name)->second = std::move(c.value);
    return {};
}

const std::string& ConfigObject::text(std::string_view name) const {
    auto it = values_.find(name);
    if (it == values_.end()) throw std::logic_error("no setting " + std::string(name) + " in " + to_string(kind_));
    return it->second;
}

bool ConfigObject::get_bool(std::string_view name) const { return text(name) == "$true"; }

std::uint64_t ConfigObject::get_uint(std::string_view name) const {
    const std::string& t = text(name);
    if (t == "unlimited") return kUnlimited;
    return parse_u64(t).value_or(0);
}

std::chrono::seconds ConfigObject::get_time_span(std::string_view name) const {
    return parse_time_span(text(name)).value_or(std::chrono::seconds(0));
}

std::vector<std::string> ConfigObject::get_list(std::string_view name) const { return split_list(text(name)); }

bool ConfigObject::has_flag(std::string_view name, std::string_view flag) const {
    for (const auto& f : get_list(name))
        if (text::iequals(f, flag)) return true;
    return false;
}

std::string ConfigObject::serialize() const {
    std::string out;
    for (const auto* d : settings_of(kind_)) out += std::string(d->name) + "=" + text(d->name) + "\n";
    out += unknown_;
    return out;
}

std::optional<ConfigObject> ConfigObject::deserialize(ObjectKind kind, std::string_view record, std::string* error) {
    ConfigObject o(kind);
    while (!record.empty()) {
        auto nl = record.find('\n');
        std::string_view line = record.substr(0, nl);
        record.remove_prefix(nl == std::string_view::npos ? record.size() : nl + 1);
        if (line.empty()) continue;
        auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            if (error) *error = "malformed line in stored " + std::string(to_string(kind)) + ": " + std::string(line);
            return std::nullopt;
        }
        if (find_setting(kind, line.substr(0, eq)) == nullptr) {
            o.unknown_ += std::string(line) + "\n";
            continue;
        }
        if (auto err = o.set(line.substr(0, eq), line.substr(eq + 1)); !err.empty()) {
            if (error) *error = "stored " + std::string(to_string(kind)) + ": " + err;
            return std::nullopt;
        }
    }
    return o;
}

namespace {
// Reference §9.8: what New-/Set-AddressRewriteEntry accept. InternalAddress is one
// address, a domain, or *.domain (that domain and its subdomains); ExternalAddress is of
// the same shape, never a wildcard (it is what one address becomes). A wildcard cannot be
// rewritten back (which subdomain would an inbound address go to?), so it needs
// OutboundOnly $true; its ExceptionList holds subdomains it leaves alone.
void check_address_rewrite_entry(const ConfigObject& o, std::vector<std::string>& errors) {
    const std::string& internal = o.text("InternalAddress");
    const std::string& external = o.text("ExternalAddress");
    if (internal.empty() || external.empty()) return;  // "is required" already said
    const bool wildcard = internal.starts_with("*.");
    const bool internal_is_address = internal.find('@') != std::string::npos;
    const std::string_view internal_domain = wildcard ? std::string_view(internal).substr(2) : std::string_view(internal);
    if (internal_is_address) {
        if (auto bad = check_element(ElementKind::EmailAddress, internal))
            errors.push_back("-InternalAddress: '" + internal + "' is not valid; expected " + *bad);
    } else if (internal.starts_with("*") && !wildcard) {
        errors.push_back("-InternalAddress: '" + internal +
                         "' is not valid; expected an address, a domain, or *. followed by a domain (*.contoso.com)");
    } else if (auto bad = check_element(ElementKind::Domain, internal_domain)) {
        errors.push_back("-InternalAddress: '" + internal + "' is not valid; " + *bad +
                         " (an address such as david@contoso.com, a domain such as contoso.com, or *.contoso.com)");
    }
    const bool external_is_address = external.find('@') != std::string::npos;
    if (external.starts_with("*")) {
        errors.push_back("-ExternalAddress: '" + external +
                         "' is not valid; a wildcard is allowed only in -InternalAddress; expected a domain or an address");
    } else if (external_is_address) {
        if (auto bad = check_element(ElementKind::EmailAddress, external))
            errors.push_back("-ExternalAddress: '" + external + "' is not valid; expected " + *bad);
    } else if (auto bad = check_element(ElementKind::Domain, external)) {
        errors.push_back("-ExternalAddress: '" + external + "' is not valid; " + *bad +
                         " (an address such as david@northwindtraders.com, or a domain such as northwindtraders.com)");
    }
    if (internal_is_address != external_is_address)
        errors.push_back(internal_is_address
                             ? "-ExternalAddress: expected an e-mail address, as -InternalAddress is one (one address is "
                               "rewritten to one address)"
                             : "-ExternalAddress: expected a domain, as -InternalAddress is a domain (a domain is "
                               "rewritten to a domain)");
    if (wildcard && !o.get_bool("OutboundOnly"))
        errors.push_back("-InternalAddress " + internal +
                         " needs -OutboundOnly $true: inbound mail to " + external +
                         " cannot be rewritten back to one of many subdomains");
    const auto exceptions = o.get_list("ExceptionList");
    if (!exceptions.empty() && !wildcard)
        errors.emplace_back("-ExceptionList is allowed only when -InternalAddress is a wildcard (*.domain)");
    if (wildcard && !exceptions.empty() && !check_element(ElementKind::Domain, internal_domain)) {
        const std::string base = canonical_element(ElementKind::Domain, internal_domain);
        for (const auto& e : exceptions) {
            const std::string d = canonical_element(ElementKind::Domain, e);
            if (!(d.size() > base.size() + 1 && d.ends_with(base) && d[d.size() - base.size() - 1] == '.'))
                errors.push_back("-ExceptionList: " + e + " is not a subdomain of " + base);
        }
    }
}
}  // namespace

std::vector<std::string> validate_object(const ConfigObject& o) {
    std::vector<std::string> errors;
    for (const auto* d : settings_of(o.kind()))
        if (d->required && o.text(d->name).empty()) errors.push_back("-" + std::string(d->name) + " is required");
    // An NDR's status is 5.x.y (RFC 3463): a code of another form could never match one.
    if (o.kind() == O::TransportConfig)
        for (const auto& code : o.get_list("GenerateCopyOfDSNFor")) {
            auto digits = [](std::string_view t) {
                return !t.empty() && t.size() <= 3 && t.find_first_not_of("0123456789") == std::string_view::npos;
            };
            const auto a = code.find('.'), b = code.find('.', a == std::string::npos ? a : a + 1);
            if (code.size() < 5 || code[0] != '5' || a != 1 || b == std::string::npos ||
                !digits(std::string_view(code).substr(2, b - 2)) || !digits(std::string_view(code).substr(b + 1)))
                errors.push_back("-GenerateCopyOfDSNFor: '" + code + "' is not valid; expected enhanced status codes of NDRs such as 5.4.4 (5.x.y)");
        }
    if (o.kind() == O::ReceiveConnector) {
        if (o.get_time_span("ConnectionInactivityTimeout") >= o.get_time_span("ConnectionTimeout"))
            errors.emplace_back("-ConnectionInactivityTimeout must be less than -ConnectionTimeout");
        if (o.get_time_span("PreGreetDelay") >= o.get_time_span("ConnectionTimeout"))
            errors.emplace_back("-PreGreetDelay must be less than -ConnectionTimeout");
        if (o.get_bool("RequireTLS") && !o.has_flag("AuthMechanism", "Tls"))
            errors.emplace_back("-RequireTLS $true needs Tls in -AuthMechanism");
        // Exchange: Domain Security is mutual TLS, so the connector must offer STARTTLS.
        if (o.get_bool("DomainSecureEnabled") && !o.has_flag("AuthMechanism", "Tls"))
            errors.emplace_back("-DomainSecureEnabled $true needs Tls in -AuthMechanism");
        if (o.has_flag("AuthMechanism", "BasicAuthRequireTLS") &&
            !(o.has_flag("AuthMechanism", "BasicAuth") && o.has_flag("AuthMechanism", "Tls")))
            errors.emplace_back("-AuthMechanism BasicAuthRequireTLS needs BasicAuth and Tls too");
        if (!o.get_list("TlsPinnedClientCertificates").empty() &&
            !(o.has_flag("PermissionGroups", "ExchangeServers") && o.has_flag("AuthMechanism", "Tls")))
            errors.emplace_back("-TlsPinnedClientCertificates needs ExchangeServers in -PermissionGroups and Tls in -AuthMechanism");
        if (o.has_flag("AuthMechanism", "ExternalAuthoritative") && !o.has_flag("PermissionGroups", "ExchangeServers"))
            errors.emplace_back("-AuthMechanism ExternalAuthoritative needs ExchangeServers in -PermissionGroups");
        // Inbound AUTH is answered 502 (no SASL, no Active Directory for Integrated):
        // refuse what would only be a promise. ExchangeServer stays: Exchange's default
        // Edge connector carries it (so does ours, first start) and it grants nothing here.
        for (const char* m : {"Integrated", "BasicAuth", "BasicAuthRequireTLS"})
            if (o.has_flag("AuthMechanism", m))
                errors.push_back(std::string("-AuthMechanism ") + m + " is not supported on this server (it offers no inbound AUTH)");
        // Legacy (Exchange 2003) servers and Custom (Add-ADPermission) grants need
        // Active Directory: the groups would grant nothing here.
        for (const char* g : {"ExchangeLegacyServers", "Custom"})
            if (o.has_flag("PermissionGroups", g))
                errors.push_back(std::string("-PermissionGroups ") + g + " is not supported on this server (no Active Directory)");
    }
    // Exchange's AsciiString: the text goes into a reply line as it is (RFC 5321 §4.2: text is
    // printable US-ASCII), so nothing else is stored.
    if (o.kind() == O::IPBlockListConfig)
        for (const char* n : {"StaticEntryRejectionResponse", "MachineEntryRejectionResponse"})
            for (char c : o.text(n))
                if (c < 0x20 || c > 0x7e) {
                    errors.push_back(std::string("-") + n + ": expected printable ASCII text (letters, digits, punctuation, spaces)");
                    break;
                }
    if (o.kind() == O::SenderReputationConfig && o.get_bool("OpenProxyDetectionEnabled"))
        errors.emplace_back("-OpenProxyDetectionEnabled $true is not supported on this server (it has no open proxy test)");
    if (o.kind() == O::SendConnector) {
        const bool dns = o.get_bool("DNSRoutingEnabled");
        const bool smart_hosts = !o.get_list("SmartHosts").empty();
        if (!dns && !smart_hosts) errors.emplace_back("-SmartHosts is required when -DNSRoutingEnabled is $false");
        if (dns && smart_hosts) errors.emplace_back("-SmartHosts can be set only when -DNSRoutingEnabled is $false");
        if (o.get_bool("RequireTLS") && o.get_bool("IgnoreSTARTTLS"))
            errors.emplace_back("-IgnoreSTARTTLS must be $false when -RequireTLS is $true");
        // Issue 20: a TLS authentication level or Domain Security needs STARTTLS.
        if (o.text("TlsAuthLevel") != "None" && o.get_bool("IgnoreSTARTTLS"))
            errors.emplace_back("-IgnoreSTARTTLS must be $false when -TlsAuthLevel is set");
        if (o.get_bool("DomainSecureEnabled") && o.get_bool("IgnoreSTARTTLS"))
            errors.emplace_back("-IgnoreSTARTTLS must be $false when -DomainSecureEnabled is $true");
        if (o.get_bool("DomainSecureEnabled") && !dns)
            errors.emplace_back("-DomainSecureEnabled $true needs DNS routing (-DNSRoutingEnabled $true), as Exchange's does");
        if (!o.text("TlsDomain").empty() && o.text("TlsAuthLevel") != "DomainValidation")
            errors.emplace_back("-TlsDomain can be set only when -TlsAuthLevel is DomainValidation");
        if (const std::string& n = o.text("TlsCertificateName"); !n.empty()) {
            // Exchange's <I>issuer<S>subject, or a thumbprint: 40 hex digits (SHA-1).
            const bool thumb = n.size() == 40 && std::all_of(n.begin(), n.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
            const bool named = n.starts_with("<I>") && n.find("<S>") != std::string::npos && n.find("<S>") > 3 &&
                               n.size() > n.find("<S>") + 3;
            if (!thumb && !named)
                errors.emplace_back("-TlsCertificateName: '" + n + "' is not valid; expected <I>issuer<S>subject or a thumbprint (40 hex digits)");
        }
        const std::string& auth = o.text("SmartHostAuthMechanism");
        if (auth != "None" && dns) errors.emplace_back("-SmartHostAuthMechanism " + auth + " needs smart hosts (-DNSRoutingEnabled $false)");
        // Exchange Server authentication (Kerberos over TLS) needs Active Directory.
        if (auth == "ExchangeServer")
            errors.emplace_back("-SmartHostAuthMechanism ExchangeServer is not supported on this server (no Active Directory)");
        if ((auth == "BasicAuth" || auth == "BasicAuthRequireTLS") && o.text("AuthenticationCredential").empty())
            errors.emplace_back("-SmartHostAuthMechanism " + auth + " needs -AuthenticationCredential user:password");
    }
    if (o.kind() == O::IPBlockListProvider || o.kind() == O::IPAllowListProvider) {
        // A DNSBL answers with 127.0.0.0/8 addresses (RFC 5782 §2.1); a mask or an answer
        // anywhere else could only match a list's error or a parked domain's wildcard.
        auto loopback_v4 = [](std::string_view text) {
            auto a = routing::IpAddress::parse(text);
            return a && a.value->is_v4() && text.find(':') == std::string_view::npos && (a.value->v4_value() >> 24) == 127;
        };
        if (const auto& mask = o.text("BitmaskMatch"); !mask.empty() && !loopback_v4(mask))
            errors.push_back("-BitmaskMatch: '" + mask + "' is not valid; expected an IPv4 address in 127.0.0.0/8 such as 127.0.0.4");
        for (const auto& a : o.get_list("IPAddressesMatch"))
            if (!loopback_v4(a))
                errors.push_back("-IPAddressesMatch: '" + a + "' is not valid; expected IPv4 addresses in 127.0.0.0/8 such as 127.0.0.2");
    }
    if (o.kind() == O::IPBlockListProvider) {
        // Exchange's AsciiString: it becomes the text of a reply line (RFC 5321 §4.2).
        const auto& text = o.text("RejectionResponse");
        if (std::any_of(text.begin(), text.end(), [](char c) { return c < 0x20 || c > 0x7e; }))
            errors.emplace_back("-RejectionResponse: expected printable ASCII text on one line (it is sent in the 550 reply)");
    }
    if (o.kind() == O::AddressRewriteEntry) check_address_rewrite_entry(o, errors);
    if (o.kind() == O::ContentFilterConfig) {
        // Exchange's AsciiString: it becomes the text of the 550 reply line (RFC 5321 §4.2).
        const auto& text = o.text("RejectionResponse");
        if (std::any_of(text.begin(), text.end(), [](char c) { return c < 0x20 || c > 0x7e; }))
            errors.emplace_back("-RejectionResponse: expected printable ASCII text on one line (it is sent in the 550 reply)");
        if (o.get_bool("SCLQuarantineEnabled") && o.text("QuarantineMailbox").empty())
            errors.emplace_back("-SCLQuarantineEnabled $true needs -QuarantineMailbox (where quarantined messages go)");
        // Exchange's rule: the actions that are on apply in the order delete > reject > quarantine.
        struct Act { const char* name; std::uint64_t threshold; };
        std::vector<Act> on;
        for (const char* a : {"Delete", "Reject", "Quarantine"})
            if (o.get_bool(std::string("SCL") + a + "Enabled")) on.push_back({a, o.get_uint(std::string("SCL") + a + "Threshold")});
        for (std::size_t i = 1; i < on.size(); ++i)
            if (on[i - 1].threshold <= on[i].threshold)
                errors.push_back(std::string("-SCL") + on[i - 1].name + "Threshold (" + std::to_string(on[i - 1].threshold) +
                                 ") must be greater than -SCL" + on[i].name + "Threshold (" + std::to_string(on[i].threshold) +
                                 ") when both are enabled");
        const auto scores = o.get_list("ScannerScoreThresholds");
        std::optional<double> last;
        bool good = scores.size() == 9;
        for (const auto& t : scores) {
            auto v = parse_score(t);
            if (!v || (last && *v <= *last)) good = false;
            if (v) last = v;
        }
        if (!good)
            errors.emplace_back("-ScannerScoreThresholds: expected nine ascending scores such as 0,1,2,3,4,6,8,10,15 (SCL 1 to 9 from each)");
    }
    return errors;
}

}  // namespace edge::config
