# zdict: the referral dictionary of SK_CAP_ZDICT (proto/sk_zstd.c, PROTOCOL.md section 10): the
# compiled-in bytes against the committed file, the gain on one referral, the wrapper's key 3
# and every disagreement between it and the zstd frame.
sakhi_add_test(test_zdict
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_zdict.c ${CMAKE_CURRENT_LIST_DIR}/unit/msg_fixtures.c
  LIBS sakhi_proto PkgConfig::ZSTD
  LABELS unit
  TIMEOUT 60)
target_compile_definitions(test_zdict PRIVATE
  SAKHI_ZDICT_FILE="${PROJECT_SOURCE_DIR}/proto/dict/referrals-1.zdict")
