# fault (server part): simulated power loss and I/O / allocation fault sweeps on sakhi-server.
# Included (deferred) from tests/fault.cmake once the server test harness exists.
if(NOT TARGET sakhi_testsupport OR NOT TARGET sakhi-server)
  return()
endif()
set(SK_FAULT_DIR ${CMAKE_CURRENT_LIST_DIR})

add_executable(sk-fault-srvload ${SK_FAULT_DIR}/srvload.c)
target_link_libraries(sk-fault-srvload PRIVATE sakhi_iolog sakhi_testsupport sakhi_warnings)
target_compile_definitions(sk-fault-srvload PRIVATE SAKHI_SERVER_BIN="$<TARGET_FILE:sakhi-server>")
add_dependencies(sk-fault-srvload sakhi-server)

set(SK_SL $<TARGET_FILE:sk-fault-srvload>)
# Both files the server's data depends on are recorded and imaged from the same cut: data.mdb
# and keys.db (per-record keys; a record opens only with its key). The master key is written once
# by init into the keys directory beside the data directory, where the check reads it.
set(SK_SPL_ARGS --preload $<TARGET_FILE:sakhi_iofault> --sockets --only sakhi-server
  --match data.mdb,keys.db
  --init "${SK_SL} init {DIR} {WORK}"
  --check "${SK_SL} check {IMG} {LOG} {CUT} {WORK}")
add_test(NAME test_fault_server_powerloss COMMAND sk-powerloss ${SK_SPL_ARGS}
  --run "${SK_SL} run {DIR} {WORK} 40" --images 200 --seed 1)
add_test(NAME test_fault_server_powerloss_long COMMAND sk-powerloss ${SK_SPL_ARGS}
  --run "${SK_SL} run {DIR} {WORK} 300" --images 3000 --seed 11)
set_tests_properties(test_fault_server_powerloss PROPERTIES LABELS fault TIMEOUT 600)
set_tests_properties(test_fault_server_powerloss_long PROPERTIES LABELS "fault;slow" TIMEOUT 7200)
# the same run on a disk that ignores flushes must lose acknowledged changes: the harness can fail
add_test(NAME test_fault_server_powerloss_liar COMMAND sk-powerloss ${SK_SPL_ARGS}
  --run "${SK_SL} run {DIR} {WORK} 40" --images 100 --seed 1 --ignore-sync --expect-loss)
set_tests_properties(test_fault_server_powerloss_liar PROPERTIES LABELS fault TIMEOUT 600)

# EIO/ENOSPC on write and fdatasync, and malloc failures, swept through a session on the server
sakhi_add_test(test_fault_server_inject
  SOURCES ${SK_FAULT_DIR}/test_server_faults.c
  LIBS sakhi_testsupport Threads::Threads
  LABELS fault
  TIMEOUT 900)
target_compile_definitions(test_fault_server_inject PRIVATE
  SK_IOFAULT_LIB="$<TARGET_FILE:sakhi_iofault>")
add_dependencies(test_fault_server_inject sakhi_iofault sakhi-server)
add_test(NAME test_fault_server_inject_long COMMAND test_fault_server_inject)
set_tests_properties(test_fault_server_inject_long PROPERTIES LABELS "fault;slow" TIMEOUT 7200
  ENVIRONMENT SK_FAULT_LONG=1)
