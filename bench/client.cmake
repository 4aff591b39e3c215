# client: the device-side benchmark (bench_client): capture latency against a raw LMDB durable
# commit of the same size, and a device's push and pull throughput and CPU against a real
# server. Uses libsakhi's public API (the shared library, as an app links it) plus the tools'
# sample loader; run only by bench/run.sh.
if(NOT TARGET sakhi OR NOT TARGET sakhi_toolkit)
  return()
endif()
add_executable(bench_client ${CMAKE_CURRENT_LIST_DIR}/bench_client.c)
target_compile_definitions(bench_client PRIVATE _DEFAULT_SOURCE _POSIX_C_SOURCE=200809L
  SAKHI_BENCH_SAMPLE="${PROJECT_SOURCE_DIR}/tests/data/sample-referrals.json")
target_link_libraries(bench_client PRIVATE sakhi sakhi_toolkit PkgConfig::LMDB sakhi_warnings)
