# replication: the store's replication log and its replay on a standby (docs/REPLICATION.md).
# (Its tests of the log, the standby and failover are in integration/CMakeLists.txt.)

# The device's list of the centre's servers in its store: an older identity migrated, a damaged
# list refused (the static library, for its internal header).
if(TARGET sakhi_static)
  sakhi_add_test(test_client_servers
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_client_servers.c
            ${CMAKE_CURRENT_LIST_DIR}/support/sk_proc.c
    LIBS sakhi_static
    LABELS unit
    TIMEOUT 60)
  target_compile_definitions(test_client_servers PRIVATE _DEFAULT_SOURCE)
endif()
