// dativo.hpp: the C++ face of libdativo. Header-only, C++17, a thin RAII layer over the C API
// of <dativo.h>: every function here converts its arguments, calls one C function and converts
// the result back. No ingestion logic lives in this file.
//
// Errors: exceptions, only. A failed C call throws a subclass of dativo::Error carrying the
// call's DativoStatus (`status()`) and the library's complete message (`what()`: file, line,
// column and value where they apply). The status -> class table is `dativo::throw_error`.
// Standard library exceptions (std::bad_alloc, std::out_of_range) pass through unchanged.
//
// Ownership: every class owns exactly one C resource (a handle or an Arrow C struct), is
// move-only, and frees it in its destructor with the C free function or the struct's `release`
// callback. Destructors never throw. A moved-from object is empty (`operator bool` is false):
// it owns nothing and can be destroyed or assigned to; its queries (length, num_fields,
// rows_read) return 0 and calls that need the resource throw InvalidArgumentError.
// `get()` gives the underlying C object for calls this header does not wrap; `release()`
// (Arrow wrappers) hands the raw struct out, and the caller then owns it.
//
// Threading: an object may be moved between threads but is used by one thread at a time
// (except CsvReader::rows_read/rows_rejected, which may watch a stream another thread reads).
// The free functions (version, check_version, run_job) may be called from any thread.
//
// Compatibility: call dativo::check_version() once at start-up; it throws when the library
// loaded at run time implements another ABI than the header this program was compiled with.

#ifndef DATIVO_HPP
#define DATIVO_HPP

#include <dativo.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dativo {

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A failed dativo call. `status()` is the C API's DativoStatus (never DATIVO_STATUS_OK),
/// `what()` the library's complete message. Catch this to handle every dativo failure, or one
/// of the subclasses below for one kind. A status this header does not know (a newer library)
/// is thrown as a plain Error.
class Error : public std::runtime_error {
 public:
  Error(DativoStatus status, const std::string& message)
      : std::runtime_error(message), status_(status) {}

  /// The status code of the failed call (DATIVO_STATUS_DATA, DATIVO_STATUS_IO, ...).
  DativoStatus status() const noexcept { return status_; }

  /// A short static description of the status ("data error", "I/O error", ...).
  const char* status_string() const noexcept { return dativo_status_string(status_); }

 private:
  DativoStatus status_;
};

/// DATIVO_STATUS_INVALID_ARGUMENT: the call itself is wrong (empty object, closed writer,
/// stream taken twice). Fix the calling code.
class InvalidArgumentError : public Error {
 public:
  explicit InvalidArgumentError(const std::string& m) : Error(DATIVO_STATUS_INVALID_ARGUMENT, m) {}
};
/// DATIVO_STATUS_CONFIG: a job file or an options string is invalid; the message names the key.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& m) : Error(DATIVO_STATUS_CONFIG, m) {}
};
/// DATIVO_STATUS_DATA: a bad row or an empty file; the message names file, line, column, value.
class DataError : public Error {
 public:
  explicit DataError(const std::string& m) : Error(DATIVO_STATUS_DATA, m) {}
};
/// DATIVO_STATUS_SCHEMA: data and declared schema differ, or inputs disagree on their columns.
class SchemaError : public Error {
 public:
  explicit SchemaError(const std::string& m) : Error(DATIVO_STATUS_SCHEMA, m) {}
};
/// DATIVO_STATUS_IO: the operating system refused an operation; the message names the path.
class IoError : public Error {
 public:
  explicit IoError(const std::string& m) : Error(DATIVO_STATUS_IO, m) {}
};
/// DATIVO_STATUS_ARROW: Arrow data handed to dativo is invalid, or Arrow failed on it.
class ArrowError : public Error {
 public:
  explicit ArrowError(const std::string& m) : Error(DATIVO_STATUS_ARROW, m) {}
};
/// DATIVO_STATUS_PARQUET: the Parquet encoder failed.
class ParquetError : public Error {
 public:
  explicit ParquetError(const std::string& m) : Error(DATIVO_STATUS_PARQUET, m) {}
};
/// DATIVO_STATUS_PLUGIN: a plugin could not be loaded or failed.
class PluginError : public Error {
 public:
  explicit PluginError(const std::string& m) : Error(DATIVO_STATUS_PLUGIN, m) {}
};
/// DATIVO_STATUS_INTERNAL: a bug in dativo; the message says where. Please report it.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& m) : Error(DATIVO_STATUS_INTERNAL, m) {}
};

/// Throw the exception class of `status` with `message`: the one status -> class table.
/// An unknown status (from a newer library) throws a plain Error with that status.
[[noreturn]] inline void throw_error(DativoStatus status, const std::string& message) {
  switch (status) {
    case DATIVO_STATUS_INVALID_ARGUMENT: throw InvalidArgumentError(message);
    case DATIVO_STATUS_CONFIG: throw ConfigError(message);
    case DATIVO_STATUS_DATA: throw DataError(message);
    case DATIVO_STATUS_SCHEMA: throw SchemaError(message);
    case DATIVO_STATUS_IO: throw IoError(message);
    case DATIVO_STATUS_ARROW: throw ArrowError(message);
    case DATIVO_STATUS_PARQUET: throw ParquetError(message);
    case DATIVO_STATUS_PLUGIN: throw PluginError(message);
    case DATIVO_STATUS_INTERNAL: throw InternalError(message);
    default: throw Error(status, message);
  }
}

/// Throw the failure a C call reported: copies `error.message` (or, if the producer left it
/// NULL, the status description), releases `error` (it is zeroed again afterwards, even if
/// copying the message throws std::bad_alloc) and throws as `throw_error(status, message)`.
[[noreturn]] inline void throw_error(DativoStatus status, DativoError& error) {
  std::string message;
  try {
    message = error.message != nullptr ? error.message : dativo_status_string(status);
  } catch (...) {
    if (error.release != nullptr) error.release(&error);
    throw;
  }
  if (error.release != nullptr) error.release(&error);
  throw_error(status, message);
}

/// Do nothing when `status` is DATIVO_STATUS_OK; otherwise `throw_error(status, error)`.
/// For calls to the C API this header does not wrap:
///   DativoError error{}; dativo::check(dativo_something(..., &error), error);
inline void check(DativoStatus status, DativoError& error) {
  if (status != DATIVO_STATUS_OK) throw_error(status, error);
}

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

/// The version of the library loaded at run time, e.g. "0.1.0" (DATIVO_VERSION is the header's).
inline std::string version() { return dativo_version(); }

namespace detail {
/// check_version() with its inputs spelled out, so the message can be tested.
inline void check_abi_version(uint32_t header_abi, const char* header_version, uint32_t library_abi,
                              const char* library_version) {
  if (header_abi == library_abi) return;
  throw_error(DATIVO_STATUS_INVALID_ARGUMENT,
              std::string("dativo: this program was compiled against dativo.h ") + header_version +
                  " (ABI version " + std::to_string(header_abi) + ") but the loaded libdativo is " +
                  library_version + " (ABI version " + std::to_string(library_abi) +
                  "); rebuild the program against the library's header, or load the library "
                  "it was built for");
}
}  // namespace detail

/// Check that the loaded library implements the ABI of the header this program was compiled
/// with (DATIVO_ABI_VERSION == dativo_abi_version()). Throws InvalidArgumentError naming both
/// ABI numbers and both versions when they differ. Call it once before anything else.
inline void check_version() {
  detail::check_abi_version(DATIVO_ABI_VERSION, DATIVO_VERSION, dativo_abi_version(),
                            dativo_version());
}

// ---------------------------------------------------------------------------------------------
// Arrow C Data Interface owners
// ---------------------------------------------------------------------------------------------

namespace detail {
/// Ownership of one Arrow C struct (`ArrowSchema`, `ArrowArray` or `ArrowArrayStream`), shared
/// by Schema, Array and Stream: move-only, released once through the struct's own `release`
/// callback, empty when `release` is NULL.
template <typename Raw>
class ArrowOwner {
 public:
  /// An empty owner.
  ArrowOwner() noexcept : raw_{} {}
  /// Take ownership of `raw` (moved: `raw.release` is set to NULL).
  explicit ArrowOwner(Raw&& raw) noexcept : raw_(raw) { raw.release = nullptr; }
  ~ArrowOwner() { reset(); }

  ArrowOwner(const ArrowOwner&) = delete;
  ArrowOwner& operator=(const ArrowOwner&) = delete;
  ArrowOwner(ArrowOwner&& other) noexcept : ArrowOwner(std::move(other.raw_)) {}
  ArrowOwner& operator=(ArrowOwner&& other) noexcept {
    if (this != &other) {
      reset();
      raw_ = other.raw_;
      other.raw_.release = nullptr;
    }
    return *this;
  }

  /// Whether this object owns a struct.
  explicit operator bool() const noexcept { return raw_.release != nullptr; }
  /// The struct, still owned by this object (released when `release` is NULL).
  const Raw* get() const noexcept { return &raw_; }
  Raw* get() noexcept { return &raw_; }
  /// Hand the struct out: the caller owns it and must call its `release`. This becomes empty.
  Raw release() noexcept {
    Raw out = raw_;
    raw_.release = nullptr;
    return out;
  }
  /// Release the struct now; this becomes empty.
  void reset() noexcept {
    if (raw_.release != nullptr) raw_.release(&raw_);
    raw_.release = nullptr;
  }

 protected:
  Raw raw_;
};
}  // namespace detail

/// Owns a `struct ArrowSchema` (the type of a record batch: a struct schema whose children are
/// the columns). Empty when default-constructed, moved from or released.
class Schema : public detail::ArrowOwner<ArrowSchema> {
 public:
  using ArrowOwner::ArrowOwner;

  /// Number of columns (children); 0 when empty.
  std::size_t num_fields() const noexcept {
    return raw_.release != nullptr ? static_cast<std::size_t>(raw_.n_children) : 0;
  }
  /// Name of column `i`. Throws std::out_of_range when `i >= num_fields()`.
  std::string field_name(std::size_t i) const {
    const char* name = field(i).name;
    return name != nullptr ? name : "";
  }
  /// Arrow format string of column `i` ("l" int64, "g" float64, "u" string, "b" boolean,
  /// "tdD" date32, "tsu:UTC" timestamp). Throws std::out_of_range when `i >= num_fields()`.
  std::string field_format(std::size_t i) const { return field(i).format; }
  /// Every column name, in order.
  std::vector<std::string> field_names() const {
    std::vector<std::string> names;
    names.reserve(num_fields());
    for (std::size_t i = 0; i < num_fields(); ++i) names.push_back(field_name(i));
    return names;
  }

 private:
  const ArrowSchema& field(std::size_t i) const {
    if (i >= num_fields()) {
      throw std::out_of_range("dativo::Schema: field " + std::to_string(i) + " of " +
                              std::to_string(num_fields()));
    }
    return *raw_.children[i];
  }
};

/// Owns a `struct ArrowArray`: for dativo, one record batch (a struct array whose children are
/// the columns). Empty when default-constructed, moved from, released or written.
class Array : public detail::ArrowOwner<ArrowArray> {
 public:
  using ArrowOwner::ArrowOwner;

  /// Number of elements: the rows of a record batch. 0 when empty.
  int64_t length() const noexcept { return raw_.release != nullptr ? raw_.length : 0; }
};

/// Owns a `struct ArrowArrayStream`: record batches of one schema, read once, in order. Works
/// with any producer's stream; errors of a dativo stream keep their exact status and message.
///
///   for (dativo::Array& batch : stream) { ... }   // or: while (auto batch = stream.next())
///
/// Iteration is single-pass: `begin()` reads the first batch, each `++` the next. The current
/// batch is held by the stream until the iterator advances; it may be moved out (e.g. into
/// ParquetWriter::write). A failure while reading throws, never ends the loop silently.
class Stream : public detail::ArrowOwner<ArrowArrayStream> {
 public:
  class iterator;

  using ArrowOwner::ArrowOwner;
  Stream() noexcept = default;
  ~Stream() { reset(); }
  Stream(Stream&& other) noexcept : ArrowOwner(std::move(other)), current_(std::move(other.current_)) {
    other.current_.reset();
  }
  Stream& operator=(Stream&& other) noexcept {
    if (this != &other) {
      current_.reset();
      ArrowOwner::operator=(std::move(other));
      current_ = std::move(other.current_);
      other.current_.reset();
    }
    return *this;
  }

  /// Hand the struct out: the caller owns it and must call its `release`. This becomes empty.
  ArrowArrayStream release() noexcept {
    current_.reset();
    return ArrowOwner::release();
  }
  /// Release the stream (and the current batch) now; this becomes empty.
  void reset() noexcept {
    current_.reset();
    ArrowOwner::reset();
  }

  /// The schema of the batches. Throws the stream's error (InvalidArgumentError when empty).
  Schema schema() {
    ArrowSchema out{};
    check_code(live("schema").get_schema(&raw_, &out));
    return Schema(std::move(out));
  }

  /// The next batch, or std::nullopt at the end of the stream. Throws the stream's error with
  /// its status and full message (for dativo's CSV reader a DataError naming file, line,
  /// column and value); a stream that failed keeps failing. InvalidArgumentError when empty.
  std::optional<Array> next() {
    ArrowArray out{};
    check_code(live("next").get_next(&raw_, &out));
    if (out.release == nullptr) return std::nullopt;
    return Array(std::move(out));
  }

  /// Reads the first batch (see the class comment); throws as `next()`.
  iterator begin();
  /// The end of the stream.
  iterator end() noexcept;

 private:
  ArrowArrayStream& live(const char* what) {
    if (raw_.release == nullptr) {
      throw_error(DATIVO_STATUS_INVALID_ARGUMENT,
                  std::string("dativo::Stream::") + what +
                      ": the stream is empty (moved from, released or written)");
    }
    return raw_;
  }
  void check_code(int code) {
    if (code == 0) return;
    DativoError error{};
    DativoStatus status = dativo_status_from_stream(&raw_, code, &error);
    throw_error(status, error);
  }

  std::optional<Array> current_;  // the batch an iterator points at
};

/// Input iterator over a Stream's batches (single pass). `*it` is the current batch, owned by
/// the stream; `++it` reads the next one and throws on failure. Equal to `end()` at the end.
class Stream::iterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = Array;
  using difference_type = std::ptrdiff_t;
  using pointer = Array*;
  using reference = Array&;

  iterator() noexcept = default;

  reference operator*() const noexcept { return *stream_->current_; }
  pointer operator->() const noexcept { return &*stream_->current_; }
  iterator& operator++() {
    stream_->current_ = stream_->next();
    return *this;
  }
  /// Holds the batch `it++` moved past, so `*it++` works as for any input iterator.
  class post_increment {
   public:
    Array& operator*() noexcept { return batch_; }

   private:
    friend class iterator;
    explicit post_increment(Array&& batch) noexcept : batch_(std::move(batch)) {}
    Array batch_;
  };
  post_increment operator++(int) {
    post_increment old(std::move(**this));
    ++*this;
    return old;
  }

  friend bool operator==(const iterator& a, const iterator& b) noexcept {
    return a.at_end() == b.at_end() && (a.at_end() || a.stream_ == b.stream_);
  }
  friend bool operator!=(const iterator& a, const iterator& b) noexcept { return !(a == b); }

 private:
  friend class Stream;
  explicit iterator(Stream* stream) noexcept : stream_(stream) {}
  bool at_end() const noexcept { return stream_ == nullptr || !stream_->current_.has_value(); }

  Stream* stream_ = nullptr;
};

inline Stream::iterator Stream::begin() {
  current_ = next();
  return iterator(this);
}

inline Stream::iterator Stream::end() noexcept { return iterator(); }

// ---------------------------------------------------------------------------------------------
// Committed files and file lists
// ---------------------------------------------------------------------------------------------

/// A Parquet file made visible under its final name.
struct CommittedFile {
  std::string path;
  uint64_t rows = 0;
  uint64_t bytes = 0;
};

namespace detail {
/// Copy a DativoFileList (borrowed; not freed here).
inline std::vector<CommittedFile> files_of(const DativoFileList* list) {
  std::vector<CommittedFile> files;
  const std::size_t count = dativo_file_list_count(list);
  files.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const char* path = dativo_file_list_path(list, i);
    files.push_back(CommittedFile{path != nullptr ? path : "", dativo_file_list_rows(list, i),
                                  dativo_file_list_bytes(list, i)});
  }
  return files;
}

struct FileListFree {
  void operator()(DativoFileList* list) const noexcept { dativo_file_list_free(list); }
};
struct JobReportFree {
  void operator()(DativoJobReport* report) const noexcept { dativo_job_report_free(report); }
};
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// CSV reader
// ---------------------------------------------------------------------------------------------

/// An open CSV reader (owns a DativoCsvReader*) over one or several files with the same
/// columns. Opening reads the header and infers the types; reading happens on background
/// threads while the stream is consumed. The stream, once taken, is independent of the reader.
class CsvReader {
 public:
  /// Open `paths` (at least one). `options_json` is "" or a JSON object with the keys of a
  /// job's `source.engine.options`, e.g. R"({"delimiter": ";", "infer_sample_rows": 100})".
  /// Throws IoError (missing file, naming it), ConfigError (bad option, naming the key),
  /// DataError (empty file), SchemaError (files with different columns), InvalidArgumentError.
  static CsvReader open(const std::vector<std::string>& paths, const std::string& options_json = "") {
    // One spare NULL entry keeps the pointer non-NULL for an empty list, so the library
    // reports "no file" rather than a NULL pointer.
    std::vector<const char*> c_paths(paths.size() + 1, nullptr);
    for (std::size_t i = 0; i < paths.size(); ++i) c_paths[i] = paths[i].c_str();
    DativoCsvReader* handle = nullptr;
    DativoError error{};
    check(dativo_csv_reader_open(c_paths.data(), paths.size(), options_json.c_str(), &handle, &error),
          error);
    return CsvReader(handle);
  }
  /// Open one file; as above.
  static CsvReader open(const std::string& path, const std::string& options_json = "") {
    return open(std::vector<std::string>{path}, options_json);
  }
  /// Open a braced list of files, `CsvReader::open({"a.csv", "b.csv"})`; as above.
  static CsvReader open(std::initializer_list<std::string> paths, const std::string& options_json = "") {
    return open(std::vector<std::string>(paths), options_json);
  }

  /// An empty reader (as after a move).
  CsvReader() noexcept = default;
  ~CsvReader() { dativo_csv_reader_free(handle_); }
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;
  CsvReader(CsvReader&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  CsvReader& operator=(CsvReader&& other) noexcept {
    if (this != &other) {
      dativo_csv_reader_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }

  /// Whether this object owns a reader.
  explicit operator bool() const noexcept { return handle_ != nullptr; }
  /// The C handle, still owned by this object.
  DativoCsvReader* get() const noexcept { return handle_; }

  /// The schema of the batches (one field per column); any number of times, before or after
  /// `stream()`. Throws ArrowError, InvalidArgumentError (empty reader).
  Schema schema() const {
    ArrowSchema out{};
    DativoError error{};
    check(dativo_csv_reader_schema(handle_, &out, &error), error);
    return Schema(std::move(out));
  }

  /// Move the data out as a stream of record batches. Allowed once per reader: a second call
  /// throws InvalidArgumentError. Bad rows surface as DataError from the stream.
  Stream stream() {
    ArrowArrayStream out{};
    DativoError error{};
    check(dativo_csv_reader_stream(handle_, &out, &error), error);
    return Stream(std::move(out));
  }

  /// Good rows delivered by the stream so far (0 for an empty reader). Unlike the other
  /// members, may be called while another thread consumes the stream.
  uint64_t rows_read() const noexcept { return dativo_csv_reader_rows_read(handle_); }
  /// Bad rows skipped or rejected so far (options `on_error: skip | reject`).
  uint64_t rows_rejected() const noexcept { return dativo_csv_reader_rows_rejected(handle_); }

 private:
  explicit CsvReader(DativoCsvReader* handle) noexcept : handle_(handle) {}
  DativoCsvReader* handle_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Parquet writer
// ---------------------------------------------------------------------------------------------

/// A Parquet writer into one directory (owns a DativoParquetWriter*). Files are written under
/// hidden temporary names and appear as part-NNNNN.parquet only when `close()` succeeds. A
/// failed write discards everything (later calls throw InvalidArgumentError quoting the first
/// error); destroying a writer that was not closed discards its files too.
class ParquetWriter {
 public:
  /// Open a writer into `dir` (a local directory, created if missing, or s3://bucket/prefix)
  /// for batches of `schema` (borrowed: still owned by the caller). `options_json` is "" or a
  /// JSON object with the keys of a job's `target.engine.options`, e.g.
  /// R"({"compression": "zstd", "max_rows_per_file": 1000000})", plus `partitioning` and, for
  /// s3://, the keys of a job's `target.connection.s3` (`endpoint`, `access_key_id`, ...; see
  /// docs/cpp.md). Throws ConfigError (bad option), IoError (directory not writable, or in use
  /// by another writer; store unreachable or refusing the credentials), ArrowError (schema not
  /// importable), InvalidArgumentError (empty schema).
  static ParquetWriter open(const std::string& dir, const Schema& schema,
                            const std::string& options_json = "") {
    DativoParquetWriter* handle = nullptr;
    DativoError error{};
    check(dativo_parquet_writer_open(dir.c_str(), schema.get(), options_json.c_str(), &handle, &error),
          error);
    return ParquetWriter(handle);
  }

  /// An empty writer (as after a move).
  ParquetWriter() noexcept = default;
  /// Discards the files of a writer that was not closed.
  ~ParquetWriter() { dativo_parquet_writer_free(handle_); }
  ParquetWriter(const ParquetWriter&) = delete;
  ParquetWriter& operator=(const ParquetWriter&) = delete;
  ParquetWriter(ParquetWriter&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  ParquetWriter& operator=(ParquetWriter&& other) noexcept {
    if (this != &other) {
      dativo_parquet_writer_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }

  /// Whether this object owns a writer (closed or not).
  explicit operator bool() const noexcept { return handle_ != nullptr; }
  /// The C handle, still owned by this object.
  DativoParquetWriter* get() const noexcept { return handle_; }

  /// Write one record batch (a struct array of the writer's columns) described by `schema`,
  /// which is checked against the writer's: SchemaError when names or types differ. `batch` is
  /// consumed, success or failure: it is empty afterwards. Throws SchemaError, ArrowError,
  /// IoError, ParquetError, InternalError, InvalidArgumentError (empty batch, closed or failed
  /// writer). A failure discards the writer's files.
  void write(Array&& batch, const Schema& schema) {
    DativoError error{};
    check(dativo_parquet_writer_write_array(handle_, batch.get(), schema.get(), &error), error);
  }

  /// Write one record batch without a schema to check it against. An Arrow C array carries no
  /// types, so the library reads it as the writer's schema says: use this only for batches
  /// that come from the source of the writer's schema (e.g. the reader it was opened from).
  /// A batch with another shape still throws SchemaError. Otherwise as above.
  void write(Array&& batch) {
    DativoError error{};
    check(dativo_parquet_writer_write_array(handle_, batch.get(), nullptr, &error), error);
  }

  /// Write every batch of `stream` (whose columns must equal the writer's) until its end.
  /// `stream` is consumed, success or failure: it is empty afterwards. A failing stream throws
  /// its own error (e.g. DataError from a CSV reader); SchemaError when the columns differ;
  /// IoError, ParquetError, InvalidArgumentError as for `write(Array&&)`.
  void write(Stream&& stream) {
    DativoError error{};
    check(dativo_parquet_writer_write_stream(handle_, stream.get(), &error), error);
  }

  /// Finish the files and make them visible (fsync, rename, fsync the directory); returns the
  /// committed files in order. Success or failure the writer is closed afterwards: every later
  /// call except destruction throws InvalidArgumentError. Throws IoError, ParquetError,
  /// InvalidArgumentError (already closed, or an earlier write failed).
  std::vector<CommittedFile> close() {
    DativoFileList* list = nullptr;
    DativoError error{};
    check(dativo_parquet_writer_close(handle_, &list, &error), error);
    std::unique_ptr<DativoFileList, detail::FileListFree> owned(list);
    return detail::files_of(owned.get());
  }

 private:
  explicit ParquetWriter(DativoParquetWriter* handle) noexcept : handle_(handle) {}
  DativoParquetWriter* handle_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------------

/// What a successful job run did (a copy of the C DativoJobReport).
struct JobReport {
  uint64_t rows_read = 0;      ///< good rows read from the input files
  uint64_t rows_written = 0;   ///< rows written to Parquet
  uint64_t rows_rejected = 0;  ///< bad rows skipped or sent to the rejects file
  uint64_t warnings = 0;       ///< columns missing or dropped, nulls kept in warn mode
  uint64_t input_bytes = 0;    ///< total size of the input files (0 when a reader plugin read them)
  uint64_t bytes_written = 0;  ///< total size of the Parquet files
  double seconds = 0;          ///< wall time of the run
  std::vector<CommittedFile> files;  ///< the Parquet files committed, in order
};

/// Run the job file at `path` (the YAML of `dativo run --config`), blocking until it ends.
/// `${VAR}` comes from the environment; relative paths are relative to the job file. On
/// failure nothing of this run is visible. Throws ConfigError (bad job file, naming the key
/// and line), IoError, DataError, SchemaError, ParquetError. Thread-safe: several jobs may
/// run at once on different output directories.
inline JobReport run_job(const std::string& path) {
  DativoJobReport* handle = nullptr;
  DativoError error{};
  check(dativo_job_run(path.c_str(), &handle, &error), error);
  std::unique_ptr<DativoJobReport, detail::JobReportFree> report(handle);
  JobReport out;
  out.rows_read = dativo_job_report_rows_read(report.get());
  out.rows_written = dativo_job_report_rows_written(report.get());
  out.rows_rejected = dativo_job_report_rows_rejected(report.get());
  out.warnings = dativo_job_report_warnings(report.get());
  out.input_bytes = dativo_job_report_input_bytes(report.get());
  out.bytes_written = dativo_job_report_bytes_written(report.get());
  out.seconds = dativo_job_report_seconds(report.get());
  out.files = detail::files_of(dativo_job_report_files(report.get()));
  return out;
}

}  // namespace dativo

#endif  // DATIVO_HPP
