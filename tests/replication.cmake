# replication: the store's replication log and its replay on a standby (docs/REPLICATION.md).
# Real LMDB stores in temp dirs, each with its own master key; no server process.
if(TARGET sakhi-server) # sakhi_testsupport is defined later (server.cmake)
  sakhi_add_test(test_replication_log
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_replication_log.c
    LIBS sakhi_testsupport
    LABELS integration
    TIMEOUT 60)
endif()

# A standby and its promotion with real processes over TLS; synchronous mode through a proxy
# that is cut (sakhi-netem).
if(TARGET sakhi-server AND TARGET sakhi-admin AND TARGET sakhi-netem)
  sakhi_add_test(test_replication_failover
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_replication_failover.c
    LIBS sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
  target_compile_definitions(test_replication_failover PRIVATE
    SAKHI_ADMIN_BIN="$<TARGET_FILE:sakhi-admin>" SAKHI_NETEM_BIN="$<TARGET_FILE:sakhi-netem>")
  add_dependencies(test_replication_failover sakhi-admin sakhi-netem)
endif()

# sakhi-admin on a standby's (and a demoted primary's) data directory: writes refused, reads work.
if(TARGET sakhi-server AND TARGET sakhi-admin)
  sakhi_add_test(test_replication_standby_admin
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_replication_standby_admin.c
    LIBS sakhi_testsupport
    LABELS integration
    TIMEOUT 120)
endif()
