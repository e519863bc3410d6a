package dativo

// #include "shim.h"
import "C"

import "time"

// Report is the outcome of a successful job run.
type Report struct {
	RowsRead     uint64        // good rows read from the input files
	RowsWritten  uint64        // rows written to Parquet
	RowsRejected uint64        // bad rows skipped or sent to the rejects file
	Warnings     uint64        // columns missing or dropped, nulls kept in warn mode
	InputBytes   uint64        // total size of the input files (0 when a reader plugin read them)
	BytesWritten uint64        // total size of the Parquet files
	Duration     time.Duration // wall time of the run
	Files        []File        // the committed Parquet files, in order
}

// RunJob runs the job file at path (the YAML of `dativo run --config`) and blocks until it
// ends. ${VAR} references are read from the environment. On failure no Parquet file of this
// run is visible. Several jobs may run at once from different goroutines (on different
// output directories).
func RunJob(path string) (Report, error) {
	if err := abiCheck(); err != nil {
		return Report{}, err
	}
	cpath, err := cString("job path", path)
	if err != nil {
		return Report{}, err
	}
	defer freeCString(cpath)
	var report *C.DativoJobReport
	var cerr C.DativoError
	if st := C.dativo_job_run(cpath, &report, &cerr); st != C.DATIVO_STATUS_OK {
		return Report{}, takeError(st, &cerr)
	}
	defer C.dativo_job_report_free(report)
	return Report{
		RowsRead:     uint64(C.dativo_job_report_rows_read(report)),
		RowsWritten:  uint64(C.dativo_job_report_rows_written(report)),
		RowsRejected: uint64(C.dativo_job_report_rows_rejected(report)),
		Warnings:     uint64(C.dativo_job_report_warnings(report)),
		InputBytes:   uint64(C.dativo_job_report_input_bytes(report)),
		BytesWritten: uint64(C.dativo_job_report_bytes_written(report)),
		Duration:     time.Duration(float64(C.dativo_job_report_seconds(report)) * float64(time.Second)),
		Files:        fileList(C.dativo_job_report_files(report)), // owned by the report
	}, nil
}
