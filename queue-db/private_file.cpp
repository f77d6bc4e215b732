// write_file_atomically, make_directory, open_file_no_follow: see private_file.hpp.
#include "private_file.hpp"

#include "text_helpers.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace edge::queue {

namespace {

std::error_code errno_code(int e) { return {e, std::system_category()}; }

// 128 random bits in hex: a temporary name that cannot be guessed and planted first.
bool random_hex(std::string& out) {
    unsigned char raw[16];
    std::size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = ::getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
    }
    out = text::hex(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
    return true;
}

bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// The rename is durable once the directory's entry is on disk.
void sync_directory(const std::string& dir) {
    int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return;
    (void)::fsync(d);
    ::close(d);
}

// Puts `tmp` at `path` unless something is there already, atomically.
int rename_no_replace(const std::string& tmp, const std::string& path) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -1;
    // A file system without RENAME_NOREPLACE: link(2) fails on any existing name too.
    if (::link(tmp.c_str(), path.c_str()) != 0) return -1;
    ::unlink(tmp.c_str());
    return 0;
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path, mode_t mode, ExistingFile existing)
    : path_(std::move(path)), existing_(existing) {
    const auto slash = path_.rfind('/');
    dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
    const std::string name = slash == std::string::npos ? path_ : path_.substr(slash + 1);
    if (name.empty() || name == "." || name == "..") {
        error_ = std::make_error_code(std::errc::is_a_directory);
        return;
    }
    if (existing_ == ExistingFile::Refuse) {
        struct stat st{};
        if (::lstat(path_.c_str(), &st) == 0) {
            error_ = std::make_error_code(std::errc::file_exists);
            return;
        }
    }
    // The temporary name is never one that exists: O_EXCL refuses a planted file and,
    // with O_NOFOLLOW, a planted symlink (even a dangling one); then another name is drawn.
    std::string random;
    for (int attempt = 0; attempt < 8 && fd_ < 0; ++attempt) {
        if (!random_hex(random)) {
            error_ = errno_code(errno);
            return;
        }
        tmp_ = dir_ + "/." + name.substr(0, 200) + "." + random + ".tmp";
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd_ < 0 && errno != EEXIST) {
            error_ = errno_code(errno);
            tmp_.clear();
            return;
        }
    }
    if (fd_ < 0) {
        error_ = std::make_error_code(std::errc::file_exists);
        tmp_.clear();
        return;
    }
    // Exactly `mode`, whatever the umask took away (a certificate stays 0644).
    if (::fchmod(fd_, mode) != 0) fail(errno);
}

AtomicFileWriter::~AtomicFileWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

std::error_code AtomicFileWriter::fail(int e) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
    tmp_.clear();
    error_ = errno_code(e);
    return error_;
}

std::error_code AtomicFileWriter::write(std::string_view bytes) {
    if (error_) return error_;
    if (fd_ < 0) return std::make_error_code(std::errc::bad_file_descriptor);
    if (!write_all(fd_, bytes)) return fail(errno);
    return {};
}

std::error_code AtomicFileWriter::commit() {
    if (error_) return error_;
    if (fd_ < 0) return std::make_error_code(std::errc::bad_file_descriptor);
    if (::fsync(fd_) != 0) return fail(errno);
    int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) return fail(errno);
    if (existing_ == ExistingFile::Replace) {
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) return fail(errno);
    } else if (rename_no_replace(tmp_, path_) != 0) {
        return fail(errno);
    }
    committed_ = true;
    sync_directory(dir_);
    return {};
}

std::error_code write_file_atomically(const std::string& path, std::string_view bytes, mode_t mode,
                                      ExistingFile existing) {
    AtomicFileWriter f(path, mode, existing);
    if (auto ec = f.write(bytes)) return ec;
    return f.commit();
}

std::error_code make_directory(const std::string& path, mode_t mode) {
    if (path.empty()) return std::make_error_code(std::errc::invalid_argument);
    // Parents as std::filesystem::create_directories makes them.
    for (std::size_t i = path.find('/', 1); i != std::string::npos; i = path.find('/', i + 1)) {
        const std::string parent = path.substr(0, i);
        if (::mkdir(parent.c_str(), 0777) != 0 && errno != EEXIST) return errno_code(errno);
    }
    if (::mkdir(path.c_str(), mode) == 0) {
        // mkdir(2) applies the umask; the directory gets exactly `mode`.
        if (::chmod(path.c_str(), mode) != 0) return errno_code(errno);
        return {};
    }
    if (errno != EEXIST) return errno_code(errno);
    // There already: the administrator's directory (a symlink to one on another disk
    // is theirs to make) is left as it is; anything else is not a directory.
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return errno_code(errno);
    if (!S_ISDIR(st.st_mode)) return std::make_error_code(std::errc::not_a_directory);
    return {};
}

int open_file_no_follow(const std::string& path, int flags, mode_t mode, std::error_code& ec) {
    ec.clear();
    int fd = -1;
    if ((flags & O_CREAT) != 0) {
        fd = ::open(path.c_str(), flags | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0) {
            if (::fchmod(fd, mode) != 0) {
                ec = errno_code(errno);
                ::close(fd);
                return -1;
            }
            return fd;
        }
        if (errno != EEXIST) {
            ec = errno_code(errno);
            return -1;
        }
        flags &= ~O_CREAT;
    }
    fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        ec = errno_code(errno);  // ELOOP: a symlink is there
        return -1;
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ec = std::make_error_code(std::errc::invalid_argument);  // a FIFO, a device: not ours
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace edge::queue
