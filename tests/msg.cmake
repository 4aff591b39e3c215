# msg: the protocol message codec (proto/sk_msg.c): unit tests, golden vectors checked by the C
# codec and by an independent MessagePack implementation (python3-msgpack), and the fuzz target
# (a replay of the corpus in every build; libFuzzer builds with -DSAKHI_FUZZ=ON, scripts/fuzz.sh).
set(SAKHI_MSG_FIXTURES ${CMAKE_CURRENT_LIST_DIR}/unit/msg_fixtures.c)

sakhi_add_test(test_vectors
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_vectors.c ${SAKHI_MSG_FIXTURES}
  LIBS sakhi_proto
  LABELS unit
  TIMEOUT 30)

if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/unit/test_msg.c)
  sakhi_add_test(test_msg
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_msg.c ${SAKHI_MSG_FIXTURES}
    LIBS sakhi_proto
    LABELS unit
    TIMEOUT 60)
endif()

# The same vectors read by python3-msgpack: proves they are plain MessagePack.
add_test(NAME check_vectors
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/check-vectors.py
          ${PROJECT_SOURCE_DIR}/tests/vectors)
set_tests_properties(check_vectors PROPERTIES LABELS "unit" TIMEOUT 60)

# Fuzz target: always built as a replay driver over tests/fuzz/corpus (label fuzz-smoke).
add_executable(fuzz_frame_replay
  ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_frame.c ${CMAKE_CURRENT_LIST_DIR}/fuzz/replay_main.c)
target_link_libraries(fuzz_frame_replay PRIVATE sakhi_proto sakhi_warnings)
add_test(NAME fuzz_frame_replay
  COMMAND fuzz_frame_replay ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus)
set_tests_properties(fuzz_frame_replay PROPERTIES LABELS "fuzz-smoke" TIMEOUT 120)

if(SAKHI_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SAKHI_FUZZ=ON needs clang (CC=clang)")
  endif()
  # libFuzzer build: sakhi_proto's sources compiled again with coverage instrumentation.
  get_target_property(SAKHI_PROTO_SRCS_REL sakhi_proto SOURCES)
  set(SAKHI_PROTO_SRCS "")
  foreach(src ${SAKHI_PROTO_SRCS_REL})
    if(NOT IS_ABSOLUTE ${src})
      set(src ${PROJECT_SOURCE_DIR}/proto/${src})
    endif()
    list(APPEND SAKHI_PROTO_SRCS ${src})
  endforeach()
  add_executable(fuzz_frame ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_frame.c ${SAKHI_PROTO_SRCS})
  target_include_directories(fuzz_frame PRIVATE ${PROJECT_SOURCE_DIR}/proto)
  target_compile_options(fuzz_frame PRIVATE -fsanitize=fuzzer,address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  target_link_options(fuzz_frame PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_frame PRIVATE PkgConfig::MSGPACK PkgConfig::ZSTD PkgConfig::OPENSSL sakhi_warnings)
endif()

# docs/PROTOCOL.md's generated blocks (error table from sk_err.h, annotated session from the
# vectors) must match their sources.
add_test(NAME protocol_doc_current
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/check-vectors.py
          --doc ${PROJECT_SOURCE_DIR}/docs/PROTOCOL.md ${PROJECT_SOURCE_DIR}/tests/vectors)
set_tests_properties(protocol_doc_current PROPERTIES LABELS "unit" TIMEOUT 60)
