// The managed certificates' files (transport/tls/certificate_store.hpp) and the set
// STARTTLS chooses from by SNI (transport/receive/tls.hpp), with no server running.
#include "certificate_store.hpp"
#include "temp_dir.hpp"
#include "tls.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace edge;

TEST_CASE("New-ExchangeCertificate's certificate carries every DomainName, a 0600 key and the SHA-1 thumbprint as its file name",
          "[tls][certificates]") {
    edge::test::TempDir dir;
    const auto info = tls::new_self_signed_certificate(dir.path(), "CN=mail.contoso.com, O=Contoso",
                                                       {"mail.contoso.com", "contoso.com", "*.contoso.com"});
    CHECK(info.thumbprint.size() == 40);
    CHECK(info.subject == "CN=mail.contoso.com, O=Contoso");
    CHECK(info.issuer == info.subject);
    CHECK(info.self_signed);
    CHECK(info.domains == std::vector<std::string>{"mail.contoso.com", "contoso.com", "*.contoso.com"});
    CHECK(info.not_after - info.not_before > std::chrono::days(4 * 365));
    namespace fs = std::filesystem;
    CHECK((fs::status(tls::key_path(dir.path(), info.thumbprint)).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
    const auto back = tls::read_stored_certificate(dir.path(), info.thumbprint);
    CHECK(back.thumbprint == info.thumbprint);
    CHECK_THROWS_WITH(tls::new_self_signed_certificate(dir.path(), "mail.contoso.com", {}),
                      Catch::Contains("expected attribute=value pairs"));
}

TEST_CASE("Import-ExchangeCertificate refuses a missing file, a file that is not PEM and a key of another certificate",
          "[tls][certificates]") {
    edge::test::TempDir dir;
    const auto a = tls::new_self_signed_certificate(dir.path() + "/a", "CN=a.example", {});
    const auto b = tls::new_self_signed_certificate(dir.path() + "/b", "CN=b.example", {});
    const std::string a_pem = tls::certificate_path(dir.path() + "/a", a.thumbprint);
    const std::string a_key = tls::key_path(dir.path() + "/a", a.thumbprint);
    const std::string b_key = tls::key_path(dir.path() + "/b", b.thumbprint);
    std::ofstream(dir.path() + "/junk.pem") << "not a certificate\n";
    CHECK_THROWS_WITH(tls::import_certificate(dir.path(), dir.path() + "/none.pem", a_key), Catch::Contains("no such file"));
    CHECK_THROWS_WITH(tls::import_certificate(dir.path(), dir.path() + "/junk.pem", a_key), Catch::Contains("holds no PEM certificate"));
    CHECK_THROWS_WITH(tls::import_certificate(dir.path(), a_pem, b_key), Catch::Contains("is not the key of the certificate"));
    CHECK_THROWS_WITH(tls::import_certificate(dir.path(), a_pem, a_pem), Catch::Contains("holds no PEM private key"));
    const auto imported = tls::import_certificate(dir.path(), a_pem, a_key);
    CHECK(imported.thumbprint == a.thumbprint);
    CHECK(imported.domains == std::vector<std::string>{"a.example"});  // the CN, as the SAN
    CHECK(std::filesystem::exists(tls::certificate_path(dir.path(), a.thumbprint)));
    CHECK(tls::canonical_thumbprint("df:7e:27:c2:86:af:8d:c4:90:5a:4f:2b:8a:14:9f:58:f5:cf:79:35") ==
          "DF7E27C286AF8DC4905A4F2B8A149F58F5CF7935");
    CHECK(tls::canonical_thumbprint("DF7E27").empty());
    CHECK(tls::canonical_thumbprint("ZZ7E27C286AF8DC4905A4F2B8A149F58F5CF7935").empty());
}

TEST_CASE("the STARTTLS set: the newest enabled certificate is the default, SNI matches exact names before wildcards",
          "[tls][certificates][sni]") {
    edge::test::TempDir dir;
    auto context_of = [&](const tls::CertificateInfo& i) {
        return std::make_shared<asio::ssl::context>(receive::make_server_context(
            {tls::certificate_path(dir.path(), i.thumbprint), tls::key_path(dir.path(), i.thumbprint)}));
    };
    const auto bootstrap_info = tls::new_self_signed_certificate(dir.path(), "CN=edge.example", {});
    const auto exact = tls::new_self_signed_certificate(dir.path(), "CN=mail.fabrikam.example", {});
    const auto wild = tls::new_self_signed_certificate(dir.path(), "CN=fabrikam", {"*.fabrikam.example"});
    auto bootstrap = context_of(bootstrap_info);
    {
        receive::ServerCertificates none(bootstrap, {}, "");
        CHECK(&none.default_context() == bootstrap.get());
        CHECK(none.context_for("mail.fabrikam.example") == nullptr);
    }
    auto exact_ctx = context_of(exact), wild_ctx = context_of(wild);
    const auto now = std::chrono::system_clock::now();
    receive::ServerCertificates set(bootstrap,
                                    {{exact.thumbprint, exact.domains, now - std::chrono::hours(2), exact_ctx},
                                     {wild.thumbprint, wild.domains, now - std::chrono::hours(1), wild_ctx}},
                                    dir.path() + "/no-such-ca.pem");
    CHECK(&set.default_context() == wild_ctx.get());  // the later NotBefore
    CHECK(set.context_for("mail.fabrikam.example") == exact_ctx->native_handle());
    CHECK(set.context_for("MX.Fabrikam.Example") == wild_ctx->native_handle());
    CHECK(set.context_for("fabrikam.example") == nullptr);
    CHECK(set.context_for("a.mx.fabrikam.example") == nullptr);
    CHECK(set.trust_problem().find("does not load") != std::string::npos);
}
