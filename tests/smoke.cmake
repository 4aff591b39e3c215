# smoke: the first test, proving the harness builds, runs and can fail (frame codec round trip,
# error-code table). Owned by the foundation; other areas register their tests in their own file.
sakhi_add_test(test_smoke
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_smoke.c
  LIBS sakhi_proto
  LABELS unit
  TIMEOUT 30)
