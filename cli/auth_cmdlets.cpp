// Who really sent it (issue 18), the cmdlets beside the settings table's: New-DkimSigningKey
// makes a key pair with OpenSSL, writes the private key (0600) and prints the TXT record to
// publish; New-/Set-DkimSigningConfig are checked here before they are written (the key
// file must hold a key of the configuration's algorithm), so the server never meets a
// configuration it cannot sign with.
#include "cmdlet.hpp"

#include "dkim_sign.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace edge::cli {

namespace {

auth::DkimAlgorithm algorithm_of(std::string_view text) {
    if (iequals(text, "rsa-sha256")) return auth::DkimAlgorithm::RsaSha256;
    if (iequals(text, "ed25519-sha256")) return auth::DkimAlgorithm::Ed25519Sha256;
    fail(fmt::format("-Algorithm: '{}' is not one of rsa-sha256, ed25519-sha256", text), 2);
}

// The private key goes to a new file only the owner can read: never over an existing
// key (a published selector would stop verifying), never readable by others.
void write_private_key(const std::string& path, const std::string& pem) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            fail(fmt::format("-KeyFile: {} exists; a key that is published may still be in use, so it is never "
                             "overwritten. Choose another file (and a new -Selector)",
                             path));
        fail(fmt::format("-KeyFile: cannot create {}: {}", path, std::strerror(errno)));
    }
    std::size_t done = 0;
    while (done < pem.size()) {
        ssize_t n = ::write(fd, pem.data() + done, pem.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string why = std::strerror(errno);
            ::close(fd);
            ::unlink(path.c_str());
            fail(fmt::format("-KeyFile: writing {}: {}", path, why));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) fail(fmt::format("-KeyFile: writing {}: {}", path, std::strerror(errno)));
}

// A TXT record's text as zone-file character-strings of at most 255 octets (RFC 1035 §3.3).
std::string zone_strings(std::string_view text) {
    std::string out;
    while (!text.empty()) {
        if (!out.empty()) out += " ";
        out += '"' + std::string(text.substr(0, 255)) + '"';
        text.remove_prefix(std::min<std::size_t>(255, text.size()));
    }
    return out;
}

Output new_dkim_signing_key(Context&, const Invocation& inv) {
    const std::string* domain = inv.get("DomainName");
    const std::string* selector = inv.get("Selector");
    const std::string* key_file = inv.get("KeyFile");
    if (domain == nullptr || selector == nullptr || key_file == nullptr)
        fail("-DomainName, -Selector and -KeyFile are required", 2);
    // The same checks as the configuration's: the names must do as DNS labels.
    config::ConfigObject probe(config::ObjectKind::DkimSigningConfig);
    for (const char* name : {"DomainName", "Selector", "KeyFile"})
        if (auto err = probe.set(name, *inv.get(name)); !err.empty()) fail(err, 2);
    const auth::DkimAlgorithm algorithm = algorithm_of(inv.get("Algorithm") ? *inv.get("Algorithm") : "rsa-sha256");
    int bits = 2048;
    if (const std::string* size = inv.get("KeySize")) {
        try {
            std::size_t used = 0;
            bits = std::stoi(*size, &used);
            if (used != size->size()) throw std::invalid_argument("");
        } catch (const std::exception&) {
            fail(fmt::format("-KeySize: '{}' is not a number; expected 1024 to 8192 (2048 advised)", *size), 2);
        }
        if (bits < 1024 || bits > 8192) fail(fmt::format("-KeySize: {} is out of range; expected 1024 to 8192 (2048 advised)", bits), 2);
    }
    auth::DkimKeyPair pair;
    try {
        pair = auth::generate_signing_key(algorithm, bits);
    } catch (const std::exception& e) {
        fail(std::string("making the key: ") + e.what());
    }
    write_private_key(probe.text("KeyFile"), pair.private_key_pem);
    Output out;
    Record r;
    r.add("DomainName", Value::of_text(probe.text("DomainName")));
    r.add("Selector", Value::of_text(probe.text("Selector")));
    r.add("KeyFile", Value::of_text(probe.text("KeyFile")));
    const std::string owner = probe.text("Selector") + "._domainkey." + probe.text("DomainName") + ".";
    r.add("DnsRecord", Value::of_text(owner + " IN TXT " + zone_strings(pair.txt_record)));
    out.records.push_back(std::move(r));
    out.columns = {"DnsRecord"};
    out.list_by_default = true;
    out.note = fmt::format("publish the DnsRecord, then: edgectl New-DkimSigningConfig -DomainName {} -Selector {} "
                           "-Algorithm {} -KeyFile {}",
                           probe.text("DomainName"), probe.text("Selector"),
                           algorithm == auth::DkimAlgorithm::Ed25519Sha256 ? "ed25519-sha256" : "rsa-sha256",
                           probe.text("KeyFile"));
    return out;
}

}  // namespace

// config_cmdlets.cpp calls this before a DkimSigningConfig is written.
void check_dkim_signing_config(const config::ConfigObject& o) {
    const config::DkimSigningConfigSettings c = config::dkim_signing_config_settings(o);
    const auth::DkimSigningKey key = auth::load_signing_key(c.key_file);
    if (!key.error.empty()) fail("-KeyFile: " + key.error);
    const bool ed = c.algorithm == config::DkimAlgorithm::Ed25519Sha256;
    if (key.algorithm != (ed ? auth::DkimAlgorithm::Ed25519Sha256 : auth::DkimAlgorithm::RsaSha256))
        fail(fmt::format("-KeyFile: {} does not hold {} key; -Algorithm {} needs one", c.key_file,
                         ed ? "an Ed25519" : "an RSA", config::to_name(c.algorithm)));
}

void add_auth_cmdlets(std::vector<Cmdlet>& table) {
    table.push_back(Cmdlet{
        "New-DkimSigningKey",
        "Make a DKIM key pair: the private key to -KeyFile (0600), the TXT record to publish",
        {ParamDef{"DomainName", "Fqdn", "", "The signing domain (d=)"},
         ParamDef{"Selector", "String", "", "s=: the record goes to <Selector>._domainkey.<DomainName>"},
         ParamDef{"Algorithm", "Enum (rsa-sha256 | ed25519-sha256)", "rsa-sha256", "The key's kind"},
         ParamDef{"KeySize", "Int32", "2048", "RSA bits, 1024 to 8192 (ignored for ed25519-sha256)"},
         ParamDef{"KeyFile", "LocalLongFullPath", "", "Where the private key is written; never overwritten"}},
        false, new_dkim_signing_key});
}

}  // namespace edge::cli
