package dativo

import (
	"encoding/json"
	"fmt"
)

// Option sets one key of the options object that crosses the C API as JSON text. The keys are
// those of a job file: source.engine.options for ReadCSV, target.engine.options for
// NewParquetWriter (README, "Options"). The library validates them: a key the reader or the
// writer does not know fails with ErrConfig, naming the key. A later Option for the same key
// replaces an earlier one.
type Option func(o map[string]any)

// WithOption sets any key to any JSON-encodable value: the escape hatch for keys this package
// has no function for (including keys added to the library later).
func WithOption(key string, value any) Option {
	return func(o map[string]any) { o[key] = value }
}

// encodeOptions builds the options text for the C API; "" (the defaults) when there are none.
func encodeOptions(opts []Option) (string, error) {
	if len(opts) == 0 {
		return "", nil
	}
	o := make(map[string]any, len(opts))
	for _, opt := range opts {
		opt(o)
	}
	text, err := json.Marshal(o) // map keys come out sorted: stable text
	if err != nil {
		return "", &Error{Status: StatusConfig, Message: fmt.Sprintf("options: %v", err)}
	}
	return string(text), nil
}

// OnError says what the reader does with a row it cannot read or type.
type OnError string

const (
	OnErrorFail   OnError = "fail"   // stop with an error naming file, line, column, value (default)
	OnErrorSkip   OnError = "skip"   // drop the row and count it (Reader.RowsRejected)
	OnErrorReject OnError = "reject" // write it to the rejects file (WithRejectsPath) and count it
)

// Reader options (ReadCSV).

// WithDelimiter sets the field separator (default: detected from the file). A separator of
// several characters ("+|") is WithOption("delimiter", "+|").
func WithDelimiter(c rune) Option { return WithOption("delimiter", string(c)) }

// WithQuote sets the quote character (default: detected, '"' when no field is quoted).
func WithQuote(c rune) Option { return WithOption("quote", string(c)) }

// WithEscape sets the escape character (default: detected with the quote, else none: quotes
// are doubled).
func WithEscape(c rune) Option { return WithOption("escape", string(c)) }

// WithComment makes lines starting with c comments (default: none).
func WithComment(c rune) Option { return WithOption("comment", string(c)) }

// WithHeader says whether the first line holds the column names (default: detected).
func WithHeader(has bool) Option { return WithOption("header", has) }

// WithColumnNames names the columns (for files without a header, or to rename them).
func WithColumnNames(names ...string) Option { return WithOption("column_names", names) }

// WithNullValues sets the texts read as null (default: the empty field).
func WithNullValues(values ...string) Option { return WithOption("null_values", values) }

// WithColumnTypes pins the types of some columns by name (asset type names such as "integer",
// "string", "double", "timestamp"); the other columns are inferred.
func WithColumnTypes(types map[string]string) Option { return WithOption("column_types", types) }

// WithSkipRows skips n lines before the header.
func WithSkipRows(n int) Option { return WithOption("skip_rows", n) }

// WithBatchSize sets the rows per record batch.
func WithBatchSize(n int) Option { return WithOption("batch_size", n) }

// WithInferSampleRows sets how many rows of the first file type inference reads.
func WithInferSampleRows(n int) Option { return WithOption("infer_sample_rows", n) }

// WithEncoding sets the text encoding of the files (e.g. "utf-8", "latin-1").
func WithEncoding(name string) Option { return WithOption("encoding", name) }

// WithOnError says what to do with a bad row (default OnErrorFail).
func WithOnError(mode OnError) Option { return WithOption("on_error", string(mode)) }

// WithRejectsPath sets the rejects CSV for OnErrorReject (relative to the working directory).
func WithRejectsPath(path string) Option { return WithOption("rejects_path", path) }

// WithMaxRejects fails the read once more than n rows were skipped or rejected.
func WithMaxRejects(n uint64) Option { return WithOption("max_rejects", n) }

// WithThreads sets the worker threads of a reader (parsing) or a writer (encoding).
func WithThreads(n int) Option { return WithOption("threads", n) }

// Writer options (NewParquetWriter).

// WithCompression sets the Parquet codec: "snappy" (default), "zstd", "gzip", "lz4", "none".
func WithCompression(codec string) Option { return WithOption("compression", codec) }

// WithCompressionLevel sets the level of gzip or zstd (needs WithCompression).
func WithCompressionLevel(level int) Option { return WithOption("compression_level", level) }

// WithRowGroupSize sets the rows per Parquet row group.
func WithRowGroupSize(n int) Option { return WithOption("row_group_size", n) }

// WithMaxRowsPerFile starts a new part file after n rows.
func WithMaxRowsPerFile(n uint64) Option { return WithOption("max_rows_per_file", n) }

// WithStatistics turns column statistics in the Parquet footer on or off.
func WithStatistics(on bool) Option { return WithOption("statistics", on) }

// WithAdaptiveCompression turns off (false) or on (true, the default) storing a column
// uncompressed when the codec does not shrink it (docs/parquet.md).
func WithAdaptiveCompression(on bool) Option { return WithOption("adaptive_compression", on) }

// WithWriteMode sets "overwrite" (default: the run's parts replace the directory's) or
// "append" (numbering continues after the existing parts).
func WithWriteMode(mode string) Option { return WithOption("write_mode", mode) }

// WithPartitioning writes Hive partition folders (key=value/...) of these columns, in this
// order, locally or in a bucket; "ingest_date" is today's date, whether or not the data has
// such a column. The partition columns are not stored inside the files.
func WithPartitioning(columns ...string) Option { return WithOption("partitioning", columns) }

// Object-store connection (NewParquetWriter with an s3://bucket/prefix destination). The keys
// are those of a job's target.connection.s3; given with a local directory they fail with
// ErrConfig. Without credentials the AWS environment's are used (AWS_ACCESS_KEY_ID, ...).

// WithEndpoint sets the S3-compatible server: "host:port" (HTTPS unless WithSecure(false)),
// "http://host:port" or "https://host:port". Default: AWS S3. An endpoint turns on path-style
// requests unless WithPathStyleAccess(false).
func WithEndpoint(endpoint string) Option { return WithOption("endpoint", endpoint) }

// WithRegion sets the bucket's region (default "us-east-1").
func WithRegion(region string) Option { return WithOption("region", region) }

// WithCredentials sets the access key and its secret. They never appear in errors.
func WithCredentials(accessKeyID, secretAccessKey string) Option {
	return func(o map[string]any) {
		o["access_key_id"] = accessKeyID
		o["secret_access_key"] = secretAccessKey
	}
}

// WithSessionToken sets a temporary credential's session token (with WithCredentials).
func WithSessionToken(token string) Option { return WithOption("session_token", token) }

// WithPathStyleAccess sends http://endpoint/bucket/key requests rather than
// http://bucket.endpoint/key.
func WithPathStyleAccess(on bool) Option { return WithOption("path_style_access", on) }

// WithSecure says whether a "host:port" endpoint is reached over TLS (default true).
func WithSecure(on bool) Option { return WithOption("secure", on) }
