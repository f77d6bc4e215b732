// The one way edge-transport, edgectl and edgesync create the files they write outside
// LMDB: keys, the enrollment secret, exported messages, the agent's state, the
// back-pressure status file, the data-directory lock. Issue 13 (weakness 6): a file
// created with O_TRUNC at mode 0666 and chmod'ed afterwards leaks its first bytes to
// whoever planted the name first (a pre-created `<file>.tmp`), and a symlink planted
// at a predictable name made us write through it.
//
// Rules, for every file here:
//   - created with O_CREAT|O_EXCL|O_NOFOLLOW at its final mode from the first byte
//     (fchmod'ed to exactly that mode, whatever the umask);
//   - under a temporary name nobody can predict (`.<name>.<128 random bits>.tmp`,
//     beside the target), written whole, fsync'ed, then renamed into place and the
//     directory fsync'ed: a reader sees the old file or the new one, never half;
//   - a name already taken — a file, a symlink, anything — is never opened: a new
//     temporary name is drawn; the target of a planted symlink is never touched.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <system_error>

namespace edge::queue {

// What to do when the target path already exists.
enum class ExistingFile {
    Replace,  // the rename replaces it (a symlink there is replaced, its target untouched)
    Refuse,   // fail with std::errc::file_exists: Export-Message never replaces a file
};

// One file being written under the rules above. The temporary file exists from the
// constructor to commit(); the destructor removes it unless commit() succeeded, so a
// caller can write, do other work that may fail (New-EdgeSubscription commits the
// config store), and only then put the file in place.
class AtomicFileWriter {
public:
    AtomicFileWriter(std::string path, mode_t mode, ExistingFile existing = ExistingFile::Replace);
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    // Set when the temporary file could not be made; write() and commit() return it.
    const std::error_code& error() const { return error_; }
    std::error_code write(std::string_view bytes);
    // fsync, close, rename into place, fsync the directory. Once only.
    std::error_code commit();

private:
    std::error_code fail(int e);
    std::string path_, dir_, tmp_;
    ExistingFile existing_;
    int fd_ = -1;
    bool committed_ = false;
    std::error_code error_;
};

// Writes `bytes` to `path` as the rules above say (an AtomicFileWriter in one call). On failure nothing is left behind
// (the temporary file is removed) and the error is returned; the target is unchanged.
std::error_code write_file_atomically(const std::string& path, std::string_view bytes, mode_t mode,
                                      ExistingFile existing = ExistingFile::Replace);

// Creates `path` and missing parents; the last one gets exactly `mode` (the data
// directory 0750, tls/ 0700). An existing directory is left as the administrator set
// it; a path that exists and is not a directory (a symlink included) is an error.
std::error_code make_directory(const std::string& path, mode_t mode);

// Opens `path` for a file that lives in place (the data-directory lock): never
// through a symlink (O_NOFOLLOW), close-on-exec; created at exactly `mode` when
// `flags` has O_CREAT and it is absent. Returns the descriptor, or -1 with `ec` set.
int open_file_no_follow(const std::string& path, int flags, mode_t mode, std::error_code& ec);

}  // namespace edge::queue
