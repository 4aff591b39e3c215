# fault: fault-injection infrastructure and the simulated power-loss campaign (docs/RELIABILITY.md).
# The iofault preload library interposes malloc and file I/O, which does not mix with the
# sanitizers' own interposition, so these targets are built only in plain builds.
if(NOT SAKHI_SANITIZE AND NOT CMAKE_CROSSCOMPILING)
  set(SK_FAULT_DIR ${CMAKE_CURRENT_LIST_DIR}/fault)

  # LD_PRELOAD library: RECORD, FAULT and MALLOC modes. Never linked into anything.
  add_library(sakhi_iofault MODULE ${SK_FAULT_DIR}/iofault.c)
  target_link_libraries(sakhi_iofault PRIVATE sakhi_warnings ${CMAKE_DL_LIBS} Threads::Threads)
  set_target_properties(sakhi_iofault PROPERTIES PREFIX "" OUTPUT_NAME "sk_iofault")

  # log reader and crash-image builder shared by the tools and tests
  add_library(sakhi_iolog STATIC ${SK_FAULT_DIR}/sk_iolog.c)
  target_include_directories(sakhi_iolog PUBLIC ${SK_FAULT_DIR})
  target_link_libraries(sakhi_iolog PRIVATE sakhi_warnings)

  add_executable(sk-crashimg ${SK_FAULT_DIR}/crashimg.c)
  target_link_libraries(sk-crashimg PRIVATE sakhi_iolog sakhi_warnings)
  add_executable(sk-powerloss ${SK_FAULT_DIR}/powerloss.c)
  target_link_libraries(sk-powerloss PRIVATE sakhi_iolog sakhi_warnings)
  add_executable(sk-fault-workload ${SK_FAULT_DIR}/workload.c)
  target_link_libraries(sk-fault-workload PRIVATE sakhi_iolog PkgConfig::LMDB sakhi_warnings)

  # crash-image model: exact images from hand-made logs
  sakhi_add_test(test_fault_iolog
    SOURCES ${SK_FAULT_DIR}/test_iolog.c
    LIBS sakhi_iolog
    LABELS fault
    TIMEOUT 30)

  # the preload library on the workload: record-log shape, EIO/ENOSPC sweeps, malloc sweeps
  sakhi_add_test(test_fault_inject
    SOURCES ${SK_FAULT_DIR}/test_inject.c
    LIBS sakhi_iolog
    LABELS fault
    TIMEOUT 300)
  target_compile_definitions(test_fault_inject PRIVATE
    SK_IOFAULT_LIB="$<TARGET_FILE:sakhi_iofault>"
    SK_WORKLOAD="$<TARGET_FILE:sk-fault-workload>")
  add_dependencies(test_fault_inject sakhi_iofault sk-fault-workload)

  # simulated power loss on the workload: sync mode must lose nothing, NOSYNC mode must lose
  set(SK_WL $<TARGET_FILE:sk-fault-workload>)
  set(SK_PL_ARGS --preload $<TARGET_FILE:sakhi_iofault>
    --init "${SK_WL} init {DIR}"
    --check "${SK_WL} check {IMG} {LOG} {CUT}")
  add_test(NAME test_fault_powerloss COMMAND sk-powerloss ${SK_PL_ARGS}
    --run "${SK_WL} run {DIR} 60" --images 200 --seed 1)
  add_test(NAME test_fault_powerloss_nosync COMMAND sk-powerloss ${SK_PL_ARGS}
    --run "${SK_WL} run {DIR} 60 nosync" --images 100 --seed 1 --expect-loss)
  add_test(NAME test_fault_powerloss_long COMMAND sk-powerloss ${SK_PL_ARGS}
    --run "${SK_WL} run {DIR} 300" --images 5000 --seed 7)
  set_tests_properties(test_fault_powerloss test_fault_powerloss_nosync PROPERTIES
    LABELS fault TIMEOUT 300)
  set_tests_properties(test_fault_powerloss_long PROPERTIES LABELS "fault;slow" TIMEOUT 3600)

  # Campaign 2 and the fault sweeps on the real server need the server test harness, which
  # tests/server.cmake defines after this file: defer to the end of the directory.
  cmake_language(DEFER CALL include ${SK_FAULT_DIR}/server_fault.cmake)
endif()
