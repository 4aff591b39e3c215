# zdict: the trainer of the referral dictionary (SK_CAP_ZDICT) and its measurement, run by
# scripts/make-zdict.sh (bench_zdict --train / --measure); not run by ctest.
if(NOT TARGET sakhi_toolkit)
  return()
endif()
add_executable(zdict_train ${CMAKE_CURRENT_LIST_DIR}/zdict_train.c)
target_link_libraries(zdict_train PRIVATE sakhi_toolkit sakhi_proto PkgConfig::ZSTD sakhi_warnings)
