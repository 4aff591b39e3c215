# fuzz2: fuzz targets for the server's session state machine (tests/fuzz/fuzz_session.c: a real
# in-process server driven with arbitrary frames) and for the client's response handling
# (tests/fuzz/fuzz_client.c: a fake server answering a real sakhi_sync with fuzzer-chosen
# frames). Every build replays their corpora as ctest tests labelled fuzz-smoke; -DSAKHI_FUZZ=ON
# (clang) also builds the libFuzzer binaries, with the code under test compiled again with
# coverage instrumentation and ASan+UBSan (scripts/fuzz.sh runs them).

# Absolute paths of a target's sources (they are listed relative to their own directory).
function(sakhi_fuzz_sources out target dir)
  get_target_property(rel ${target} SOURCES)
  set(abs "")
  foreach(src ${rel})
    if(NOT IS_ABSOLUTE ${src})
      set(src ${dir}/${src})
    endif()
    list(APPEND abs ${src})
  endforeach()
  set(${out} ${abs} PARENT_SCOPE)
endfunction()

set(SAKHI_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer -g)

if(TARGET sakhi_server_core)
  add_executable(fuzz_session_replay
    ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_session.c ${CMAKE_CURRENT_LIST_DIR}/fuzz/replay_main.c)
  target_link_libraries(fuzz_session_replay PRIVATE sakhi_server_core sakhi_warnings)
  add_test(NAME fuzz_session_replay
    COMMAND fuzz_session_replay ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus_session)
  set_tests_properties(fuzz_session_replay PROPERTIES LABELS "fuzz-smoke" TIMEOUT 300)

  if(SAKHI_FUZZ)
    sakhi_fuzz_sources(SAKHI_FZ_SERVER sakhi_server_core ${PROJECT_SOURCE_DIR}/server)
    sakhi_fuzz_sources(SAKHI_FZ_PROTO sakhi_proto ${PROJECT_SOURCE_DIR}/proto)
    sakhi_fuzz_sources(SAKHI_FZ_KEYRING sakhi_keyring ${PROJECT_SOURCE_DIR}/storage)
    sakhi_fuzz_sources(SAKHI_FZ_STORAGE sakhi_storage ${PROJECT_SOURCE_DIR}/storage)
    add_executable(fuzz_session ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_session.c
                   ${SAKHI_FZ_SERVER} ${SAKHI_FZ_STORAGE} ${SAKHI_FZ_PROTO} ${SAKHI_FZ_KEYRING})
    target_include_directories(fuzz_session PRIVATE ${PROJECT_SOURCE_DIR}/server
                               ${PROJECT_SOURCE_DIR}/storage ${PROJECT_SOURCE_DIR}/proto)
    target_compile_definitions(fuzz_session PRIVATE _DEFAULT_SOURCE _POSIX_C_SOURCE=200809L)
    target_compile_options(fuzz_session PRIVATE ${SAKHI_FUZZ_FLAGS})
    target_link_options(fuzz_session PRIVATE -fsanitize=fuzzer,address,undefined)
    # the server core's own libraries (its imported targets live in server/'s scope): the desk
    # links h2o and libqrencode, staff passwords libargon2
    pkg_check_modules(FZ_H2O REQUIRED IMPORTED_TARGET libh2o)
    pkg_check_modules(FZ_QRENCODE REQUIRED IMPORTED_TARGET libqrencode)
    target_link_libraries(fuzz_session PRIVATE PkgConfig::LIBUV PkgConfig::LMDB
                          PkgConfig::MSGPACK PkgConfig::ZSTD PkgConfig::OPENSSL PkgConfig::ARGON2
                          PkgConfig::FZ_H2O PkgConfig::FZ_QRENCODE Threads::Threads m sakhi_warnings)
  endif()
endif()

if(TARGET sakhi_static)
  add_executable(fuzz_client_replay
    ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_client.c ${CMAKE_CURRENT_LIST_DIR}/fuzz/replay_main.c)
  # The harness restores the open handle's store between inputs, so it sees the internals.
  target_include_directories(fuzz_client_replay PRIVATE ${PROJECT_SOURCE_DIR}/client-lib/src
                             ${PROJECT_SOURCE_DIR}/proto)
  target_link_libraries(fuzz_client_replay PRIVATE sakhi_static PkgConfig::LMDB sakhi_warnings)
  target_compile_definitions(fuzz_client_replay PRIVATE _DEFAULT_SOURCE _POSIX_C_SOURCE=200809L)
  add_test(NAME fuzz_client_replay
    COMMAND fuzz_client_replay ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus_client)
  set_tests_properties(fuzz_client_replay PROPERTIES LABELS "fuzz-smoke" TIMEOUT 300)

  if(SAKHI_FUZZ)
    sakhi_fuzz_sources(SAKHI_FZ_CLIENT sakhi_client_objs ${PROJECT_SOURCE_DIR}/client-lib)
    sakhi_fuzz_sources(SAKHI_FZ_PROTO2 sakhi_proto ${PROJECT_SOURCE_DIR}/proto)
    sakhi_fuzz_sources(SAKHI_FZ_KEYRING2 sakhi_keyring ${PROJECT_SOURCE_DIR}/storage)
    add_executable(fuzz_client ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_client.c
                   ${SAKHI_FZ_CLIENT} ${SAKHI_FZ_PROTO2} ${SAKHI_FZ_KEYRING2})
    target_include_directories(fuzz_client PRIVATE ${PROJECT_SOURCE_DIR}/client-lib/include
                               ${PROJECT_SOURCE_DIR}/client-lib/src ${PROJECT_SOURCE_DIR}/storage
                               ${PROJECT_SOURCE_DIR}/proto)
    # SAKHI_FUZZ_CLOCK: the client's clock is virtual in this binary only (sk_client.h).
    target_compile_definitions(fuzz_client PRIVATE SAKHI_BUILDING=1 SAKHI_FUZZ_CLOCK=1
                               _DEFAULT_SOURCE _POSIX_C_SOURCE=200809L)
    target_compile_options(fuzz_client PRIVATE ${SAKHI_FUZZ_FLAGS})
    target_link_options(fuzz_client PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_client PRIVATE PkgConfig::LMDB PkgConfig::MSGPACK PkgConfig::ZSTD
                          PkgConfig::OPENSSL PkgConfig::ARGON2 Threads::Threads sakhi_warnings)
  endif()
endif()
