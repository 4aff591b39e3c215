# tools-load: sakhi-load (the load generator) against a real server, and the benchmark script
# in its quick form (it checks that every benchmark runs; it never judges timings).
# sakhi_testsupport comes from server.cmake (included before this file).
if(NOT TARGET sakhi-load OR NOT TARGET sakhi_testsupport)
  return()
endif()
sakhi_add_test(test_load
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_load.c
  LIBS sakhi_testsupport sakhi_toolkit
  LABELS integration
  TIMEOUT 180)
target_compile_definitions(test_load PRIVATE
  SAKHI_SERVER_BIN="$<TARGET_FILE:sakhi-server>"
  SAKHI_LOAD_BIN="$<TARGET_FILE:sakhi-load>")
add_dependencies(test_load sakhi-load sakhi-server)

# The benchmarks in their quick form: every benchmark runs end to end (sakhi-load's own check
# must pass in each); timings are printed, never judged.
if(TARGET sakhi-netem AND SAKHI_BUILD_BENCH)
  add_test(NAME bench_quick
           COMMAND ${PROJECT_SOURCE_DIR}/bench/run.sh --quick --build ${PROJECT_BINARY_DIR})
  set_tests_properties(bench_quick PROPERTIES LABELS integration TIMEOUT 300)
endif()
