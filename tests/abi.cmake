# abi: libsakhi's binary interface against the committed dump of the last release
# (client-lib/abi/libsakhi.abi) with abidiff; fails on any change but an addition (see
# tests/install/abi-check.sh). Needs DWARF (RelWithDebInfo or Debug, the default build type); not
# under sanitizers or when cross-compiling (the dump is of the x86-64 build).
if(TARGET sakhi AND NOT SAKHI_SANITIZE AND NOT CMAKE_CROSSCOMPILING
   AND CMAKE_BUILD_TYPE MATCHES "^(RelWithDebInfo|Debug)$")
  add_test(NAME test_client_abi
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/install/abi-check.sh $<TARGET_FILE:sakhi>
            ${PROJECT_SOURCE_DIR}/client-lib/include/sakhi
            ${PROJECT_SOURCE_DIR}/client-lib/abi/libsakhi.abi
            ${PROJECT_SOURCE_DIR}/client-lib/abi/libsakhi.abignore)
  set_tests_properties(test_client_abi PROPERTIES LABELS unit TIMEOUT 120)
endif()
