# case: the referral case model (proto/sk_case.c) and the tools' JSON reader and sample loader
# (tools/common), including all 200 sample referrals passing validation. With the tools switched
# off (SAKHI_BUILD_TOOLS=OFF) the helpers are compiled into the test, so the model stays tested.
if(TARGET sakhi_toolkit)
  set(SAKHI_CASE_TEST_LIBS sakhi_toolkit sakhi_proto)
  set(SAKHI_CASE_TEST_EXTRA "")
else()
  set(SAKHI_CASE_TEST_LIBS sakhi_proto m)
  set(SAKHI_CASE_TEST_EXTRA ${PROJECT_SOURCE_DIR}/tools/common/sk_json.c
                            ${PROJECT_SOURCE_DIR}/tools/common/sk_sample.c)
endif()
sakhi_add_test(test_case
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_case.c ${SAKHI_CASE_TEST_EXTRA}
  LIBS ${SAKHI_CASE_TEST_LIBS}
  LABELS unit
  TIMEOUT 60)
if(NOT TARGET sakhi_toolkit)
  target_include_directories(test_case PRIVATE ${PROJECT_SOURCE_DIR}/tools/common)
endif()
