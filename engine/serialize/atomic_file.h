#pragma once
// Crash-safe file replacement. Bytes go to "<path>.tmp.<pid>" next to the target; commit() fsyncs
// the temp file, renames it over the target and fsyncs the directory. rename() is atomic on POSIX
// file systems, so a reader (or a run resumed after a crash) sees either the old file or the whole
// new one, never a half-written checkpoint, and the old file is untouched until the rename.
#include <cstddef>
#include <filesystem>
#include <string_view>

namespace sparsecap {

class AtomicFileWriter {
 public:
  // Creates (truncating) the temp file; throws sparsecap::Error naming the target path when the
  // directory does not exist or is not writable.
  explicit AtomicFileWriter(std::filesystem::path target_path);
  // Without a successful commit(), closes and removes the temp file: an exception thrown while a
  // file is being written leaves nothing behind and the target as it was.
  ~AtomicFileWriter();

  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends `byte_count` bytes (handles short writes and EINTR); throws naming the target path.
  void write(const void* data, size_t byte_count);
  void write(std::string_view text) { write(text.data(), text.size()); }

  // fsync, close, rename over the target, fsync the directory. After a failure the temp file is
  // removed and the target is unchanged; the writer cannot be used again either way.
  void commit();

  const std::filesystem::path& target_path() const { return target_path_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }
  size_t bytes_written() const { return bytes_written_; }

 private:
  void discard() noexcept;  // close and unlink the temp file, ignoring errors

  std::filesystem::path target_path_;
  std::filesystem::path temp_path_;
  int file_descriptor_ = -1;
  size_t bytes_written_ = 0;
  bool committed_ = false;
};

// Writes `contents` to `path` through an AtomicFileWriter.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace sparsecap
