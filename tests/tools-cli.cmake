# tools-cli: integration tests for `sakhi`, the field-device CLI (every command's exit status,
# output and --json shape, the bad-input paths, and capture -> sync -> accept -> sync against a
# real server and sakhi-admin), and the demo run to completion.
if(NOT TARGET sakhi-cli OR NOT TARGET sakhi-server OR NOT TARGET sakhi_testsupport)
  return()
endif()

if(TARGET sakhi-admin AND TARGET sakhi-netem)
  sakhi_add_test(test_cli
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_cli.c
    LIBS sakhi_testsupport sakhi_toolkit Threads::Threads
    LABELS integration
    TIMEOUT 180)
  target_compile_definitions(test_cli PRIVATE
    SAKHI_CLI_BIN="$<TARGET_FILE:sakhi-cli>"
    SAKHI_ADMIN_BIN="$<TARGET_FILE:sakhi-admin>"
    SAKHI_NETEM_BIN="$<TARGET_FILE:sakhi-netem>")
  add_dependencies(test_cli sakhi-cli sakhi-admin sakhi-netem)
endif()

# The demo (scripts/demo.sh) end to end, without its build step, in a data folder of its own.
if(TARGET sakhi-admin AND TARGET sakhi-netem)
  add_test(NAME test_demo
    COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/demo.sh --no-build ${PROJECT_BINARY_DIR})
  set_tests_properties(test_demo PROPERTIES LABELS integration TIMEOUT 300
    ENVIRONMENT "SAKHI_DEMO_DIR=${PROJECT_BINARY_DIR}/demo-test-data")
endif()
