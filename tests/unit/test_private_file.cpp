// The one file writer (queue-db/private_file.hpp) and the writers that use it: the
// certificate/key writer, the back-pressure status file, the data-directory lock
// (issue 13, weakness 6). A name planted beforehand — a file, a symlink — never
// receives a byte and its target is never touched; files get exactly their mode.
#include "back_pressure.hpp"
#include "certificate.hpp"
#include "data_dir_lock.hpp"
#include "private_file.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using edge::test::TempDir;
namespace q = edge::queue;

namespace {
std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void plant(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

mode_t mode_of(const std::string& path) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return 0;
    return S_ISREG(st.st_mode) ? (st.st_mode & 07777) : static_cast<mode_t>(-1);  // -1: not a regular file
}

std::size_t entries(const std::string& dir) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        (void)e;
        ++n;
    }
    return n;
}

// The process umask for one scope.
struct Umask {
    mode_t old;
    explicit Umask(mode_t m) : old(::umask(m)) {}
    ~Umask() { ::umask(old); }
};
}  // namespace

TEST_CASE("the key writer never follows a symlink planted at its old temporary name", "[files][tls]") {
    TempDir dir;
    const std::string target = dir.sub("target"), crt = dir.sub("a.crt"), key = dir.sub("a.key");
    plant(target, "untouched");
    std::filesystem::create_symlink(target, key + ".tmp");
    std::filesystem::create_symlink(target, crt + ".tmp");
    edge::tls::make_self_signed_certificate(crt, key, "edge.example");
    CHECK(slurp(target) == "untouched");
    CHECK(mode_of(key) == 0600);
    CHECK(mode_of(crt) == 0644);
    CHECK(slurp(key).find("PRIVATE KEY") != std::string::npos);
}

TEST_CASE("the back-pressure status file is never written through a planted name", "[files][backpressure]") {
    TempDir dir;
    const std::string target = dir.sub("target");
    plant(target, "untouched");
    // The old writer's temporary name was "<file>.tmp.<pid>", opened with O_TRUNC.
    const std::string status = dir.sub(std::string(edge::backpressure::kStatusFileName));
    std::filesystem::create_symlink(target, status + ".tmp." + std::to_string(::getpid()));
    edge::backpressure::write_status_file(dir.path(), edge::backpressure::Snapshot{});
    CHECK(slurp(target) == "untouched");
    CHECK(mode_of(status) == 0640);
    CHECK(edge::backpressure::read_status_file(dir.path()).has_value());
}

TEST_CASE("the data-directory lock is never taken through a symlink", "[files][lock]") {
    TempDir dir;
    const std::string target = dir.sub("target");
    plant(target, "untouched");
    std::filesystem::create_symlink(target, dir.sub(std::string(q::kDataDirectoryLockFile)));
    auto lock = q::DataDirectoryLock::acquire(dir.path());
    CHECK_FALSE(lock);
    CHECK(slurp(target) == "untouched");
    CHECK_FALSE(q::running_server_pid(dir.path()).has_value());

    TempDir clean;
    auto ok = q::DataDirectoryLock::acquire(clean.path());
    REQUIRE(ok);
    CHECK(mode_of(clean.sub(std::string(q::kDataDirectoryLockFile))) == 0640);
}

TEST_CASE("write_file_atomically: exactly its mode whatever the umask, a planted name never used, nothing left on failure",
          "[files]") {
    TempDir dir;
    {
        Umask m(0);
        REQUIRE_FALSE(q::write_file_atomically(dir.sub("secret"), "s3cret", 0600));
        CHECK(mode_of(dir.sub("secret")) == 0600);
    }
    {
        Umask m(077);
        REQUIRE_FALSE(q::write_file_atomically(dir.sub("public.crt"), "cert", 0644));
        CHECK(mode_of(dir.sub("public.crt")) == 0644);
    }
    // Replace: a symlink at the final path is replaced by the file; its target untouched.
    plant(dir.sub("target"), "untouched");
    std::filesystem::create_symlink(dir.sub("target"), dir.sub("link"));
    REQUIRE_FALSE(q::write_file_atomically(dir.sub("link"), "new", 0600));
    CHECK(slurp(dir.sub("target")) == "untouched");
    CHECK(mode_of(dir.sub("link")) == 0600);
    CHECK(slurp(dir.sub("link")) == "new");
    // Refuse: anything at the final path, a dangling symlink too, is left alone.
    std::filesystem::create_symlink(dir.sub("nowhere"), dir.sub("dangling"));
    CHECK(q::write_file_atomically(dir.sub("dangling"), "x", 0600, q::ExistingFile::Refuse) == std::errc::file_exists);
    CHECK_FALSE(std::filesystem::exists(dir.sub("nowhere")));
    CHECK(q::write_file_atomically(dir.sub("secret"), "x", 0600, q::ExistingFile::Refuse) == std::errc::file_exists);
    CHECK(slurp(dir.sub("secret")) == "s3cret");
    const std::size_t before = entries(dir.path());
    CHECK(q::write_file_atomically(dir.sub("missing/dir/file"), "x", 0600));
    // A writer that is never committed leaves nothing behind.
    {
        q::AtomicFileWriter w(dir.sub("abandoned"), 0600);
        REQUIRE_FALSE(w.error());
        REQUIRE_FALSE(w.write("half"));
    }
    CHECK(entries(dir.path()) == before);
}

TEST_CASE("make_directory gives the directory it makes exactly its mode and leaves an existing one alone", "[files]") {
    TempDir dir;
    Umask m(022);
    REQUIRE_FALSE(q::make_directory(dir.sub("a/b/data"), 0750));
    struct stat st{};
    REQUIRE(::stat(dir.sub("a/b/data").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0750);
    ::chmod(dir.sub("a/b/data").c_str(), 0755);  // the administrator's choice stays
    REQUIRE_FALSE(q::make_directory(dir.sub("a/b/data"), 0750));
    REQUIRE(::stat(dir.sub("a/b/data").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0755);
    plant(dir.sub("file"), "");
    CHECK(q::make_directory(dir.sub("file"), 0700) == std::errc::not_a_directory);
}
