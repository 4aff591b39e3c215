# zstd: the negotiated frame compression (proto/sk_zstd.c, PROTOCOL.md section 10): wrapper
# round trip and every rejection (unit), and a libsakhi sync against sakhi-server with and without
# compression (integration).
sakhi_add_test(test_zstd
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_zstd.c ${CMAKE_CURRENT_LIST_DIR}/unit/msg_fixtures.c
  LIBS sakhi_proto PkgConfig::ZSTD
  LABELS unit
  TIMEOUT 60)
# Every malloc of the proto code goes through the test's counting wrapper.
target_link_options(test_zstd PRIVATE -Wl,--wrap=malloc)

# End to end: the static library (for its test hook that stops it offering compression) against
# real sakhi-server processes.
if(TARGET sakhi_static AND TARGET sakhi-server)
  sakhi_add_test(test_zstd_sync
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_zstd_sync.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
endif()
