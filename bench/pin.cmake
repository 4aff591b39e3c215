# pin: seconds per offline PIN guess against a store made with the default Argon2id calibration
# (docs/SECURITY.md, "PINs and the key provider"). Uses the library's internals (static build).
if(TARGET sakhi_static)
  add_executable(bench_pin bench_pin.c)
  target_link_libraries(bench_pin PRIVATE sakhi_static sakhi_strict)
  target_compile_definitions(bench_pin PRIVATE _DEFAULT_SOURCE _POSIX_C_SOURCE=200809L)
endif()
