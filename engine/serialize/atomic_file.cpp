#include "engine/serialize/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/error.h"

namespace sparsecap {

namespace {

std::string errno_text(int error_number) { return std::string(std::strerror(error_number)); }

// fsync of the directory makes the rename itself durable: without it a power loss after
// commit() could bring back the old directory entry (ext4, xfs document this).
void fsync_directory(const std::filesystem::path& target_path) {
  std::filesystem::path directory = target_path.parent_path();
  if (directory.empty()) directory = ".";
  const int directory_descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  SPARSECAP_CHECK(directory_descriptor >= 0, "cannot open directory '", directory.string(), "' to sync '",
                  target_path.string(), "': ", errno_text(errno));
  const int sync_result = ::fsync(directory_descriptor);
  const int sync_errno = errno;
  ::close(directory_descriptor);
  // Some file systems (e.g. certain network mounts) refuse fsync on directories with EINVAL; the
  // rename has happened by then, so only real I/O errors are reported.
  SPARSECAP_CHECK(sync_result == 0 || sync_errno == EINVAL, "fsync of directory '", directory.string(),
                  "' after writing '", target_path.string(), "' failed: ", errno_text(sync_errno));
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::filesystem::path target_path) : target_path_(std::move(target_path)) {
  SPARSECAP_CHECK(!target_path_.empty(), "cannot write a file with an empty path");
  temp_path_ = target_path_;
  temp_path_ += ".tmp." + std::to_string(::getpid());
  file_descriptor_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SPARSECAP_CHECK(file_descriptor_ >= 0, "cannot write '", target_path_.string(), "': creating temp file '",
                  temp_path_.string(), "' failed: ", errno_text(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) discard();
}

void AtomicFileWriter::discard() noexcept {
  if (file_descriptor_ >= 0) {
    ::close(file_descriptor_);
    file_descriptor_ = -1;
  }
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t byte_count) {
  SPARSECAP_CHECK(file_descriptor_ >= 0 && !committed_, "write to '", target_path_.string(),
                  "' after the file was committed or abandoned");
  const char* cursor = static_cast<const char*>(data);
  size_t remaining = byte_count;
  while (remaining > 0) {
    const ssize_t written = ::write(file_descriptor_, cursor, remaining);
    if (written < 0) {
      if (errno == EINTR) continue;
      const int write_errno = errno;
      discard();
      throw Error("writing '" + target_path_.string() + "' failed after " + std::to_string(bytes_written_) +
                  " bytes: " + errno_text(write_errno));
    }
    cursor += written;
    remaining -= static_cast<size_t>(written);
    bytes_written_ += static_cast<size_t>(written);
  }
}

void AtomicFileWriter::commit() {
  SPARSECAP_CHECK(file_descriptor_ >= 0 && !committed_, "commit of '", target_path_.string(),
                  "' after the file was committed or abandoned");
  if (::fsync(file_descriptor_) != 0) {
    const int sync_errno = errno;
    discard();
    throw Error("fsync of '" + temp_path_.string() + "' while writing '" + target_path_.string() +
                "' failed: " + errno_text(sync_errno));
  }
  // close() can report a deferred write error (NFS); the data is not trusted after that.
  const int close_result = ::close(file_descriptor_);
  const int close_errno = errno;
  file_descriptor_ = -1;
  if (close_result != 0) {
    discard();
    throw Error("closing '" + temp_path_.string() + "' while writing '" + target_path_.string() +
                "' failed: " + errno_text(close_errno));
  }
  if (::rename(temp_path_.c_str(), target_path_.c_str()) != 0) {
    const int rename_errno = errno;
    discard();
    throw Error("cannot replace '" + target_path_.string() + "' with '" + temp_path_.string() +
                "': " + errno_text(rename_errno));
  }
  committed_ = true;
  fsync_directory(target_path_);
}

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  AtomicFileWriter writer(path);
  writer.write(contents);
  writer.commit();
}

}  // namespace sparsecap
