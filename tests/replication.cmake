# replication: the store's replication log and its replay on a standby (docs/REPLICATION.md).

# An integration test of this area on the shared harness: NAME from integration/SRC.c, then
# sakhi_add_test's other arguments (LABELS, TIMEOUT, ENV).
function(sakhi_repl_test name src)
  sakhi_add_test(${name} SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/${src}.c
    LIBS sakhi_testsupport ${ARGN})
endfunction()

# The log and its replay: real LMDB stores in temp dirs, each with its own master key; no server
# process.
if(TARGET sakhi-server) # sakhi_testsupport is defined later (server.cmake)
  sakhi_repl_test(test_replication_log test_replication_log LABELS integration TIMEOUT 60)
endif()

# A standby and its promotion with real processes over TLS; synchronous mode through a proxy
# that is cut (sakhi-netem).
if(TARGET sakhi-server AND TARGET sakhi-admin AND TARGET sakhi-netem)
  function(sakhi_failover_test name)
    sakhi_repl_test(${name} test_replication_failover ${ARGN})
    target_link_libraries(${name} PRIVATE Threads::Threads)
    target_compile_definitions(${name} PRIVATE
      SAKHI_NETEM_BIN="$<TARGET_FILE:sakhi-netem>")
    add_dependencies(${name} sakhi-admin sakhi-netem)
  endfunction()
  sakhi_failover_test(test_replication_failover LABELS integration TIMEOUT 120)
  # The kill-the-primary campaign alone, long (docs/RELIABILITY.md): 100 rounds, not in CI.
  sakhi_failover_test(test_replication_failover_long
    LABELS slow ENV SAKHI_CAMPAIGN_LONG=1 TIMEOUT 1800)
endif()

if(TARGET sakhi-server AND TARGET sakhi-admin)
  # sakhi-admin on a standby's (and a demoted primary's) data directory: writes refused, reads
  # work.
  sakhi_repl_test(test_replication_standby_admin test_replication_standby_admin
    LABELS integration TIMEOUT 120)
  # libsakhi devices that follow a failover: every server of the centre with its own pin from
  # the enrollment URI, tried in order; never a push to a server that is not the primary.
  sakhi_repl_test(test_failover_devices test_failover_devices LABELS integration TIMEOUT 180)
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
