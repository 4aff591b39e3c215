# admin_operator: who did it - sakhi-admin records the Unix account that runs it and refuses
# --as; the audit head signed with a key outside the data directory catches a chain rewritten
# consistently by someone with only the data directory. The real sakhi-admin on a temp centre.
if(TARGET sakhi-admin)
  sakhi_add_test(test_admin_operator
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_admin_operator.c
    LIBS sakhi_testsupport sakhi_server_core sakhi_toolkit
    LABELS integration
    TIMEOUT 120)
  add_dependencies(test_admin_operator sakhi-admin)
endif()
