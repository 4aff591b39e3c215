# engine: the client's sync engine (proto/sk_engine.c), a state machine without I/O. Its unit
# tests feed it a server's frames and a clock by hand (no socket, no store); the simulation
# runs it against a real sakhi-server over a seeded bad link and checks that every seed
# converges with each change applied exactly once.
sakhi_add_test(test_engine
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_engine.c
  LIBS sakhi_proto
  LABELS unit
  TIMEOUT 60)

# sakhi_testsupport comes from server.cmake (read after this file; targets resolve at generate).
if(TARGET sakhi-server)
  sakhi_add_test(test_engine_sim
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_engine_sim.c
    LIBS sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 180)
endif()

# Sync as a phone runs it (issue 22 point 6): deadline, network-changed hint, summary.
if(TARGET sakhi AND TARGET sakhi-server)
  sakhi_add_test(test_client_background_sync
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_background_sync.c
    LIBS sakhi sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 180)
endif()

# The engine fed fuzzer bytes directly (no socket, no store): its corpus replayed in every
# build; -DSAKHI_FUZZ=ON (clang) also builds the libFuzzer binary.
add_executable(fuzz_engine_replay
  ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_engine.c ${CMAKE_CURRENT_LIST_DIR}/fuzz/replay_main.c)
target_link_libraries(fuzz_engine_replay PRIVATE sakhi_proto sakhi_warnings)
add_test(NAME fuzz_engine_replay
  COMMAND fuzz_engine_replay ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus_engine)
set_tests_properties(fuzz_engine_replay PROPERTIES LABELS "fuzz-smoke" TIMEOUT 120)
if(SAKHI_FUZZ)
  add_executable(fuzz_engine ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_engine.c)
  target_compile_options(fuzz_engine PRIVATE -fsanitize=fuzzer,address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  target_link_options(fuzz_engine PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_engine PRIVATE sakhi_proto sakhi_warnings)
endif()

# The C example of docs/CLIENT-API.md ("Sync as a phone runs it"), taken from the document at
# configure time, built with the project's warnings (as errors in CI) and run on a new store.
file(READ ${PROJECT_SOURCE_DIR}/docs/CLIENT-API.md SAKHI_CLIENT_API_DOC)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/docs/CLIENT-API.md)
string(REGEX MATCH "<!-- c_doc_example: background_sync -->\n```c\n(.*)" SAKHI_DOC_TAIL
       "${SAKHI_CLIENT_API_DOC}")
string(FIND "${CMAKE_MATCH_1}" "\n```" SAKHI_DOC_END)
if(TARGET sakhi AND SAKHI_DOC_END GREATER 0)
  string(SUBSTRING "${CMAKE_MATCH_1}" 0 ${SAKHI_DOC_END} SAKHI_DOC_EXAMPLE)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/doc_background_sync.c "${SAKHI_DOC_EXAMPLE}\n")
  add_executable(doc_background_sync ${CMAKE_CURRENT_BINARY_DIR}/doc_background_sync.c)
  target_link_libraries(doc_background_sync PRIVATE sakhi sakhi_warnings)
  add_test(NAME test_doc_background_sync
    COMMAND doc_background_sync ${CMAKE_CURRENT_BINARY_DIR}/doc_background_sync.store 246813)
  set_tests_properties(test_doc_background_sync PROPERTIES LABELS unit TIMEOUT 60)
elseif(TARGET sakhi)
  message(FATAL_ERROR "docs/CLIENT-API.md: no C example after <!-- c_doc_example: background_sync -->")
endif()
