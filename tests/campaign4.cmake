# campaign4: issue 9's campaign 7, the full disk (docs/RELIABILITY.md): a real sakhi-server on a
# small tmpfs mounted in the test's own mount namespace (needs root; skipped otherwise, exit 77)
# refuses pushes retryably once the disk is full, keeps serving pulls without a busy loop, and
# accepts the refused batch once space is freed; nothing acknowledged is lost or doubled.
# Uses sakhi_campaign from campaign.cmake (read before this file: the areas are sorted).
if(NOT TARGET sakhi_campaign)
  return()
endif()
sakhi_campaign_test(test_campaign_fulldisk LABELS integration fault TIMEOUT 120)
set_tests_properties(test_campaign_fulldisk PROPERTIES SKIP_RETURN_CODE 77)
add_dependencies(test_campaign_fulldisk sakhi-server)
