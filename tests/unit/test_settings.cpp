// The one settings table: every default valid, the value syntax, stored objects, the
// bootstrap file, and conf/edge-transport.conf agreeing with the table.
#include "bootstrap.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

using namespace edge::config;

TEST_CASE("every setting's default is valid for its own type and range", "[settings]") {
    std::set<std::pair<int, std::string>> names;
    for (const auto& d : settings_table()) {
        INFO(to_string(d.object) << "." << d.name);
        CHECK(names.emplace(static_cast<int>(d.object), std::string(d.name)).second);  // declared once
        CHECK_FALSE(d.meaning.empty());
        if (d.required && d.default_value.empty()) continue;
        if (d.element == ElementKind::Binding && d.default_value.empty()) continue;
        Canonical c = canonicalize(d, d.default_value);
        CHECK(c.error == "");
    }
}

TEST_CASE("Exchange 2007 defaults are the ones in the table", "[settings]") {
    ConfigObject rc(ObjectKind::ReceiveConnector);
    CHECK(rc.get_uint("MaxMessageSize") == 10u * 1024 * 1024);
    CHECK(rc.get_uint("MaxHeaderSize") == 64u * 1024);
    CHECK(rc.get_uint("MaxRecipientsPerMessage") == 200);
    CHECK(rc.get_uint("MaxInboundConnectionPerSource") == 100);
    CHECK(rc.get_time_span("TarpitInterval") == std::chrono::seconds(5));
    CHECK(rc.get_time_span("ConnectionTimeout") == std::chrono::minutes(5));
    CHECK(rc.get_time_span("ConnectionInactivityTimeout") == std::chrono::minutes(1));
    CHECK(rc.text("ProtocolLoggingLevel") == "None");
    ConfigObject ts(ObjectKind::TransportServer);
    CHECK(ts.get_uint("ReceiveProtocolLogMaxFileSize") == 10u << 20);
    CHECK(ts.get_uint("ReceiveProtocolLogMaxDirectorySize") == 250u << 20);
    CHECK(ts.get_time_span("ReceiveProtocolLogMaxAge") == std::chrono::hours(24 * 30));
}

TEST_CASE("values are read the way an administrator writes them and stored canonically", "[settings]") {
    const SettingDef* size = find_setting(ObjectKind::ReceiveConnector, "maxmessagesize");
    REQUIRE(size != nullptr);
    CHECK(canonicalize(*size, "10MB").value == "10485760");
    CHECK(canonicalize(*size, "500KB").value == "512000");
    CHECK(canonicalize(*size, "\"1 GB\"").value == "1073741824");
    CHECK(canonicalize(*size, "100").error.find("-MaxMessageSize") == 0);  // below 65536
    CHECK_FALSE(canonicalize(*size, "unlimited").ok());
    CHECK_FALSE(canonicalize(*size, "ten").ok());
    const SettingDef* conns = find_setting(ObjectKind::ReceiveConnector, "MaxInboundConnection");
    CHECK(canonicalize(*conns, "Unlimited").value == "unlimited");
    const SettingDef* tarpit = find_setting(ObjectKind::ReceiveConnector, "TarpitInterval");
    CHECK(canonicalize(*tarpit, "00:00:05").value == "00:00:05");
    CHECK_FALSE(canonicalize(*tarpit, "00:11:00").ok());  // max 10 minutes
    CHECK_FALSE(canonicalize(*tarpit, "5").ok());
    CHECK_FALSE(canonicalize(*tarpit, "00:60:00").ok());
    const SettingDef* age = find_setting(ObjectKind::TransportServer, "ReceiveProtocolLogMaxAge");
    CHECK(canonicalize(*age, "30.00:00:00").value == "30.00:00:00");
    const SettingDef* flag = find_setting(ObjectKind::ReceiveConnector, "RequireTLS");
    CHECK(canonicalize(*flag, "$TRUE").value == "$true");
    CHECK(canonicalize(*flag, "false").value == "$false");
    CHECK_FALSE(canonicalize(*flag, "yes").ok());
    const SettingDef* groups = find_setting(ObjectKind::ReceiveConnector, "PermissionGroups");
    CHECK(canonicalize(*groups, "partners, anonymoususers").value == "AnonymousUsers,Partners");
    CHECK_FALSE(canonicalize(*groups, "None,Partners").ok());
    CHECK_FALSE(canonicalize(*groups, "Everyone").ok());
    const SettingDef* bindings = find_setting(ObjectKind::ReceiveConnector, "Bindings");
    CHECK(canonicalize(*bindings, "0.0.0.0:25, [::]:25").value == "0.0.0.0:25,[::]:25");
    CHECK_FALSE(canonicalize(*bindings, "0.0.0.0").ok());
    CHECK_FALSE(canonicalize(*bindings, "300.1.1.1:25").ok());
    const SettingDef* ranges = find_setting(ObjectKind::ReceiveConnector, "RemoteIPRanges");
    CHECK(canonicalize(*ranges, "10.0.0.0/8,192.0.2.1-192.0.2.9,127.0.0.3").ok());
    CHECK_FALSE(canonicalize(*ranges, "10.0.0.0/33").ok());
    const SettingDef* banner = find_setting(ObjectKind::ReceiveConnector, "Banner");
    CHECK_FALSE(canonicalize(*banner, "hello").ok());  // Exchange: must start with 220
    CHECK_FALSE(canonicalize(*banner, "220 a\r\n250 injected").ok());
    CHECK(canonicalize(*banner, "220 mail.contoso.com ready").ok());
}

TEST_CASE("a stored object round-trips and keeps settings it does not know", "[settings]") {
    ConfigObject o(ObjectKind::ReceiveConnector);
    REQUIRE(o.set("Name", "Internet").empty());
    REQUIRE(o.set("Bindings", "0.0.0.0:2525").empty());
    REQUIRE(o.set("TarpitInterval", "00:00:10").empty());
    std::string rec = o.serialize() + "FutureSetting=42\n";
    std::string err;
    auto back = ConfigObject::deserialize(ObjectKind::ReceiveConnector, rec, &err);
    REQUIRE(back.has_value());
    CHECK(back->text("TarpitInterval") == "00:00:10");
    CHECK(back->serialize().find("FutureSetting=42") != std::string::npos);
    CHECK_FALSE(ConfigObject::deserialize(ObjectKind::ReceiveConnector, "MaxHopCount=9999\n", &err).has_value());
    CHECK(err.find("MaxHopCount") != std::string::npos);
}

TEST_CASE("rules between a Receive connector's settings are checked", "[settings]") {
    ConfigObject o(ObjectKind::ReceiveConnector);
    o.set("Name", "x");
    o.set("Bindings", "0.0.0.0:25");
    CHECK(validate_object(o).empty());
    o.set("ConnectionInactivityTimeout", "00:10:00");
    CHECK_FALSE(validate_object(o).empty());
    o.set("ConnectionInactivityTimeout", "00:01:00");
    o.set("AuthMechanism", "ExternalAuthoritative");
    CHECK_FALSE(validate_object(o).empty());  // needs ExchangeServers
    o.set("PermissionGroups", "ExchangeServers");
    CHECK(validate_object(o).empty());
    o.set("RequireTLS", "$true");
    CHECK_FALSE(validate_object(o).empty());  // needs Tls
}

TEST_CASE("rules between a Send connector's settings are checked", "[settings]") {
    ConfigObject o(ObjectKind::SendConnector);
    o.set("Name", "ToInternet");
    CHECK_FALSE(validate_object(o).empty());  // AddressSpaces required
    CHECK(o.set("AddressSpaces", "*contoso.com") != "");
    REQUIRE(o.set("AddressSpaces", "contoso.com, smtp:*.fabrikam.com;5,*") == "");
    CHECK(o.text("AddressSpaces") == "SMTP:contoso.com;1,SMTP:*.fabrikam.com;5,SMTP:*;1");
    CHECK(validate_object(o).empty());
    o.set("DNSRoutingEnabled", "$false");
    CHECK_FALSE(validate_object(o).empty());  // smart hosts needed
    REQUIRE(o.set("SmartHosts", "[127.0.0.1], Hub1.Contoso.com,::1") == "");
    CHECK(o.text("SmartHosts") == "[127.0.0.1],hub1.contoso.com,[::1]");
    CHECK(validate_object(o).empty());
    CHECK(o.set("SmartHosts", "[hub1]") != "");
    CHECK(o.set("SourceIPAddress", "10.1.2.300") != "");
    CHECK(o.set("SourceIPAddress", "127.0.0.2") == "");
    o.set("RequireTLS", "$true");
    o.set("IgnoreSTARTTLS", "$true");
    CHECK_FALSE(validate_object(o).empty());
    o.set("IgnoreSTARTTLS", "$false");
    o.set("SmartHostAuthMechanism", "BasicAuth");
    CHECK_FALSE(validate_object(o).empty());  // needs a credential
    CHECK(o.set("AuthenticationCredential", "nocolon") != "");
    o.set("AuthenticationCredential", "relay:secret");
    CHECK(validate_object(o).empty());
    o.set("DNSRoutingEnabled", "$true");
    CHECK_FALSE(validate_object(o).empty());  // smart hosts with DNS routing
}

TEST_CASE("transport-server DNS servers and addresses are checked and stored canonically", "[settings]") {
    ConfigObject o(ObjectKind::TransportServer);
    REQUIRE(o.set("ExternalDNSServers", "192.0.2.53,127.0.0.1:5353,[::1]:5353,2001:db8::53") == "");
    CHECK(o.text("ExternalDNSServers") == "192.0.2.53,127.0.0.1:5353,[::1]:5353,2001:db8::53");
    CHECK(o.set("InternalDNSServers", "127.0.0.1:0") != "");
    CHECK(o.set("InternalDNSServers", "dns.contoso.com") != "");
    CHECK(o.set("SendCopyOfNdrTo", "Postmaster@Contoso.COM") == "");
    CHECK(o.text("SendCopyOfNdrTo") == "Postmaster@contoso.com");
    CHECK(o.set("SendCopyOfNdrTo", "not an address") != "");
    CHECK(o.get_uint("MaxPerDomainOutboundConnections") == 20);
    CHECK(o.get_time_span("TransientFailureRetryInterval") == std::chrono::minutes(10));
    CHECK(o.get_time_span("OutboundConnectionFailureRetryInterval") == std::chrono::minutes(30));
}

TEST_CASE("the bootstrap file: defaults, values, overrides, and errors naming file and line", "[settings][bootstrap]") {
    auto ok = parse_bootstrap("# comment\nServerFqdn = mail.contoso.com\n\nLmdbMapSize = 1GB\n", "t.conf",
                              {{"DataDirectory", "/tmp/x"}});
    REQUIRE(ok.errors.empty());
    CHECK(ok.settings.text("ServerFqdn") == "mail.contoso.com");
    CHECK(ok.settings.get_uint("LmdbMapSize") == 1u << 30);
    CHECK(ok.settings.text("DataDirectory") == "/tmp/x");
    CHECK(ok.settings.get_time_span("ResourceMonitoringInterval") == std::chrono::seconds(2));
    auto bad = parse_bootstrap("ServerFqdn = ok.example\nTypoKey = 1\nLmdbMapSize = lots\n", "t.conf");
    REQUIRE(bad.errors.size() == 2);
    CHECK(bad.errors[0] == "t.conf:2: unknown key TypoKey");
    CHECK(bad.errors[1].starts_with("t.conf:3: -LmdbMapSize"));
    // Issue 20: a ServerFqdn in U-labels is stored, and so said in EHLO, as its A-labels.
    auto idn = parse_bootstrap("ServerFqdn = Ausgang.B\xc3\xbc" "cher.example\n", "t.conf");
    REQUIRE(idn.errors.empty());
    CHECK(idn.settings.text("ServerFqdn") == "ausgang.xn--bcher-kva.example");
    REQUIRE(parse_bootstrap("ServerFqdn = xn--zz.example\n", "t.conf").errors.size() == 1);
    // The queue's reserve (issue 14): a size, 0 allowed (no reserve), default 16MB.
    CHECK(ok.settings.get_uint("QueueDatabaseReserveSize") == 16u << 20);
    CHECK(parse_bootstrap("QueueDatabaseReserveSize = 0\n", "t.conf").errors.empty());
    for (const char* v : {"-1", "lots", "16 parsecs", "99999TB"}) {
        INFO(v);
        auto r = parse_bootstrap(std::string("QueueDatabaseReserveSize = ") + v + "\n", "t.conf");
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].starts_with("t.conf:1: -QueueDatabaseReserveSize"));
    }
}

TEST_CASE("conf/edge-transport.conf documents every bootstrap key with its default, and nothing else",
          "[settings][docs]") {
    std::ifstream in(std::string(EDGE_SOURCE_DIR) + "/conf/edge-transport.conf");
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    for (const auto* d : settings_of(ObjectKind::Bootstrap)) {
        INFO(d->name);
        std::string line = "# " + std::string(d->name) + " = " + std::string(d->default_value);
        CHECK(text.find(line + "\n") != std::string::npos);
        CHECK(text.find(std::string(d->meaning.substr(0, 30))) != std::string::npos);
    }
    // Every key the file mentions (commented or not) is a key of the table.
    std::istringstream lines(text);
    std::string l;
    while (std::getline(lines, l)) {
        std::string s = l.starts_with("# ") ? l.substr(2) : l;
        auto eq = s.find(" = ");
        if (eq == std::string::npos || s.substr(0, eq).find(' ') != std::string::npos) continue;
        INFO(l);
        CHECK(find_setting(ObjectKind::Bootstrap, s.substr(0, eq)) != nullptr);
    }
    // And the file as shipped loads.
    CHECK(parse_bootstrap(text, "edge-transport.conf").errors.empty());
}

TEST_CASE("e-mail address settings take the mailbox syntax MAIL and RCPT take, with the canonical domain", "[settings]") {
    ConfigObject o(ObjectKind::RecipientFilterConfig);
    REQUIRE(o.set("BlockedRecipients", "\"ceo\"@Accepted.TEST,ü@Bücher.test,x@[192.0.2.1]") == "");
    CHECK(o.get_list("BlockedRecipients") ==
          std::vector<std::string>{"\"ceo\"@accepted.test", "ü@xn--bcher-kva.test", "x@[192.0.2.1]"});
    // What RCPT refuses with 501 5.1.3 is not an address here either (issue 13, weakness 5).
    for (const char* bad : {"ü@a,b;c.wild.test", "ü@evil.test\"@\".wild.test", "ceo@\x1b[31mX.test", "a b@c.test",
                            "@contoso.com", "ceo@", "ceo@-bad-.test"})
        CHECK(o.set("BlockedRecipients", bad) != "");
}

// ---- typed settings (typed_settings.hpp): the structs consumers read --------------------

TEST_CASE("every setting in the table is bound to exactly one member of its kind's typed struct", "[settings][typed]") {
    // A row without a member has no consumer: this fails until the row is bound (and
    // read by whoever owns the member); a member of the wrong type fails too.
    CHECK(binding_errors() == std::vector<std::string>{});  // on failure, Catch lists each row and member
    for (const auto& d : settings_table()) {
        INFO(to_string(d.object) << "." << d.name);
        CHECK_FALSE(bound_member(d.object, d.name).empty());
    }
    CHECK(bound_member(ObjectKind::ReceiveConnector, "MaxMessageSize") == "max_message_size");
    CHECK(bound_member(ObjectKind::Bootstrap, "EnableResourceMonitoring") == "back_pressure.enable_resource_monitoring");
    CHECK(bound_member(ObjectKind::ReceiveConnector, "NoSuchSetting").empty());
}

TEST_CASE("the typed structs' defaults are the table's", "[settings][typed]") {
    CHECK(receive_connector_settings(ConfigObject(ObjectKind::ReceiveConnector)) == ReceiveConnectorSettings{});
    CHECK(accepted_domain_settings(ConfigObject(ObjectKind::AcceptedDomain)) == AcceptedDomainSettings{});
    CHECK(send_connector_settings(ConfigObject(ObjectKind::SendConnector)) == SendConnectorSettings{});
    CHECK(transport_server_settings(ConfigObject(ObjectKind::TransportServer)) == TransportServerSettings{});
    CHECK(recipient_filter_config_settings(ConfigObject(ObjectKind::RecipientFilterConfig)) ==
          RecipientFilterConfigSettings{});
    CHECK(bootstrap_settings(ConfigObject(ObjectKind::Bootstrap)) == BootstrapSettings{});
    CHECK(ip_block_list_provider_settings(ConfigObject(ObjectKind::IPBlockListProvider)) == IPBlockListProviderSettings{});
    CHECK(ip_allow_list_provider_settings(ConfigObject(ObjectKind::IPAllowListProvider)) == IPAllowListProviderSettings{});
    CHECK(ip_block_list_providers_config_settings(ConfigObject(ObjectKind::IPBlockListProvidersConfig)) ==
          IPBlockListProvidersConfigSettings{});
    CHECK(ip_allow_list_providers_config_settings(ConfigObject(ObjectKind::IPAllowListProvidersConfig)) ==
          IPAllowListProvidersConfigSettings{});
    // An object of another kind is a programming error, not a default.
    CHECK_THROWS_AS(receive_connector_settings(ConfigObject(ObjectKind::SendConnector)), std::logic_error);
}

TEST_CASE("typed settings carry real enums, flags, sizes, time spans and lists", "[settings][typed]") {
    ConfigObject rc(ObjectKind::ReceiveConnector);
    REQUIRE(rc.set("Bindings", "0.0.0.0:2525,[::1]:25").empty());
    REQUIRE(rc.set("RemoteIPRanges", "192.0.2.0/24").empty());
    REQUIRE(rc.set("MaxMessageSize", "25MB").empty());
    REQUIRE(rc.set("MaxInboundConnection", "unlimited").empty());
    REQUIRE(rc.set("TarpitInterval", "00:00:00").empty());
    REQUIRE(rc.set("PermissionGroups", "Partners,ExchangeUsers").empty());
    REQUIRE(rc.set("AuthMechanism", "Tls,ExternalAuthoritative").empty());
    REQUIRE(rc.set("SizeEnabled", "enabledwithoutvalue").empty());
    REQUIRE(rc.set("ProtocolLoggingLevel", "verbose").empty());
    const auto r = receive_connector_settings(rc);
    REQUIRE(r.bindings.size() == 2);
    CHECK(r.bindings[0].port == 2525);
    CHECK(r.bindings[1].str() == "[::1]:25");
    REQUIRE(r.remote_ip_ranges.size() == 1);
    CHECK(r.remote_ip_ranges[0].str() == "192.0.2.0/24");
    CHECK(r.max_message_size == 25u << 20);
    CHECK(r.max_inbound_connection == kUnlimited);
    CHECK(r.tarpit_interval == std::chrono::seconds(0));
    CHECK(r.permission_groups.has(PermissionGroup::Partners));
    CHECK(r.permission_groups.has(PermissionGroup::ExchangeUsers));
    CHECK_FALSE(r.permission_groups.has(PermissionGroup::AnonymousUsers));
    CHECK(r.auth_mechanism == FlagSet<AuthMechanism>{AuthMechanism::Tls, AuthMechanism::ExternalAuthoritative});
    CHECK(r.size_enabled == SizeEnabled::EnabledWithoutValue);
    CHECK(r.protocol_logging_level == ProtocolLoggingLevel::Verbose);

    ConfigObject sc(ObjectKind::SendConnector);
    REQUIRE(sc.set("AddressSpaces", "contoso.com;5,*").empty());
    REQUIRE(sc.set("SmartHostAuthMechanism", "basicauthrequiretls").empty());
    REQUIRE(sc.set("AuthenticationCredential", "relay:se:cret").empty());
    REQUIRE(sc.set("MaxMessageSize", "unlimited").empty());
    const auto s = send_connector_settings(sc);
    REQUIRE(s.address_spaces.size() == 2);
    CHECK(s.address_spaces[0].cost == 5);
    CHECK(s.address_spaces[1].is_everything());
    CHECK(s.smart_host_auth_mechanism == SmartHostAuthMechanism::BasicAuthRequireTLS);
    CHECK(s.authentication_credential == Credential{"relay", "se:cret"});
    CHECK(s.max_message_size == kUnlimited);

    ConfigObject ad(ObjectKind::AcceptedDomain);
    REQUIRE(ad.set("DomainType", "externalrelay").empty());
    CHECK(accepted_domain_settings(ad).domain_type == DomainType::ExternalRelay);
    CHECK(to_name(DomainType::ExternalRelay) == "ExternalRelay");

    ConfigObject ts(ObjectKind::TransportServer);
    REQUIRE(ts.set("ExternalPostmasterAddress", "NDR-Desk@Contoso.COM").empty());
    REQUIRE(ts.set("ExternalDsnMaxMessageAttachSize", "1MB").empty());
    REQUIRE(ts.set("DelayNotificationTimeout", "1.02:00:00").empty());
    const auto t = transport_server_settings(ts);
    CHECK(t.external_postmaster_address == "NDR-Desk@contoso.com");
    CHECK(t.external_dsn_max_message_attach_size == 1u << 20);
    CHECK(t.delay_notification_timeout == std::chrono::hours(26));
}

TEST_CASE("an AuthMechanism or PermissionGroups value the server does not act on is refused as not supported on this server",
          "[settings]") {
    // Inbound AUTH is answered 502: BasicAuth or Integrated would be a promise stored.
    for (const char* auth : {"BasicAuth", "Tls,BasicAuth", "Tls,BasicAuth,BasicAuthRequireTLS", "Integrated"}) {
        INFO(auth);
        ConfigObject o(ObjectKind::ReceiveConnector);
        o.set("Name", "x");
        o.set("Bindings", "0.0.0.0:25");
        REQUIRE(o.set("AuthMechanism", auth).empty());  // a value Exchange knows…
        auto errors = validate_object(o);                 // …refused by New-/Set-ReceiveConnector
        REQUIRE_FALSE(errors.empty());
        bool named = false;
        for (const auto& e : errors) named = named || (e.find("-AuthMechanism") != std::string::npos &&
                                                       e.find("not supported on this server") != std::string::npos);
        CHECK(named);
    }
    for (const char* groups : {"ExchangeLegacyServers", "AnonymousUsers,Custom"}) {
        INFO(groups);
        ConfigObject o(ObjectKind::ReceiveConnector);
        o.set("Name", "x");
        o.set("Bindings", "0.0.0.0:25");
        REQUIRE(o.set("PermissionGroups", groups).empty());
        auto errors = validate_object(o);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].find("-PermissionGroups") != std::string::npos);
        CHECK(errors[0].find("not supported on this server") != std::string::npos);
    }
    ConfigObject ok(ObjectKind::ReceiveConnector);
    ok.set("Name", "x");
    ok.set("Bindings", "0.0.0.0:25");
    ok.set("AuthMechanism", "Tls,ExchangeServer");  // Exchange's default Edge connector: grants nothing here
    CHECK(validate_object(ok).empty());

    ConfigObject sc(ObjectKind::SendConnector);
    sc.set("Name", "s");
    sc.set("AddressSpaces", "contoso.com");
    sc.set("DNSRoutingEnabled", "$false");
    sc.set("SmartHosts", "[192.0.2.1]");
    REQUIRE(sc.set("SmartHostAuthMechanism", "ExchangeServer").empty());
    auto errors = validate_object(sc);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("not supported on this server") != std::string::npos);
    sc.set("SmartHostAuthMechanism", "ExternalAuthoritative");  // sends no AUTH, as Exchange does
    CHECK(validate_object(sc).empty());
}
