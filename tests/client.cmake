# client: libsakhi (client-lib/). Unit tests of the local store, outbox, crypto and capture link
# the static library (and see its internal header); end-to-end tests run real sakhi-server
# processes on 127.0.0.1; the symbol test checks that nothing outside sakhi_/sk_ is exported; the
# install test installs into a temp prefix and builds the example as an outside program.
if(TARGET sakhi_static)
  sakhi_add_test(test_client_store
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_client_store.c
    LIBS sakhi_static
    LABELS unit
    TIMEOUT 120)
  target_compile_definitions(test_client_store PRIVATE _DEFAULT_SOURCE _POSIX_C_SOURCE=200809L)

  add_test(NAME test_client_symbols
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/install/check-symbols.sh $<TARGET_FILE:sakhi>
            $<TARGET_FILE:sakhi_static>)
  set_tests_properties(test_client_symbols PROPERTIES LABELS unit TIMEOUT 30)
endif()

# End to end against a real server (sakhi_testsupport is defined in server.cmake; the name is
# resolved when the build is generated, so the order of the area files does not matter).
if(TARGET sakhi AND TARGET sakhi-server)
  sakhi_add_test(test_client_sync
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_sync.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 240)
  # Transport security: TLS with the pinned centre key, wrong key, certificate dates, a device
  # clock years off, plaintext rules, handshake timeout/cancel, secrets hygiene.
  sakhi_add_test(test_client_tls
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_tls.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 240)
endif()

# Install into a temp prefix and build the example as an outside program (pkg-config and
# find_package, shared and static). Not under sanitizers: the outside program is built without
# them, and an ASan-built libsakhi.so cannot be loaded by an uninstrumented executable.
if(TARGET sakhi AND NOT SAKHI_SANITIZE AND NOT CMAKE_CROSSCOMPILING)
  add_test(NAME test_client_install
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/install/install-test.sh ${PROJECT_BINARY_DIR}
            ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_client_install PROPERTIES LABELS integration TIMEOUT 300)
endif()
