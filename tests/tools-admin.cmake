# tools-admin: integration tests of sakhi-admin. The test runs the real executable on a temp data
# directory and prepares the store (devices, pushed referrals) with the server's own store code.
if(TARGET sakhi-admin)
  sakhi_add_test(test_admin
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_admin.c
    LIBS sakhi_testsupport sakhi_server_core sakhi_toolkit
    LABELS integration
    TIMEOUT 120)
  add_dependencies(test_admin sakhi-admin)
endif()
