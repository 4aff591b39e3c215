# ceiling: the raw-LMDB storage ceiling (bench_ceiling) that bench/run.sh compares the server's
# ingest with. Built with the project; run only by bench/run.sh.
add_executable(bench_ceiling ${CMAKE_CURRENT_LIST_DIR}/bench_ceiling.c)
target_compile_definitions(bench_ceiling PRIVATE _DEFAULT_SOURCE _POSIX_C_SOURCE=200809L)
target_link_libraries(bench_ceiling PRIVATE PkgConfig::LMDB sakhi_warnings)
