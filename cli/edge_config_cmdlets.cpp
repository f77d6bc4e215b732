// Export-EdgeConfig and Import-EdgeConfig (issue 21, Exchange 2007 SP1's cloned
// configuration): the file format is transport/config/edge_config.*; here are the
// config-store reads, the checks against this host (addresses bound here, bindings free,
// certificates and DKIM keys present) and the one transaction that applies a clone.
#include "cmdlet.hpp"

#include "edge_state.hpp"

#include "attachment_filter.hpp"

#include "certificate_store.hpp"
#include "config_store.hpp"
#include "edge_config.hpp"
#include "private_file.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace edge::cli {

// config_cmdlets.cpp: whether this host can bind a socket to `ip`.
bool is_local_address(const std::string& ip);
// auth_cmdlets.cpp: fails unless the key file holds a key of the configuration's algorithm.
void check_dkim_signing_config(const config::ConfigObject& o);

namespace {
using config::ConfigObject;
using config::ObjectKind;

std::string read_config_file(std::string_view param, const std::string& path) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (ec)
        fail(fmt::format("-{}: cannot read {}: {}{}", param, path, ec.message(),
                         param == "AnswerFile" ? " (Import-EdgeConfig -IsImport $false writes it)" : ""));
    if (size > config::kMaxEdgeConfigFileSize)
        fail(fmt::format("-{}: {} is larger than {} MB; it is not an edge configuration file", param, path,
                         config::kMaxEdgeConfigFileSize >> 20));
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) fail(fmt::format("-{}: cannot read {}", param, path));
    return std::move(text).str();
}

const std::string& path_param(const Invocation& inv, std::string_view name) {
    const std::string* p = inv.get(name);
    if (p == nullptr || p->empty()) fail(fmt::format("-{} FILE is required", name), 2);
    return *p;
}

// Every object of every exported kind, read at one config generation (read again when an
// administrator changed something meanwhile, so the file is one consistent state).
std::vector<config::ExportedObject> read_store(const queue::QueueDb& db) {
    for (int attempt = 0;; ++attempt) {
        const std::uint64_t generation = db.config_generation();
        std::vector<config::ExportedObject> out;
        std::vector<std::string> errors;
        for (ObjectKind kind : config::exported_kinds())
            for (auto& s : config::load_objects(db, kind, &errors)) out.push_back({kind, s.name, std::move(s.object)});
        if (!errors.empty())
            fail(fmt::format("a stored object does not read ({}); Test-QueueDatabase and Get-* show it", errors.front()));
        if (db.config_generation() == generation) return out;
        if (attempt == 3) fail("the configuration kept changing while it was read; try again");
    }
}

// Why `answer`'s value does not fit this host, or "" when it does. `current` is this
// data directory's configuration (a binding its own Receive connector holds is busy
// because our server listens on it, not another program).
std::string problem_here(const Context& ctx, const config::Answer& answer, const ConfigObject& object,
                         const std::vector<config::ExportedObject>& current) {
    const auto address_problem = [](const std::string& ip) -> std::string {
        if (ip == "0.0.0.0" || ip == "::" || is_local_address(ip)) return {};
        return fmt::format("{} is not an address of this host (expected 0.0.0.0, :: or an address on one of its interfaces)", ip);
    };
    if (answer.setting == "SourceIPAddress" || answer.setting == "EdgeSyncListenAddress") return address_problem(answer.value);
    if (answer.kind == ObjectKind::ReceiveConnector && answer.setting == "Bindings") {
        ConfigObject probe(ObjectKind::ReceiveConnector);
        if (auto err = probe.set("Bindings", answer.value); !err.empty()) return err;
        std::set<std::string> ours;
        for (const auto& c : current)
            if (c.kind == ObjectKind::ReceiveConnector)
                for (const auto& b : config::receive_connector_settings(c.object).bindings) ours.insert(b.str());
        for (const auto& b : config::receive_connector_settings(probe).bindings) {
            const std::string ip = b.address.str();
            if (auto p = address_problem(ip); !p.empty()) return b.str() + ": " + p;
            if (ours.contains(b.str())) continue;
            // Can a listener be opened there now? EACCES (a port below 1024 for a user
            // without CAP_NET_BIND_SERVICE) is not the binding's fault: the service has it.
            sockaddr_storage ss{};
            socklen_t len = 0;
            auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
            auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
            if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
                v4->sin_family = AF_INET;
                v4->sin_port = htons(b.port);
                len = sizeof *v4;
            } else if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
                v6->sin6_family = AF_INET6;
                v6->sin6_port = htons(b.port);
                len = sizeof *v6;
            } else {
                return b.str() + ": not an IP address";
            }
            int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) return {};
            int one = 1;
            ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
            const int err = errno;
            ::close(fd);
            if (rc != 0 && err == EADDRINUSE) return b.str() + ": in use by another program on this host";
            if (rc != 0 && err == EADDRNOTAVAIL) return b.str() + ": " + address_problem(ip);
        }
        return {};
    }
    if (answer.kind == ObjectKind::ExchangeCertificate) {
        const std::string pem = tls::certificate_path(ctx.data_directory, answer.value);
        const std::string key = tls::key_path(ctx.data_directory, answer.value);
        if (::access(pem.c_str(), R_OK) != 0 || ::access(key.c_str(), R_OK) != 0)
            return fmt::format("certificate {} is not on this host ({} and its key); Import-ExchangeCertificate it first "
                               "(keys are never exported)",
                               answer.value, pem);
        return {};
    }
    if (answer.kind == ObjectKind::DkimSigningConfig && answer.setting == "KeyFile") {
        ConfigObject probe = object;
        if (auto err = probe.set("KeyFile", answer.value); !err.empty()) return err;
        try {
            check_dkim_signing_config(probe);
        } catch (const CmdletError& e) {
            return e.message + " (keys are never exported: copy or make the key here)";
        }
        return {};
    }
    return {};  // Fqdn: the name this server says it is; nothing on the host to check
}

const ConfigObject& cloned_object_of(const config::EdgeConfigFile& file, const config::Answer& a) {
    for (const auto& o : file.objects)
        if (o.kind == a.kind && o.name == a.name) return o.object;
    throw std::logic_error("answer without its object");
}

Record answer_record(const config::Answer& a) {
    Record r;
    r.add("Kind", Value::of_text(config::to_string(a.kind)));
    r.add("Identity", Value::of_text(a.name));
    r.add("Setting", Value::of_text(a.setting));
    r.add("Value", Value::of_text(a.value));
    r.add("Problem", Value::of_text_or_null(a.problem));
    return r;
}

Output export_edge_config(Context& ctx, const Invocation& inv) {
    const std::string& path = path_param(inv, "Path");
    std::string error;
    std::string text = config::write_edge_config(read_store(*ctx.db), &error);
    if (!error.empty()) fail(error);
    // Credentials (AuthenticationCredential) travel in the file: 0600 from the first byte,
    // and never through a name planted at -Path (queue-db/private_file.hpp).
    auto ec = queue::write_file_atomically(path, text, 0600, queue::ExistingFile::Refuse);
    if (ec == std::errc::file_exists) fail(fmt::format("-Path: {} already exists; Export-EdgeConfig does not replace files", path));
    if (ec) fail(fmt::format("-Path: cannot write {}: {}", path, ec.message()));
    return {};
}

config::EdgeConfigFile must_read_edge_config(const std::string& path) {
    std::string error;
    auto file = config::read_edge_config(read_config_file("Path", path), &error);
    if (!file) fail(fmt::format("-Path: {} is not a usable edge configuration: {}", path, error));
    return std::move(*file);
}

// Step 1 (-IsImport $false): the server-specific values and their problems here, to an
// answer file the administrator edits.
Output write_answers(Context& ctx, const Invocation& inv, const config::EdgeConfigFile& file, const std::string& answer_path) {
    const auto current = read_store(*ctx.db);
    auto answers = config::answers_of(file.objects);
    std::size_t problems = 0;
    for (auto& a : answers) {
        a.problem = problem_here(ctx, a, cloned_object_of(file, a), current);
        problems += !a.problem.empty();
    }
    auto ec = queue::write_file_atomically(answer_path, config::write_answer_file(answers), 0600, queue::ExistingFile::Replace);
    if (ec) fail(fmt::format("-AnswerFile: cannot write {}: {}", answer_path, ec.message()));
    Output out;
    for (const auto& a : answers) out.records.push_back(answer_record(a));
    out.records = select_records(std::move(out.records), inv, {"Kind", "Identity", "Setting", "Value", "Problem"});
    out.columns = {"Kind", "Identity", "Setting", "Value", "Problem"};
    out.note = fmt::format("wrote {} answers to {}, {} with a problem on this host; edit the Values, then "
                           "Import-EdgeConfig -Path {} -AnswerFile {} applies the configuration",
                           answers.size(), answer_path, problems, *inv.get("Path"), answer_path);
    return out;
}

// Step 2 (-IsImport $true): the file with the answers' values, checked here, applied in
// one transaction or not at all.
Output apply_clone(Context& ctx, config::EdgeConfigFile file, const std::string& answer_path) {
    const std::uint64_t generation = ctx.db->config_generation();
    if (auto s = edgesync::load_subscription(*ctx.db))
        fail("this edge is subscribed: its accepted domains and Send connectors come from EdgeSync; "
             "Remove-EdgeSubscription before importing a clone, then subscribe again");
    std::string error;
    auto answers = config::read_answer_file(read_config_file("AnswerFile", answer_path), &error);
    if (!answers)
        fail(fmt::format("-AnswerFile: {} is not a usable answer file: {} (Import-EdgeConfig -IsImport $false writes one)",
                         answer_path, error));
    const auto current = read_store(*ctx.db);
    std::vector<std::string> errors;
    std::map<std::tuple<ObjectKind, std::string, std::string>, const config::Answer*> given;
    for (const auto& a : *answers) {
        if (!given.emplace(std::tuple{a.kind, a.name, a.setting}, &a).second)
            errors.push_back(fmt::format("{} '{}' -{}: answered twice", config::to_string(a.kind), a.name, a.setting));
    }
    std::map<std::string, std::string> renamed_certificates;  // exported thumbprint -> this host's
    std::size_t used = 0;
    for (const auto& wanted : config::answers_of(file.objects)) {
        const std::string where = fmt::format("{} '{}' -{}", config::to_string(wanted.kind), wanted.name, wanted.setting);
        auto it = given.find({wanted.kind, wanted.name, wanted.setting});
        if (it == given.end()) {
            errors.push_back(where + ": no answer in " + answer_path + " (Import-EdgeConfig -IsImport $false lists every one)");
            continue;
        }
        ++used;
        config::Answer a = *it->second;
        ConfigObject* object = nullptr;
        for (auto& o : file.objects)
            if (o.kind == a.kind && o.name == a.name) object = &o.object;
        if (auto p = problem_here(ctx, a, *object, current); !p.empty()) {
            errors.push_back(where + ": " + p);
            continue;
        }
        if (a.kind == ObjectKind::ExchangeCertificate) {
            if (a.value != wanted.value) renamed_certificates[wanted.value] = a.value;
            continue;
        }
        if (auto err = object->set(a.setting, a.value); !err.empty()) errors.push_back(where + ": " + err);
        for (auto& e : config::validate_object(*object)) errors.push_back(where + ": " + e);
    }
    if (used != answers->size())
        for (const auto& a : *answers) {
            bool known = false;
            for (const auto& o : file.objects) known = known || (o.kind == a.kind && o.name == a.name);
            if (!known)
                errors.push_back(fmt::format("{} '{}' -{}: answers an object that is not in the configuration file",
                                             config::to_string(a.kind), a.name, a.setting));
        }
    // A certificate answered with another one present here: this host's certificate under
    // its own thumbprint, with the exported Services, and the connectors that named the old one.
    for (auto& o : file.objects) {
        if (o.kind == ObjectKind::ExchangeCertificate) {
            auto r = renamed_certificates.find(o.name);
            if (r == renamed_certificates.end()) continue;
            std::optional<ConfigObject> here;
            for (auto& stored : config::load_objects(*ctx.db, ObjectKind::ExchangeCertificate))
                if (stored.name == r->second) here = stored.object;
            if (!here) {
                errors.push_back(fmt::format("ExchangeCertificate '{}' -Thumbprint: '{}' has files here but no object; "
                                             "Import-ExchangeCertificate it",
                                             o.name, r->second));
                continue;
            }
            here->set("Services", o.object.text("Services"));
            o.name = r->second;
            o.object = *here;
        } else if (o.kind == ObjectKind::SendConnector) {
            auto r = renamed_certificates.find(o.object.text("TlsCertificateName"));
            if (r != renamed_certificates.end()) o.object.set("TlsCertificateName", r->second);
        }
    }
    if (!errors.empty()) {
        std::string all = "the configuration was not imported, nothing was changed:";
        for (const auto& e : errors) all += "\n  " + e;
        fail(all);
    }
    // The clone replaces each kind the file lists: objects of that kind it does not hold
    // are removed. Certificates are only added: the files of this host's others stay, and
    // so do their objects.
    std::vector<queue::ConfigChange> changes;
    std::set<std::pair<ObjectKind, std::string>> keep;
    for (const auto& o : file.objects) {
        keep.insert({o.kind, o.name});
        changes.push_back({config::to_string(o.kind), o.name, o.object.serialize()});
    }
    for (const auto& c : current)
        if (c.kind != ObjectKind::ExchangeCertificate && !keep.contains({c.kind, c.name}) &&
            std::find(file.kinds_present.begin(), file.kinds_present.end(), c.kind) != file.kinds_present.end())
            changes.push_back({config::to_string(c.kind), c.name, std::nullopt});
    // The Attachment Filtering Agent's list is Exchange's defaults until an administrator
    // changes it, and then all its entries are stored with a marker (agents/attachment_filter.hpp):
    // a clone with entries is a changed list, one without is the defaults.
    if (std::find(file.kinds_present.begin(), file.kinds_present.end(), ObjectKind::AttachmentFilterEntry) !=
        file.kinds_present.end()) {
        bool entries = false;
        for (const auto& o : file.objects) entries = entries || o.kind == ObjectKind::AttachmentFilterEntry;
        changes.push_back({std::string(agents::kAttachmentFilterListKind), std::string(agents::kAttachmentFilterListCustomized),
                           entries ? std::optional<std::string>("1") : std::nullopt});
    }
    // A cloned edge has its Receive connectors: the server's first start must not add its
    // default connector beside them (transport/server/server.cpp ensure_first_start_objects).
    if (!ctx.db->config_get("Server", "FirstStart"))
        changes.push_back({"Server", "FirstStart", std::to_string(std::time(nullptr))});
    auto r = ctx.db->config_apply(std::move(changes), generation);
    if (!r) fail("the configuration changed meanwhile or could not be written (" + r.error().message() + "); nothing was changed");
    Output out;
    out.note = fmt::format("imported {} objects", file.objects.size());
    return out;
}

Output import_edge_config(Context& ctx, const Invocation& inv) {
    const std::string& path = path_param(inv, "Path");
    const std::string& answer_path = path_param(inv, "AnswerFile");
    const bool is_import = bool_param(inv, "IsImport", true);
    config::EdgeConfigFile file = must_read_edge_config(path);
    if (!is_import) return write_answers(ctx, inv, file, answer_path);
    return apply_clone(ctx, std::move(file), answer_path);
}

}  // namespace

void add_edge_config_cmdlets(std::vector<Cmdlet>& table) {
    table.push_back(Cmdlet{
        "Export-EdgeConfig",
        "Write every configuration object of this edge to a file (JSON; certificates by thumbprint, never keys)",
        {ParamDef{"Path", "LocalLongFullPath", "", "The file written (0600; an existing file is refused)"}},
        true, export_edge_config});
    table.push_back(Cmdlet{
        "Import-EdgeConfig",
        "Clone an exported configuration here: -IsImport $false writes the answer file, then -IsImport $true applies it",
        {ParamDef{"Path", "LocalLongFullPath", "", "The file Export-EdgeConfig wrote"},
         ParamDef{"AnswerFile", "LocalLongFullPath", "",
                  "The server-specific values (bindings, source addresses, FQDNs, certificates, DKIM keys): written "
                  "with -IsImport $false, read with -IsImport $true"},
         ParamDef{"IsImport", "Boolean", "$true",
                  "$false: check against this host and write -AnswerFile; $true: apply with its values, all or nothing"}},
        true, import_edge_config});
}

}  // namespace edge::cli
