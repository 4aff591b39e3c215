# campaign2: the parts of issue 9's campaigns 3 and 8 not in campaign.cmake (docs/RELIABILITY.md):
# campaign 3, the real `sakhi` CLI SIGKILLed at seeded moments of capture, follow-up and sync.
# The ThreadSanitizer half of campaign 8 is a script (scripts/tsan.sh, its own build
# directory), not a ctest test: it needs a whole -DSAKHI_SANITIZE=thread build.
# Uses sakhi_campaign from campaign.cmake (read before this file: the areas are sorted).
if(NOT TARGET sakhi_campaign OR NOT TARGET sakhi-cli OR NOT TARGET sakhi-admin)
  return()
endif()

foreach(v short long)
  if(v STREQUAL "short")
    set(n test_campaign_client_crash)
    set(lab integration fault)
    set(env CP_STRICT_CONFLICT=1)
    set(to 300)
  else()
    set(n test_campaign_client_crash_long)
    set(lab slow)
    set(env SAKHI_CAMPAIGN_LONG=1 CP_STRICT_CONFLICT=1)
    set(to 3600)
  endif()
  sakhi_add_test(${n}
    SOURCES ${SK_CP_DIR}/test_campaign_client_crash.c
    LIBS sakhi_campaign sakhi_testsupport sakhi_toolkit Threads::Threads
    LABELS ${lab} ENV ${env} TIMEOUT ${to})
  target_compile_definitions(${n} PRIVATE
    SAKHI_CLI_BIN="$<TARGET_FILE:sakhi-cli>"
    SAKHI_ADMIN_BIN="$<TARGET_FILE:sakhi-admin>")
  add_dependencies(${n} sakhi-cli sakhi-admin sakhi-server)
endforeach()

# Campaign 3, finding 1 (docs/RELIABILITY.md): untouched captures used to end as `conflict` on the
# device because the server acked MERGED for any change on an older base. Both runs now also fail
# on any record the device flags for review that the server does not (CP_STRICT_CONFLICT).
