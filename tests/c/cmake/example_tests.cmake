# dativo_add_example_tests(): the ctest tests every CSV -> Parquet example gets, so the C and
# C++ examples (and any later one) are checked the same way. Included by the top-level
# CMakeLists.txt; uses run_checked.cmake next to this file.
#
#   dativo_add_example_tests(<prefix> <target>
#     BAD_VALUE_REGEX <regex>         stderr of the bad-value run
#     [MISSING_FILE_REGEX <regex>]    register the missing-file run, checking stderr
#     [VALGRIND]                      also run the sample and the bad value under valgrind
#     [ENVIRONMENT <VAR=value>...])   environment of every test registered
#
# Tests: <prefix> converts the sample (the printed row count must equal its data lines);
# <prefix>_bad_value reads a file with a bad value after the type-inference sample (exit 1, no
# Parquet file left behind); <prefix>_missing_file; <prefix>_valgrind and
# <prefix>_bad_value_valgrind (definite and indirect leaks fail them).
set(_dativo_example_tests_dir "${CMAKE_CURRENT_LIST_DIR}")

function(dativo_add_example_tests prefix target)
  cmake_parse_arguments(PARSE_ARGV 2 arg "VALGRIND" "BAD_VALUE_REGEX;MISSING_FILE_REGEX" "ENVIRONMENT")
  set(run "${_dativo_example_tests_dir}/run_checked.cmake")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/out/${prefix}")
  set(bad_csv "${PROJECT_SOURCE_DIR}/examples/data/bad_quantity.csv")
  # Type inference sees rows 1-2 only, so `quantity` becomes an integer and row 4 ("two", line
  # 5) fails after a first batch of two rows was already handed to the writer.
  set(bad_options [[{"infer_sample_rows": 2, "batch_size": 2}]])
  set(exe $<TARGET_FILE:${target}>)
  set(tests ${prefix} ${prefix}_bad_value)

  add_test(NAME ${prefix}
    COMMAND "${CMAKE_COMMAND}" "-DOUTPUT_DIR=${out}/orders" "-DEXPECT_ROWS_OF=${DATIVO_SAMPLE_CSV}"
            -P "${run}" -- ${exe} "${DATIVO_SAMPLE_CSV}" "${out}/orders")
  add_test(NAME ${prefix}_bad_value
    COMMAND "${CMAKE_COMMAND}" "-DOUTPUT_DIR=${out}/bad_value" -DEXPECT_EXIT_CODE=1
            "-DEXPECT_STDERR_REGEX=${arg_BAD_VALUE_REGEX}"
            -P "${run}" -- ${exe} "${bad_csv}" "${out}/bad_value" "${bad_options}")
  if(arg_MISSING_FILE_REGEX)
    add_test(NAME ${prefix}_missing_file
      COMMAND "${CMAKE_COMMAND}" "-DOUTPUT_DIR=${out}/missing" -DEXPECT_EXIT_CODE=1
              "-DEXPECT_STDERR_REGEX=${arg_MISSING_FILE_REGEX}"
              -P "${run}" -- ${exe} "${CMAKE_CURRENT_BINARY_DIR}/no_such_file.csv" "${out}/missing")
    list(APPEND tests ${prefix}_missing_file)
  endif()

  # Not counted as leaks, and not suppressed either: "still reachable" process-wide one-offs
  # (ahash's random seeds, the capacity of the writer's directory-lock registry), and one
  # 48-byte "possibly lost" block, the std::thread::Thread handle Rust's std creates for the
  # main thread and never frees (https://github.com/rust-lang/rust/issues/135608).
  if(arg_VALGRIND AND DATIVO_VALGRIND AND NOT DATIVO_SANITIZE_FLAGS)
    set(valgrind "${DATIVO_VALGRIND}" --leak-check=full --errors-for-leak-kinds=definite,indirect)
    add_test(NAME ${prefix}_valgrind
      COMMAND "${CMAKE_COMMAND}" "-DOUTPUT_DIR=${out}/valgrind" "-DEXPECT_ROWS_OF=${DATIVO_SAMPLE_CSV}"
              -P "${run}" -- ${valgrind} --error-exitcode=1 ${exe} "${DATIVO_SAMPLE_CSV}" "${out}/valgrind")
    # On the failure path the example exits 1 itself, so valgrind reports with 86.
    add_test(NAME ${prefix}_bad_value_valgrind
      COMMAND "${CMAKE_COMMAND}" "-DOUTPUT_DIR=${out}/bad_value_valgrind" -DEXPECT_EXIT_CODE=1
              "-DEXPECT_STDERR_REGEX=bad_quantity\\.csv"
              -P "${run}" -- ${valgrind} --error-exitcode=86 ${exe} "${bad_csv}" "${out}/bad_value_valgrind"
              "${bad_options}")
    set_tests_properties(${prefix}_valgrind ${prefix}_bad_value_valgrind PROPERTIES TIMEOUT 600)
    list(APPEND tests ${prefix}_valgrind ${prefix}_bad_value_valgrind)
  endif()
  if(arg_ENVIRONMENT)
    set_tests_properties(${tests} PROPERTIES ENVIRONMENT "${arg_ENVIRONMENT}")
  endif()
endfunction()
