# field: the field-conditions requirements end to end (docs/FIELD.md): months offline, unsent
# data kept through a killed sync and a server restored from an older backup, urgent first on
# 2G, the watchdog on a dead link, a batch across cuts, big caseloads. test_field runs the CI
# sizes; test_field_full the sizes quoted in docs/FIELD.md (SAKHI_FIELD_SCALE=10, label slow).
if(TARGET sakhi AND TARGET sakhi-server AND TARGET sakhi-netem)
  sakhi_add_test(test_field
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/field/test_field.c
    LIBS sakhi_static sakhi_testsupport Threads::Threads
    LABELS integration
    TIMEOUT 300)
  add_dependencies(test_field sakhi-netem)
  add_test(NAME test_field_full COMMAND test_field)
  set_tests_properties(test_field_full PROPERTIES LABELS slow TIMEOUT 3600
                       ENVIRONMENT "SAKHI_FIELD_SCALE=10")
endif()
