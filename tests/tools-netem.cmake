# tools-netem: integration tests for sakhi-netem (the lossy-link proxy) and sakhi-dump (the frame
# decoder). They run the real executables, so they are built first.
if(TARGET sakhi-netem)
  sakhi_add_test(test_netem
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_netem.c
    LIBS sakhi_toolkit Threads::Threads
    LABELS integration
    TIMEOUT 120)
  add_dependencies(test_netem sakhi-netem)
endif()
if(TARGET sakhi-dump AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/integration/test_dump.c)
  sakhi_add_test(test_dump
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_dump.c
    LIBS sakhi_toolkit
    LABELS integration
    TIMEOUT 60)
  add_dependencies(test_dump sakhi-dump)
endif()
