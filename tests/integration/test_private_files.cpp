// Files edgectl writes that hold a secret, a key or mail (issue 13, weakness 6): the
// enrollment secret of New-EdgeSubscription, the sync key, Export-Message's file.
// A name planted beforehand — a world-readable `<file>.tmp` the planter keeps open,
// a symlink at the temporary or the final path — never receives a byte, and the
// file lands private (0600) from its first byte.
#include "queue_db.hpp"
#include "edge_server.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace edge::queue;
using edge::test::body_for;
using edge::test::make_message;
using edge::test::TempDir;

namespace {
struct Run {
    int code = -1;
    std::string out;
};

Run edgectl(const std::string& data, const std::string& args) {
    Run r;
    r.code = edge::test::run_command(std::string(EDGECTL_PATH) + " --data '" + data + "' " + args, &r.out);
    return r;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void plant_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Regular file (not a symlink) with exactly this mode.
bool private_regular_file(const std::string& path, mode_t mode) {
    struct stat st{};
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode;
}
}  // namespace

TEST_CASE("New-EdgeSubscription never writes its secret or its key into a planted file or through a planted symlink",
          "[files][edgesync]") {
    TempDir dir;
    const std::string data = dir.sub("data"), share = dir.sub("share");
    std::filesystem::create_directories(data);
    std::filesystem::create_directories(share);

    // Someone with write access to the shared directory pre-creates the old temporary
    // name, world-readable, and keeps it open to read whatever lands in it.
    const std::string file = share + "/edge.sub";
    plant_file(file + ".tmp", "");
    ::chmod((file + ".tmp").c_str(), 0666);
    int spy = ::open((file + ".tmp").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(spy >= 0);
    Run r = edgectl(data, "New-EdgeSubscription -FileName '" + file + "' -Port 50999");
    REQUIRE(r.code == 0);
    char buf[256];
    const ssize_t leaked = ::pread(spy, buf, sizeof buf, 0);
    ::close(spy);
    CHECK(leaked == 0);  // not a byte of the subscription file reached the planted one
    CHECK(private_regular_file(file, 0600));
    CHECK(slurp(file).find("EdgeSubscriptionData") != std::string::npos);
    CHECK(private_regular_file(data + "/tls/edgesync.key", 0600));
    struct stat tls{};
    REQUIRE(::stat((data + "/tls").c_str(), &tls) == 0);
    CHECK((tls.st_mode & 0777) == 0700);  // keys: the owner's directory alone

    // Symlinks planted at the old temporary names of the file and of the new key.
    const std::string target = dir.sub("target.txt");
    plant_file(target, "untouched");
    const std::string again = share + "/again.sub";
    std::filesystem::create_symlink(target, again + ".tmp");
    std::filesystem::create_symlink(target, data + "/tls/edgesync.key.new.tmp");
    r = edgectl(data, "New-EdgeSubscription -FileName '" + again + "' -Force");
    REQUIRE(r.code == 0);
    CHECK(slurp(target) == "untouched");
    CHECK(private_regular_file(again, 0600));
    CHECK(private_regular_file(data + "/tls/edgesync.key", 0600));
    CHECK(slurp(again).find("EdgeSubscriptionData") != std::string::npos);
}

TEST_CASE("Export-Message writes mail 0600 and never replaces what is at -Path, a planted symlink above all",
          "[files][queue]") {
    TempDir dir;
    MessageId id = 0;
    {
        auto db = QueueDb::open(dir.path());
        REQUIRE(db);
        id = *(*db)->enqueue(make_message(7, 2000, {"contoso.com"}));
    }
    const std::string identity = "'contoso.com\\" + std::to_string(id) + "'";

    const std::string target = dir.sub("target.txt"), link = dir.sub("link.eml");
    plant_file(target, "untouched");
    std::filesystem::create_symlink(target, link);
    Run r = edgectl(dir.path(), "Export-Message " + identity + " -Path '" + link + "'");
    CHECK(r.code == 1);
    CHECK(r.out.find("already exists") != std::string::npos);
    CHECK(slurp(target) == "untouched");
    CHECK(std::filesystem::is_symlink(link));

    const std::string eml = dir.sub("out.eml");
    r = edgectl(dir.path(), "Export-Message " + identity + " -Path '" + eml + "'");
    CHECK(r.code == 0);
    CHECK(private_regular_file(eml, 0600));
    CHECK(slurp(eml) == body_for(7, 2000));
    r = edgectl(dir.path(), "Export-Message " + identity + " -Path '" + eml + "'");
    CHECK(r.code == 1);  // an existing file is not replaced either
    CHECK(slurp(eml) == body_for(7, 2000));
    // No temporary file is left beside it.
    std::size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
        if (e.path().filename().string().starts_with(".out.eml")) ++entries;
    CHECK(entries == 0);
}
