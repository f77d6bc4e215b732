// A certificate authority of the tests' own, made with the openssl command (Debian 12's
// OpenSSL 3.0): the CA, leaf certificates issued by it (valid for given names, expired,
// not yet valid, client and server use), self-signed ones, and the figures tests need
// about a certificate (Exchange's thumbprint, the SHA-256 of its public key for a
// DANE "3 1 1" TLSA record). Needs nothing of the project: unit and integration tests
// may both use it.
//
//   edge::test::TestCa ca(dir.sub("ca"));
//   auto good = ca.issue("mx1", {"mx1.contoso.test"});
//   auto old = ca.issue("old", {"mx1.contoso.test"}, edge::test::Validity::Expired);
//   auto self = edge::test::self_signed(dir.sub("ca"), "self", {"mx1.contoso.test"});
//   // good.cert, good.key, good.chain (leaf + CA), ca.cert() for a trust file.
#pragma once

#include <sys/wait.h>

#include "child_process.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace edge::test {

// When a certificate is valid: now (two days back to a year ahead), expired (all of
// 2020), or not yet (from 2099). openssl ca backdates with -startdate/-enddate, which
// `openssl x509 -req` cannot do in 3.0.
enum class Validity { Current, Expired, NotYetValid };

// A leaf certificate: its PEM file, its key (PEM, 0600) and the chain file (leaf then CA,
// what a server presents).
struct TestCertificate {
    std::string cert, key, chain;
};

namespace ca_detail {

// Runs a shell command; its output (stdout and stderr) in the exception when it fails.
inline std::string run(const std::string& cmd) {
    return checked_output(cmd, "test CA: ");
}

inline std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// "DNS:a,DNS:b" (an IP literal as IP:).
inline std::string san(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) {
        bool ip = !n.empty() && n.find_first_not_of("0123456789.:") == std::string::npos && n.find('.') != n.npos;
        s += (s.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + n;
    }
    return s;
}

inline void write(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::trunc);
    f << text;
    if (!f) throw std::runtime_error("test CA: cannot write " + path);
}

inline std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

constexpr const char* kKeyArgs = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

}  // namespace ca_detail

class TestCa {
public:
    // Makes the CA (key, self-signed certificate, openssl ca's database) in `dir`
    // (created). `name` is its common name. One thread at a time: openssl ca keeps its
    // serial and index in files.
    explicit TestCa(std::string dir, std::string name = "Edge Test CA") : dir_(std::move(dir)) {
        using namespace ca_detail;
        std::filesystem::create_directories(dir_ + "/issued");
        write(dir_ + "/index.txt", "");
        write(dir_ + "/serial", "1000\n");
        write(dir_ + "/ca.cnf",
              "[ca]\ndefault_ca = test_ca\n"
              "[test_ca]\ndir = " + dir_ + "\ndatabase = $dir/index.txt\nserial = $dir/serial\n"
              "new_certs_dir = $dir/issued\ncertificate = $dir/ca.crt\nprivate_key = $dir/ca.key\n"
              "default_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\n"
              "email_in_dn = no\n"
              "[any]\ncommonName = supplied\norganizationName = optional\n");
        run("openssl req -x509 " + std::string(kKeyArgs) + " -days 3650 -subj " + quote("/O=Edge Tests/CN=" + name) +
            " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign" +
            " -keyout " + quote(dir_ + "/ca.key") + " -out " + quote(cert()));
    }
    TestCa(const TestCa&) = delete;
    TestCa& operator=(const TestCa&) = delete;

    const std::string& dir() const { return dir_; }
    // The CA's certificate (PEM): what a trust file (TlsCertificateAuthorityFile) holds.
    std::string cert() const { return dir_ + "/ca.crt"; }
    std::string key() const { return dir_ + "/ca.key"; }

    // A leaf for `names` (the first is the subject CN, all are DNS subjectAltNames; an
    // empty list: CN=`stem`, no SAN), for TLS server and client use, files
    // `<dir>/<stem>.crt|.key|.chain.pem`. `subject` replaces the "/CN=…" subject.
    TestCertificate issue(const std::string& stem, const std::vector<std::string>& names,
                          Validity validity = Validity::Current, const std::string& subject = "") const {
        using namespace ca_detail;
        TestCertificate c{dir_ + "/" + stem + ".crt", dir_ + "/" + stem + ".key", dir_ + "/" + stem + ".chain.pem"};
        std::string csr = dir_ + "/" + stem + ".csr", ext = dir_ + "/" + stem + ".ext";
        std::string subj = !subject.empty() ? subject : "/CN=" + (names.empty() ? stem : names.front());
        run("openssl req -new " + std::string(kKeyArgs) + " -subj " + quote(subj) + " -keyout " + quote(c.key) +
            " -out " + quote(csr));
        std::string e = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                        "extendedKeyUsage=serverAuth,clientAuth\nsubjectKeyIdentifier=hash\n"
                        "authorityKeyIdentifier=keyid\n";
        if (!names.empty()) e += "subjectAltName=" + san(names) + "\n";
        write(ext, e);
        std::string dates;
        switch (validity) {
            case Validity::Current: dates = " -startdate " + utc_days_from_now(-2) + " -enddate " + utc_days_from_now(365); break;
            case Validity::Expired: dates = " -startdate 20200101000000Z -enddate 20201231000000Z"; break;
            case Validity::NotYetValid: dates = " -startdate 20990101000000Z -enddate 20991231000000Z"; break;
        }
        run("openssl ca -batch -notext -config " + quote(dir_ + "/ca.cnf") + " -extfile " + quote(ext) + dates +
            " -in " + quote(csr) + " -out " + quote(c.cert));
        write(c.chain, slurp(c.cert) + slurp(cert()));
        std::filesystem::permissions(c.key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                     std::filesystem::perm_options::replace);
        return c;
    }

private:
    // "YYYYMMDDHHMMSSZ", `days` from now (negative: back).
    static std::string utc_days_from_now(int days) {
        std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
        std::tm tm{};
        ::gmtime_r(&t, &tm);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm);
        return buf;
    }

    std::string dir_;
};

// A self-signed leaf for `names` (CN = the first, all as DNS SANs), valid for a year:
// `<dir>/<stem>.crt|.key`, chain = cert.
inline TestCertificate self_signed(const std::string& dir, const std::string& stem, const std::vector<std::string>& names) {
    using namespace ca_detail;
    std::filesystem::create_directories(dir);
    TestCertificate c{dir + "/" + stem + ".crt", dir + "/" + stem + ".key", dir + "/" + stem + ".crt"};
    std::string cmd = "openssl req -x509 " + std::string(kKeyArgs) + " -days 365 -subj " +
                      quote("/CN=" + (names.empty() ? stem : names.front())) + " -keyout " + quote(c.key) + " -out " +
                      quote(c.cert);
    if (!names.empty()) cmd += " -addext " + quote("subjectAltName=" + san(names));
    run(cmd);
    return c;
}

// Exchange's thumbprint of a certificate: SHA-1 of the DER, upper-case hex, no colons.
inline std::string thumbprint(const std::string& cert_pem) {
    std::string out = ca_detail::run("openssl x509 -noout -fingerprint -sha1 -in " + ca_detail::quote(cert_pem));
    auto eq = out.find('=');
    if (eq == std::string::npos) throw std::runtime_error("test CA: no fingerprint in: " + out);
    std::string hex;
    for (char ch : out.substr(eq + 1))
        if (std::isxdigit(static_cast<unsigned char>(ch))) hex += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return hex;
}

// The SHA-256 of the certificate's SubjectPublicKeyInfo, lower-case hex: the data of a
// DANE-EE "3 1 1" TLSA record (RFC 7671 §5.1).
inline std::string spki_sha256(const std::string& cert_pem) {
    std::string out = ca_detail::run("openssl x509 -noout -pubkey -in " + ca_detail::quote(cert_pem) +
                                     " | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r");
    return out.substr(0, out.find(' '));
}

// The SHA-256 of the whole certificate (DER), lower-case hex: a "x 0 1" TLSA record's data.
inline std::string cert_sha256(const std::string& cert_pem) {
    std::string out = ca_detail::run("openssl x509 -outform DER -in " + ca_detail::quote(cert_pem) + " | openssl dgst -sha256 -r");
    return out.substr(0, out.find(' '));
}

}  // namespace edge::test
