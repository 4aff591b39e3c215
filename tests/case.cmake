# case: the referral case model (proto/sk_case.c) and the tools' JSON reader and sample loader
# (tools/common), including all 200 sample referrals passing validation.
if(TARGET sakhi_toolkit)
  sakhi_add_test(test_case
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_case.c
    LIBS sakhi_toolkit sakhi_proto
    LABELS unit
    TIMEOUT 60)
endif()
