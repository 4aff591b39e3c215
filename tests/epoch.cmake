# epoch: the store identity and epoch (docs/PROTOCOL.md section 5.6) - sakhi-admin restore and a
# copied data directory begin a new epoch, WELCOME carries it. Real server and admin processes.
if(TARGET sakhi-server AND TARGET sakhi-admin)
  sakhi_add_test(test_store_epoch
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_store_epoch.c
    LIBS sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 120)
  target_compile_definitions(test_store_epoch PRIVATE
    SAKHI_ADMIN_BIN="$<TARGET_FILE:sakhi-admin>")
  add_dependencies(test_store_epoch sakhi-admin)
endif()

# A restore end to end with libsakhi devices: everything acknowledged comes back exactly once.
if(TARGET sakhi AND TARGET sakhi-server AND TARGET sakhi-admin)
  sakhi_add_test(test_restore_gives_back
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_restore_gives_back.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 180)
  target_compile_definitions(test_restore_gives_back PRIVATE
    SAKHI_ADMIN_BIN="$<TARGET_FILE:sakhi-admin>")
  add_dependencies(test_restore_gives_back sakhi-admin)
endif()
