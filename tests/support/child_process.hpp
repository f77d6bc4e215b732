// The test fixtures' own server processes (NSD, slapd): started in the foreground as
// our children with their output in a log file, dying with us, and stopped politely.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace edge::test {

// fork + exec of `argv` (argv[0] is the program's path), stdout and stderr appended to
// `log`. A test that crashes (an ASan abort skips destructors) takes the child along.
inline pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log) {
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    return pid;
}

// SIGTERM, wait up to `grace`, then SIGKILL; `pid` becomes -1.
inline void stop_child(pid_t& pid, std::chrono::seconds grace) {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    auto until = std::chrono::steady_clock::now() + grace;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= until) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid = -1;
}

// Runs a shell command to the end: its output (stdout and stderr), or an exception that
// names `what`, the command and its output when it fails (tool set-up in fixtures).
inline std::string checked_output(const std::string& cmd, const std::string& what) {
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) throw std::runtime_error("popen failed: " + cmd);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = ::pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) throw std::runtime_error(what + "`" + cmd + "` failed: " + out);
    return out;
}

}  // namespace edge::test
