// EdgeSync on the edge: New-EdgeSubscription (the subscription file for the internal
// side), Get-EdgeSubscription, Remove-EdgeSubscription (the replicated data goes
// too) and Test-EdgeSynchronization (is the sync current?).
#include "cmdlet.hpp"

#include "certificate.hpp"
#include "config_store.hpp"
#include "edge_state.hpp"
#include "host_name.hpp"
#include "private_file.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace edge::cli {

namespace {
using edgesync::Subscription;

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
        fail("no random bytes from OpenSSL");
    return edgesync::to_hex(raw);
}

// Subscription times are Unix seconds; 0 = never.
Value time_or_null(std::int64_t unix_seconds) {
    return Value::of_time_or_null(unix_seconds > 0 ? std::optional<queue::Timestamp>(std::chrono::seconds(unix_seconds))
                                                   : std::nullopt);
}

// Where the sync listener binds: the TransportServer's EdgeSyncListenAddress.
std::string sync_listen_address(const Context& ctx) {
    return config::transport_server_settings(config::load_singleton(*ctx.db, config::ObjectKind::TransportServer))
        .edge_sync_listen_address;
}

// "127.0.0.1:50636", "[::1]:50636".
std::string sync_endpoint(const Context& ctx, std::uint16_t port) {
    const std::string a = sync_listen_address(ctx);
    return a.find(':') != std::string::npos ? fmt::format("[{}]:{}", a, port) : fmt::format("{}:{}", a, port);
}

// A loopback address serves only an agent on this host.
bool loopback_only(const std::string& address) {
    return address.starts_with("127.") || address == "::1";
}

// Recipient validation has nothing to validate against once the replicated recipients
// are gone: the setting is reset with them, so it never reads $true while the edge
// accepts every recipient (issue 15). Returns whether it was on.
bool reset_recipient_validation(const Context& ctx, queue::QueueDb::SyncBatch& b) {
    config::ConfigObject f = config::load_singleton(*ctx.db, config::ObjectKind::RecipientFilterConfig);
    if (!config::recipient_filter_config_settings(f).recipient_validation_enabled) return false;
    if (auto err = f.set("RecipientValidationEnabled", "$false"); !err.empty()) fail(err);
    b.config.push_back({std::string(config::to_string(config::ObjectKind::RecipientFilterConfig)),
                        std::string(config::kRecipientFilterConfigName), f.serialize()});
    return true;
}

constexpr std::string_view kValidationReset =
    "; RecipientValidationEnabled is now $false (no recipient set to validate against): set it again after the "
    "next subscription's first sync";

// The config-store changes that take the subscription and what it brought away:
// the record, the replicated objects, every recipient hash.
queue::QueueDb::SyncBatch removal(const Subscription& s, std::uint64_t generation) {
    queue::QueueDb::SyncBatch b;
    b.expected_generation = generation;
    b.forget_recipients = true;
    b.config.push_back({std::string(config::kEdgeSyncKind), std::string(edgesync::kSubscriptionName), std::nullopt});
    for (const auto& r : s.replicated) {
        auto slash = r.find('/');
        if (slash != std::string::npos) b.config.push_back({r.substr(0, slash), r.substr(slash + 1), std::nullopt});
    }
    return b;
}

Output new_subscription(Context& ctx, const Invocation& inv) {
    const std::string* file = inv.get("FileName");
    if (file == nullptr || file->empty()) fail("-FileName is required: where to write the subscription file", 2);
    std::uint64_t port = edgesync::kDefaultSyncPort;
    if (const std::string* p = inv.get("Port")) {
        auto [end, ec] = std::from_chars(p->data(), p->data() + p->size(), port);
        if (ec != std::errc() || end != p->data() + p->size() || port == 0 || port > 65535)
            fail(fmt::format("-Port: '{}' is not valid; expected a whole number from 1 to 65535", *p));
    }
    const std::uint64_t generation = ctx.db->config_generation();
    // -ListenAddress is the TransportServer's EdgeSyncListenAddress, set with the
    // subscription; left out, that setting stays (default 127.0.0.1, never every interface).
    std::optional<queue::ConfigChange> listen_change;
    if (const std::string* a = inv.get("ListenAddress")) {
        config::ConfigObject ts = config::load_singleton(*ctx.db, config::ObjectKind::TransportServer);
        if (auto err = ts.set("EdgeSyncListenAddress", *a); !err.empty())
            fail("-ListenAddress: " + err.substr(err.find(':') == std::string::npos ? 0 : err.find(':') + 2));
        listen_change = queue::ConfigChange{std::string(config::to_string(config::ObjectKind::TransportServer)),
                                            std::string(config::kTransportServerName), ts.serialize()};
    }
    auto existing = edgesync::load_subscription(*ctx.db);
    if (existing && !bool_param(inv, "Force", false))
        fail(fmt::format("this edge already has a subscription{}; -Force replaces it (the old one stops working)",
                         existing->site.empty() ? "" : " to site '" + existing->site + "'"));

    // A new subscription: new certificate, new secret, new hash key — nothing of an old
    // one keeps working.
    const std::string tls_dir = ctx.data_directory + "/tls";
    if (auto ec = queue::make_directory(tls_dir, 0700)) fail("cannot create " + tls_dir + ": " + ec.message());
    const std::string fqdn = config::host_fqdn();
    // Made beside the live pair and put in place only once everything else is written:
    // a refused command leaves the running listener's certificate as it was.
    const std::string crt = tls_dir + "/edgesync.crt", key = tls_dir + "/edgesync.key";
    tls::make_self_signed_certificate(crt + ".new", key + ".new", fqdn);
    auto discard_new = [&] {
        std::error_code ec;
        std::filesystem::remove(crt + ".new", ec);
        std::filesystem::remove(key + ".new", ec);
    };
    std::ifstream in(crt + ".new");
    std::stringstream pem;
    pem << in.rdbuf();

    edgesync::SubscriptionFile f;
    f.edge_name = ctx.server_name;
    f.edge_fqdn = fqdn;
    f.port = static_cast<std::uint16_t>(port);
    f.certificate_pem = pem.str();
    f.enrollment_secret = random_hex(32);
    f.effective = edgesync::unix_now();
    f.duration = std::chrono::duration_cast<std::chrono::seconds>(edgesync::kEnrollmentLifetime).count();

    Subscription s;
    s.edge_name = f.edge_name;
    s.edge_fqdn = f.edge_fqdn;
    s.port = f.port;
    s.secret_sha256 = edgesync::enrollment_secret_hash(f.enrollment_secret);  // the secret itself is kept only in the file
    s.secret_expires = f.effective + f.duration;
    s.hash_key = random_hex(32);
    s.created = f.effective;

    queue::QueueDb::SyncBatch b = existing ? removal(*existing, generation) : queue::QueueDb::SyncBatch{};
    b.expected_generation = generation;
    b.forget_recipients = true;
    const bool validation_reset = reset_recipient_validation(ctx, b);
    if (listen_change) b.config.push_back(*listen_change);
    b.config.push_back(edgesync::subscription_change(s));
    // Write the file first: a subscription nobody can enroll to is worse than none. It
    // holds the secret: private from its first byte, under a temporary name nobody can
    // plant or point elsewhere (queue-db/private_file.hpp), put in place only once the
    // config store has the subscription.
    queue::AtomicFileWriter secret_file(*file, 0600);
    if (secret_file.write(f.write())) {
        discard_new();
        fail("-FileName: cannot write " + *file);
    }
    auto st = ctx.db->apply_sync_batch(b);
    if (!st) {
        discard_new();
        fail("the configuration changed meanwhile or could not be written (" + st.error().message() + "); nothing was changed");
    }
    std::filesystem::rename(key + ".new", key);
    std::filesystem::rename(crt + ".new", crt);
    if (auto ec = secret_file.commit()) fail("-FileName: cannot write " + *file + ": " + ec.message());
    Output out;
    out.note = fmt::format("wrote {}; its enrollment secret is valid for {} minutes: run edgesync --subscription {} "
                           "on the internal side before then; the sync listener is on {}",
                           *file, edgesync::kEnrollmentLifetime.count(), *file, sync_endpoint(ctx, s.port));
    if (loopback_only(sync_listen_address(ctx)))
        out.note += " (this host only: for an agent on the internal network, New-EdgeSubscription -ListenAddress or "
                    "Set-TransportServer -EdgeSyncListenAddress <this edge's internal address>)";
    if (validation_reset) out.note += kValidationReset;
    return out;
}


// The sync lease as the administrator sees it: who has it until when, and how many
// LEASE requests it refused (an agent that spins shows here).
void add_lease(Record& r, const Subscription& s) {
    const bool held = !s.lease_holder.empty() && s.lease_until > edgesync::unix_now();
    r.add("LeaseHolder", held ? Value::of_text(s.lease_holder) : Value::null());
    r.add("LeaseExpires", held ? time_or_null(s.lease_until) : Value::null());
    r.add("LeaseRefusals", Value::of_number(static_cast<double>(s.lease_refusals)));
    r.add("LastLeaseRefusal", time_or_null(s.last_lease_refusal));
}

Record subscription_record(const Context& ctx, const Subscription& s) {
    Record r;
    r.add("Identity", Value::of_text(s.edge_name));
    r.add("Name", Value::of_text(s.edge_fqdn));
    r.add("Site", Value::of_text_or_null(s.site));
    r.add("ListenAddress", Value::of_text(sync_listen_address(ctx)));  // EdgeSyncListenAddress
    r.add("Port", Value::of_number(s.port));
    r.add("Enrolled", Value::of_bool(!s.agent_certificate.empty()));
    r.add("EnrollmentExpires", s.secret_sha256.empty() ? Value::null() : time_or_null(s.secret_expires));
    r.add("AgentCertificate", Value::of_text_or_null(s.agent_certificate));
    r.add("LastConfigSync", time_or_null(s.last_config_sync));
    r.add("LastRecipientSync", time_or_null(s.last_recipient_sync));
    r.add("RecipientCount", Value::of_number(static_cast<double>(ctx.db->recipient_count())));
    r.add("RecipientVersion", Value::of_number(static_cast<double>(s.recipient_version)));
    add_lease(r, s);
    r.add("Replicated", Value::of_list(s.replicated));
    return r;
}

Subscription must_load(const Context& ctx, const Invocation& inv) {
    auto s = edgesync::load_subscription(*ctx.db);
    if (!s) fail("this edge has no subscription; New-EdgeSubscription makes one");
    if (const std::string* id = inv.get("Identity"); id && !iequals(*id, s->edge_name) && !iequals(*id, s->edge_fqdn))
        fail(fmt::format("no subscription '{}'; this edge's is {}", *id, s->edge_name));
    return *s;
}

Output get_subscription(Context& ctx, const Invocation& inv) {
    std::vector<Record> records;
    if (auto s = edgesync::load_subscription(*ctx.db)) {
        if (const std::string* id = inv.get("Identity"); !id || iequals(*id, s->edge_name) || iequals(*id, s->edge_fqdn))
            records.push_back(subscription_record(ctx, *s));
        else
            fail(fmt::format("no subscription '{}'; this edge's is {}", *id, s->edge_name));
    }
    Output out;
    out.records = select_records(std::move(records), inv, subscription_record(ctx, Subscription{}).names());
    out.columns = {"Name", "Site", "Enrolled", "LastConfigSync", "LastRecipientSync", "RecipientCount"};
    return out;
}

Output remove_subscription(Context& ctx, const Invocation& inv) {
    const std::uint64_t generation = ctx.db->config_generation();
    Subscription s = must_load(ctx, inv);
    auto b = removal(s, generation);
    const bool validation_reset = reset_recipient_validation(ctx, b);
    auto st = ctx.db->apply_sync_batch(b);
    if (!st) fail("the configuration changed meanwhile (" + st.error().message() + "); nothing was removed");
    std::error_code ec;
    std::filesystem::remove(ctx.data_directory + "/tls/edgesync.key", ec);
    std::filesystem::remove(ctx.data_directory + "/tls/edgesync.crt", ec);
    Output out;
    out.note = fmt::format("removed; {} replicated objects and every replicated recipient went with it",
                           s.replicated.size());
    if (validation_reset) out.note += kValidationReset;
    return out;
}

// Exchange's SyncStatus: Normal, or what is wrong. Stale: no sync for three intervals.
Output test_synchronization(Context& ctx, const Invocation& inv) {
    Subscription s = must_load(ctx, inv);
    const auto now = edgesync::unix_now();
    const auto config_limit = 3 * std::chrono::duration_cast<std::chrono::seconds>(edgesync::kConfigSyncInterval).count();
    const auto recipient_limit =
        3 * std::chrono::duration_cast<std::chrono::seconds>(edgesync::kRecipientSyncInterval).count();
    std::string status = "Normal", detail;
    if (s.agent_certificate.empty()) {
        status = s.secret_sha256.empty() || now > s.secret_expires ? "EnrollmentExpired" : "NotEnrolled";
        detail = status == "NotEnrolled"
                     ? fmt::format("waiting for edgesync to enroll with the subscription file; the sync listener is on {}",
                                   sync_endpoint(ctx, s.port))
                     : "the enrollment secret expired unused: New-EdgeSubscription -Force";
        if (status == "NotEnrolled" && loopback_only(sync_listen_address(ctx)))
            detail += " (this host only: an agent on another host needs Set-TransportServer -EdgeSyncListenAddress "
                      "<this edge's internal address>)";
    } else if (s.last_config_sync == 0 || s.last_recipient_sync == 0) {
        status = "NotStarted";
        detail = "enrolled; no full configuration and recipient sync yet";
    } else if (ctx.db->config_list(config::to_string(config::ObjectKind::AcceptedDomain)).empty()) {
        // Issue 15: a sync that replicated no domain left the edge refusing all mail
        // (550 5.7.1) while this said Normal.
        status = "NoAcceptedDomain";
        detail = "subscribed, but the edge has no accepted domain: it refuses all inbound mail (550 5.7.1); "
                 "give edgesync --accepted-domain on the internal side";
    } else if (now - s.last_config_sync > config_limit || now - s.last_recipient_sync > recipient_limit) {
        status = "Stale";
        detail = fmt::format("no configuration sync for {} s or recipient sync for {} s (limits {} s and {} s)",
                             now - s.last_config_sync, now - s.last_recipient_sync, config_limit, recipient_limit);
    }
    Record r;
    r.add("Name", Value::of_text(s.edge_name));
    r.add("SyncStatus", Value::of_text(status));
    r.add("Healthy", Value::of_bool(status == "Normal"));
    r.add("LastConfigSync", time_or_null(s.last_config_sync));
    r.add("LastRecipientSync", time_or_null(s.last_recipient_sync));
    r.add("ConfigObjects", Value::of_number(static_cast<double>(s.replicated.size())));
    r.add("RecipientCount", Value::of_number(static_cast<double>(ctx.db->recipient_count())));
    add_lease(r, s);
    r.add("Detail", Value::of_text_or_null(detail));
    Output out;
    const auto names = r.names();
    out.records = select_records({std::move(r)}, inv, names);
    out.columns = {"Name", "SyncStatus", "LastConfigSync", "LastRecipientSync", "RecipientCount"};
    out.list_by_default = true;
    out.exit_code = status == "Normal" ? 0 : 1;
    return out;
}

}  // namespace

void add_edgesync_cmdlets(std::vector<Cmdlet>& table) {
    const ParamDef identity{"Identity", "String", "", "The edge's name (optional: there is one subscription)", false,
                            false, true};
    table.push_back(Cmdlet{"New-EdgeSubscription",
                           "Write a subscription file for the internal side's edgesync agent",
                           {{"FileName", "String", "", "Where to write the subscription file (XML)"},
                            {"ListenAddress", "String", "",
                             "The edge's address on the internal network, where the sync listener binds (sets "
                             "Set-TransportServer -EdgeSyncListenAddress; left out, that setting stays: default 127.0.0.1, "
                             "this host only, never every interface unless you give 0.0.0.0)"},
                            {"Port", "Int32", "50636",
                             "TCP port of the sync listener (mutual TLS); the internal side's agent connects in to it "
                             "(firewall: internal network -> edge, this port only)"},
                            {"Force", "Switch", "", "Replace an existing subscription (the old one stops working)", true}},
                           true,
                           new_subscription});
    Cmdlet get{"Get-EdgeSubscription", "Show the edge's subscription", {identity}, true, get_subscription};
    for (auto& p : output_params()) get.params.push_back(std::move(p));
    table.push_back(std::move(get));
    table.push_back(Cmdlet{"Remove-EdgeSubscription",
                           "End the subscription: its replicated domains, connectors and recipients go too, and "
                           "RecipientValidationEnabled is reset to $false (nothing is left to validate against)",
                           {identity, {"Confirm", "Switch", "", "Accepted for Exchange scripts; edgectl never prompts", true}},
                           true,
                           remove_subscription});
    Cmdlet test{"Test-EdgeSynchronization",
                "Whether the edge's replicated data is current: SyncStatus Normal (exit 0), or NotEnrolled, "
                "EnrollmentExpired, NotStarted, NoAcceptedDomain or Stale (exit 1); who holds the sync lease and how "
                "many lease requests it refused",
                {identity}, true, test_synchronization};
    for (auto& p : output_params()) test.params.push_back(std::move(p));
    table.push_back(std::move(test));
}

}  // namespace edge::cli
