# revocation: a revocation made by the real sakhi-admin in another process reaches the device's
# idle session within 1 second (docs/SECURITY.md "Revocation and disabling on live sessions").
if(TARGET sakhi-server AND TARGET sakhi-admin)
  sakhi_add_test(test_revoke_admin
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_revoke_admin.c
    LIBS sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
  target_compile_definitions(test_revoke_admin PRIVATE
    SAKHI_ADMIN_BIN="$<TARGET_FILE:sakhi-admin>")
  add_dependencies(test_revoke_admin sakhi-admin)
endif()
