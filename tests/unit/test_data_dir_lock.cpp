// DataDirectoryLock and running_server_pid: a child process holds the data directory's
// lock as a running server would; the parent is refused and sees the child's pid.
#include "data_dir_lock.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace edge::queue;
using edge::test::TempDir;

namespace {

std::string file_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A child that takes the lock, says so on a pipe, and waits to be killed.
struct LockHolder {
    pid_t pid = -1;
    explicit LockHolder(const std::string& data_dir) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            auto lock = DataDirectoryLock::acquire(data_dir);
            char c = lock ? 'y' : 'n';
            (void)!::write(fds[1], &c, 1);
            while (true) ::pause();
        }
        ::close(fds[1]);
        char c = 0;
        REQUIRE(::read(fds[0], &c, 1) == 1);
        ::close(fds[0]);
        REQUIRE(c == 'y');
    }
    void kill() {
        if (pid <= 0) return;
        ::kill(pid, SIGKILL);
        int st = 0;
        ::waitpid(pid, &st, 0);
        pid = -1;
    }
    ~LockHolder() { kill(); }
};

}  // namespace

TEST_CASE("no lock file means no server runs", "[lock]") {
    TempDir dir;
    CHECK_FALSE(running_server_pid(dir.path()));
    CHECK_FALSE(running_server_pid(dir.path() + "/does-not-exist"));
}

TEST_CASE("while another process holds the data directory, a second lock is refused and the holder is named", "[lock]") {
    TempDir dir;
    LockHolder holder(dir.path());
    CHECK(running_server_pid(dir.path()) == holder.pid);
    CHECK(file_text(dir.sub("edge-transport.lock")) == std::to_string(holder.pid) + "\n");
    auto second = DataDirectoryLock::acquire(dir.path());
    REQUIRE_FALSE(second);
    CHECK(second.error() == std::errc::resource_unavailable_try_again);

    SECTION("the lock dies with its holder, even by SIGKILL, and the directory can be taken again") {
        holder.kill();
        CHECK_FALSE(running_server_pid(dir.path()));  // a stale pid in the file means nothing
        auto mine = DataDirectoryLock::acquire(dir.path());
        REQUIRE(mine);
        CHECK(mine->path() == dir.sub("edge-transport.lock"));
        CHECK(running_server_pid(dir.path()) == ::getpid());
        CHECK(file_text(dir.sub("edge-transport.lock")) == std::to_string(::getpid()) + "\n");
    }
}

TEST_CASE("a lock is held until its last owner goes, and a clean release leaves no pid behind", "[lock]") {
    TempDir dir;
    {
        auto lock = DataDirectoryLock::acquire(dir.path());
        REQUIRE(lock);
        DataDirectoryLock moved = std::move(*lock);
        CHECK(running_server_pid(dir.path()) == ::getpid());
        // flock(2) locks belong to the open file: even this process is refused a second.
        CHECK_FALSE(DataDirectoryLock::acquire(dir.path()));
    }
    CHECK_FALSE(running_server_pid(dir.path()));
    CHECK(file_text(dir.sub("edge-transport.lock")).empty());
    CHECK(DataDirectoryLock::acquire(dir.path()));
}

TEST_CASE("a data directory that cannot hold the lock file is an error, not a crash", "[lock]") {
    TempDir dir;
    auto r = DataDirectoryLock::acquire(dir.path() + "/missing");
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::no_such_file_or_directory);
}
