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
