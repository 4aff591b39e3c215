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
  # The kill-the-primary campaign alone, long (docs/RELIABILITY.md): 100 rounds, not in CI.
  sakhi_add_test(test_replication_failover_long
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_replication_failover.c
    LIBS sakhi_testsupport Threads::Threads
    LABELS slow
    ENV SAKHI_CAMPAIGN_LONG=1
    TIMEOUT 1800)
  target_compile_definitions(test_replication_failover_long PRIVATE
    SAKHI_ADMIN_BIN="$<TARGET_FILE:sakhi-admin>" SAKHI_NETEM_BIN="$<TARGET_FILE:sakhi-netem>")
  add_dependencies(test_replication_failover_long sakhi-admin sakhi-netem)
endif()

# sakhi-admin on a standby's (and a demoted primary's) data directory: writes refused, reads work.
if(TARGET sakhi-server AND TARGET sakhi-admin)
  sakhi_add_test(test_replication_standby_admin
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_replication_standby_admin.c
    LIBS sakhi_testsupport
    LABELS integration
    TIMEOUT 120)
endif()

# libsakhi devices that follow a failover: every server of the centre with its own pin from the
# enrollment URI, tried in order; never a push to a server that is not the primary.
if(TARGET sakhi-server AND TARGET sakhi-admin)
  sakhi_add_test(test_failover_devices
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_failover_devices.c
    LIBS sakhi_testsupport
    LABELS integration
    TIMEOUT 180)
endif()

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
