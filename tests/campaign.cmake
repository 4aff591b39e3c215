# campaign: the reliability campaigns of issue 9 that run whole programs (docs/RELIABILITY.md):
# server crashes under load, client crashes, link faults through sakhi-netem, exhaustion, and
# the Valgrind script. Each has a bounded form for CI; SAKHI_CAMPAIGN_LONG=1 selects the long
# form of the same test (those registered separately carry the `slow` label).
# sakhi_testsupport is defined in server.cmake; target names are resolved at generation time,
# so this file may be read before it.
if(NOT TARGET sakhi-server)
  return()
endif()
set(SK_CP_DIR ${CMAKE_CURRENT_LIST_DIR}/campaign)

add_library(sakhi_campaign STATIC ${SK_CP_DIR}/cp_check.c)
target_include_directories(sakhi_campaign PUBLIC ${SK_CP_DIR})
target_link_libraries(sakhi_campaign PUBLIC sakhi_server_core sakhi_proto PRIVATE sakhi_warnings)

function(sakhi_campaign_test name)
  cmake_parse_arguments(C "" "TIMEOUT" "LABELS;LIBS;ENV" ${ARGN})
  sakhi_add_test(${name}
    SOURCES ${SK_CP_DIR}/${name}.c
    LIBS sakhi_campaign sakhi_testsupport Threads::Threads ${C_LIBS}
    LABELS ${C_LABELS}
    ENV ${C_ENV}
    TIMEOUT ${C_TIMEOUT})
  target_compile_definitions(${name} PRIVATE
    SAKHI_SERVER_BIN_PATH="$<TARGET_FILE:sakhi-server>")
endfunction()

# Campaign 1: SIGKILL the server at seeded random moments while devices push and pull.
sakhi_campaign_test(test_campaign_server_crash LABELS integration fault TIMEOUT 300)
sakhi_add_test(test_campaign_server_crash_long
  SOURCES ${SK_CP_DIR}/test_campaign_server_crash.c
  LIBS sakhi_campaign sakhi_testsupport Threads::Threads
  LABELS slow ENV SAKHI_CAMPAIGN_LONG=1 TIMEOUT 3600)

# Campaign 4: link faults through sakhi-netem and a one-byte-per-write proxy, and the soak.
if(TARGET sakhi AND TARGET sakhi-netem)
  foreach(v short long)
    if(v STREQUAL "short")
      set(n test_campaign_link)
      set(lab integration fault)
      set(env "")
      set(to 400)
    else()
      set(n test_campaign_link_long)
      set(lab slow)
      set(env SAKHI_CAMPAIGN_LONG=1)
      set(to 7200)
    endif()
    sakhi_add_test(${n}
      SOURCES ${SK_CP_DIR}/test_campaign_link.c
      LIBS sakhi_static sakhi_campaign sakhi_testsupport Threads::Threads
      LABELS ${lab} ENV ${env} TIMEOUT ${to})
    target_compile_definitions(${n} PRIVATE SAKHI_NETEM_BIN="$<TARGET_FILE:sakhi-netem>")
    add_dependencies(${n} sakhi-netem sakhi-server)
  endforeach()
endif()

# Campaign 7 (part): idle connections, slowloris, a frame flood, EMFILE.
sakhi_campaign_test(test_campaign_exhaustion LABELS integration fault TIMEOUT 300)
sakhi_add_test(test_campaign_exhaustion_long
  SOURCES ${SK_CP_DIR}/test_campaign_exhaustion.c
  LIBS sakhi_campaign sakhi_testsupport Threads::Threads
  LABELS slow ENV SAKHI_CAMPAIGN_LONG=1 TIMEOUT 1200)

# Campaign 8: unit tests and the server round trips under Valgrind memcheck (minutes: slow).
if(NOT SAKHI_SANITIZE)
  add_test(NAME test_campaign_valgrind
    COMMAND sh ${SK_CP_DIR}/valgrind.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(test_campaign_valgrind PROPERTIES LABELS slow TIMEOUT 3600
                       SKIP_RETURN_CODE 77)
endif()
