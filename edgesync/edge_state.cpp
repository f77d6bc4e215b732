// The edge's EdgeSync state: the subscription record, the subscription file, and the
// config-store changes of a replicated CONFIG batch (see edge_state.hpp).
#include "edge_state.hpp"

#include "config_store.hpp"

#include <fmt/format.h>

#include <charconv>
#include <ctime>
#include <stdexcept>
#include <map>
#include <set>

namespace edge::edgesync {

namespace {

// Values are one line each: the record is "Key=Value" lines; lists are comma-joined
// (no element holds a comma: names of replicated objects are checked on the way in).
std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
}

std::vector<std::string> split(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        auto c = s.find(',');
        out.emplace_back(s.substr(0, c));
        if (c == std::string_view::npos) break;
        s.remove_prefix(c + 1);
    }
    return out;
}

template <class N>
bool to_number(std::string_view text, N& out) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && p == text.data() + text.size();
}

// XML text and attribute escaping for the five special characters.
std::string xml_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default: out += c;
        }
    }
    return out;
}

std::optional<std::string> xml_unescape(std::string_view s) {
    static const std::pair<std::string_view, char> entities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        if (s[i] != '&') {
            out += s[i++];
            continue;
        }
        bool found = false;
        for (const auto& [e, c] : entities)
            if (s.substr(i, e.size()) == e) {
                out += c;
                i += e.size();
                found = true;
                break;
            }
        if (!found) return std::nullopt;
    }
    return out;
}

// The text of <name>…</name> inside `xml`, unescaped; nullopt when absent or twice.
std::optional<std::string> element(std::string_view xml, std::string_view name) {
    const std::string open = "<" + std::string(name) + ">", close = "</" + std::string(name) + ">";
    auto a = xml.find(open);
    if (a == std::string_view::npos || xml.find(open, a + 1) != std::string_view::npos) return std::nullopt;
    auto b = xml.find(close, a + open.size());
    if (b == std::string_view::npos) return std::nullopt;
    return xml_unescape(xml.substr(a + open.size(), b - a - open.size()));
}

}  // namespace

std::string Subscription::serialize() const {
    std::string out;
    auto line = [&](std::string_view k, const std::string& v) { out += fmt::format("{}={}\n", k, v); };
    line("Format", "1");
    line("EdgeName", edge_name);
    line("EdgeFqdn", edge_fqdn);
    line("Port", std::to_string(port));
    line("SecretSha256", secret_sha256);
    line("SecretExpires", std::to_string(secret_expires));
    line("AgentCertificate", agent_certificate);
    line("HashKey", hash_key);
    line("Created", std::to_string(created));
    line("Site", site);
    line("Replicated", join(replicated));
    line("LastConfigSync", std::to_string(last_config_sync));
    line("LastRecipientSync", std::to_string(last_recipient_sync));
    line("RecipientVersion", std::to_string(recipient_version));
    line("LeaseHolder", lease_holder);
    line("LeaseUntil", std::to_string(lease_until));
    line("LeaseHolderId", lease_holder_id);
    line("LeaseRefusals", std::to_string(lease_refusals));
    line("LastLeaseRefusal", std::to_string(last_lease_refusal));
    return out;
}

std::optional<Subscription> Subscription::parse(std::string_view text) {
    std::map<std::string, std::string, std::less<>> kv;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view l = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        auto eq = l.find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        kv.emplace(std::string(l.substr(0, eq)), std::string(l.substr(eq + 1)));
    }
    if (kv["Format"] != "1") return std::nullopt;
    Subscription s;
    s.edge_name = kv["EdgeName"];
    s.edge_fqdn = kv["EdgeFqdn"];
    s.secret_sha256 = kv["SecretSha256"];
    s.agent_certificate = kv["AgentCertificate"];
    s.hash_key = kv["HashKey"];
    s.site = kv["Site"];
    s.replicated = split(kv["Replicated"]);
    s.lease_holder = kv["LeaseHolder"];
    // A record written before EdgeSyncListenAddress has a ListenAddress line: ignored
    // (the listener binds the TransportServer setting now).
    bool ok = to_number(kv["Port"], s.port) && to_number(kv["SecretExpires"], s.secret_expires) &&
              to_number(kv["Created"], s.created) && to_number(kv["LastConfigSync"], s.last_config_sync) &&
              to_number(kv["LastRecipientSync"], s.last_recipient_sync) &&
              to_number(kv["RecipientVersion"], s.recipient_version) && to_number(kv["LeaseUntil"], s.lease_until);
    // Written by an older edge without these lines: no holder id, no refusals yet.
    s.lease_holder_id = kv["LeaseHolderId"];
    if (!kv["LeaseRefusals"].empty()) ok = ok && to_number(kv["LeaseRefusals"], s.lease_refusals);
    if (!kv["LastLeaseRefusal"].empty()) ok = ok && to_number(kv["LastLeaseRefusal"], s.last_lease_refusal);
    if (!ok || s.edge_fqdn.empty() || !from_hex(s.hash_key)) return std::nullopt;
    return s;
}

std::optional<Subscription> load_subscription(const queue::QueueDb& db) {
    auto v = db.config_get(config::kEdgeSyncKind, kSubscriptionName);
    if (!v) return std::nullopt;
    return Subscription::parse(*v);
}

std::string enrollment_secret_hash(std::string_view secret) { return sha256_hex(secret); }

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

queue::ConfigChange subscription_change(const Subscription& s) {
    return {std::string(config::kEdgeSyncKind), std::string(kSubscriptionName), s.serialize()};
}

std::string SubscriptionFile::write() const {
    // Exchange's root element and names where they mean the same; the secret and the
    // certificate are ours (Exchange uses an ADAM account and a key pair).
    return fmt::format(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<EdgeSubscriptionData>\n"
        "  <EdgeServerName>{}</EdgeServerName>\n"
        "  <EdgeServerFQDN>{}</EdgeServerFQDN>\n"
        "  <EdgeSyncPort>{}</EdgeSyncPort>\n"
        "  <EdgeCertificate>{}</EdgeCertificate>\n"
        "  <EnrollmentSecret>{}</EnrollmentSecret>\n"
        "  <EffectiveDate>{}</EffectiveDate>\n"
        "  <Duration>{}</Duration>\n"
        "  <VersionNumber>1</VersionNumber>\n"
        "</EdgeSubscriptionData>\n",
        xml_escape(edge_name), xml_escape(edge_fqdn), port, xml_escape(certificate_pem), xml_escape(enrollment_secret),
        effective, duration);
}

std::optional<SubscriptionFile> SubscriptionFile::read(std::string_view xml, std::string* error) {
    auto fail = [&](std::string why) -> std::optional<SubscriptionFile> {
        if (error) *error = std::move(why);
        return std::nullopt;
    };
    if (xml.find("<EdgeSubscriptionData>") == std::string_view::npos) return fail("not an edge subscription file");
    SubscriptionFile f;
    const std::pair<std::string_view, std::string*> texts[] = {{"EdgeServerName", &f.edge_name},
                                                               {"EdgeServerFQDN", &f.edge_fqdn},
                                                               {"EdgeCertificate", &f.certificate_pem},
                                                               {"EnrollmentSecret", &f.enrollment_secret}};
    for (const auto& [name, out] : texts) {
        auto v = element(xml, name);
        if (!v || v->empty()) return fail(fmt::format("<{}> is missing or empty", name));
        *out = *v;
    }
    auto port = element(xml, "EdgeSyncPort"), effective = element(xml, "EffectiveDate"),
         duration = element(xml, "Duration"), version = element(xml, "VersionNumber");
    if (!port || !to_number(*port, f.port) || f.port == 0) return fail("<EdgeSyncPort> is not a port");
    if (!effective || !to_number(*effective, f.effective)) return fail("<EffectiveDate> is not a time");
    if (!duration || !to_number(*duration, f.duration)) return fail("<Duration> is not a number of seconds");
    if (!version || *version != "1") return fail("<VersionNumber> is not 1");
    return f;
}

std::vector<queue::ConfigChange> replicated_config_changes(const queue::QueueDb& db, const ReplicatedConfig& c,
                                                           std::vector<std::string>* replicated) {
    using config::ConfigObject;
    using config::ObjectKind;
    std::vector<queue::ConfigChange> changes;
    std::set<std::string> written;
    auto put = [&](const ConfigObject& o) {
        auto errors = config::validate_object(o);
        if (!errors.empty()) throw std::invalid_argument(errors.front());
        std::string kind = config::to_string(o.kind()), name = o.text("Name");
        changes.push_back({kind, name, o.serialize()});
        written.insert(kind + "/" + name);
        if (replicated) replicated->push_back(kind + "/" + name);
    };
    auto must = [](const std::string& err) {
        if (!err.empty()) throw std::invalid_argument(err);
    };
    for (const auto& d : c.domains) {
        ConfigObject o(ObjectKind::AcceptedDomain);
        must(o.set("Name", d.domain_name));
        must(o.set("DomainName", d.domain_name));
        must(o.set("DomainType", d.domain_type));
        must(o.set("Default", d.default_domain ? "$true" : "$false"));
        put(o);
    }
    ConfigObject internet(ObjectKind::SendConnector);
    must(internet.set("Name", "EdgeSync - " + c.site + " to Internet"));
    must(internet.set("AddressSpaces", "SMTP:*;100"));
    // As Exchange's automatic Internet connector: Domain Security for TLSSendDomainSecureList.
    must(internet.set("DomainSecureEnabled", "$true"));
    put(internet);
    if (!c.hubs.empty()) {
        std::vector<std::string> hosts;
        std::string port;
        for (const auto& h : c.hubs) {
            // host, host:port, [v6]:port; every hub on one port (a connector has one Port).
            auto colon = h.rfind(':');
            bool has_port = colon != std::string::npos && h.find(':') == colon;
            if (h.starts_with("[")) has_port = h.find("]:") != std::string::npos, colon = h.find("]:") + 1;
            std::string this_port = has_port ? h.substr(colon + 1) : "25";
            if (!port.empty() && port != this_port)
                throw std::invalid_argument("the hubs of a site must listen on one port");
            port = this_port;
            hosts.push_back(has_port ? h.substr(0, colon) : h);
        }
        ConfigObject inbound(ObjectKind::SendConnector);
        must(inbound.set("Name", "EdgeSync - Inbound to " + c.site));
        must(inbound.set("AddressSpaces", "SMTP:--;1"));
        must(inbound.set("DNSRoutingEnabled", "$false"));
        std::string list;
        for (const auto& h : hosts) list += (list.empty() ? "" : ",") + h;
        must(inbound.set("SmartHosts", list));
        must(inbound.set("Port", port));
        put(inbound);
    }
    // What the edge had of its own goes, as when Exchange subscribes an edge.
    for (ObjectKind k : {ObjectKind::AcceptedDomain, ObjectKind::SendConnector})
        for (const auto& rec : db.config_list(config::to_string(k)))
            if (!written.contains(std::string(config::to_string(k)) + "/" + rec.name))
                changes.push_back({config::to_string(k), rec.name, std::nullopt});
    return changes;
}

}  // namespace edge::edgesync
